// WebGPU dense kernels: matrix product with optional transposed operands, row bias and column sums,
// with the semantics of the Backend methods (row-major, outputs overwritten, zero-sized dimensions
// allowed). The two products of a fully connected layer's forward and input gradient, a @ b^T and
// a @ b, run on the convolutions' implicit-GEMM core (conv2d.wgsl in DENSE mode: a 1x1 convolution
// whose row is the batch, channels-last) when the batch is large enough to fill its workgroups
// (see switches.linearOnGemmCore); smaller products stay on shaders/matmul.wgsl. a^T @ b (the weight gradient)
// keeps shaders/matmul.wgsl, a tiled product with transposed operands.
import type { ConvGeom, MatmulGeom, RowsGeom } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { CONV_WG, defaultGemmBlocking, implicitGemm, requireLength } from './conv.js';
import { switches } from '../../switches.js';

const ELEMENTWISE_WG = 256;

function requireCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new GpuError(`${op}: ${name} ${v} must be a non-negative integer`);
}

/** out[M, N] = op(a)[M, K] @ op(b)[K, N] */
export function matmul(rt: GpuRuntime, a: GpuStorage, b: GpuStorage, out: GpuStorage, g: MatmulGeom): void {
  const op = 'matmul';
  for (const k of ['M', 'N', 'K'] as const) requireCount(op, k, g[k]);
  requireLength(op, 'a', a, g.M * g.K);
  requireLength(op, 'b', b, g.K * g.N);
  requireLength(op, 'out', out, g.M * g.N);
  if (g.M === 0 || g.N === 0) return;
  if (!g.transA && g.K > 0) {
    // out[M, N] = a[M, K] @ b^T (b [N, K]: a conv forward with Cin = K, Cout = N) or a @ b (b [K, N]:
    // the input gradient of one with Cout = K, Cin = N), over a row of M columns
    const [cin, cout] = g.transB ? [g.K, g.N] : [g.N, g.K];
    const cg: ConvGeom = { N: 1, Cin: cin, H: 1, W: g.M, Cout: cout, KH: 1, KW: 1, OH: 1, OW: g.M,
      strideH: 1, strideW: 1, padH: 0, padW: 0, dilH: 1, dilW: 1, groups: 1 };
    const backwardData = !g.transB;
    const blocking = defaultGemmBlocking(cg, backwardData);
    if (switches.linearOnGemmCore ?? Math.ceil(g.M / (4 * blocking.cv)) >= CONV_WG) {
      implicitGemm(rt, blocking, a, b, null, out, cg, backwardData, null, false, true);
      return;
    }
  }
  const gx = Math.ceil(g.N / 32), gy = Math.ceil(g.M / 32);
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (gx > maxPerDim || gy > maxPerDim) {
    throw new GpuError(`${op}: ${g.M}x${g.N} output needs a ${gx}x${gy} workgroup grid, over ${maxPerDim}`);
  }
  rt.dispatch({
    shader: 'matmul', bindings: [a, b, out],
    params: { u: [g.M, g.N, g.K] }, constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0 },
    workgroups: [gx, gy, 1],
  });
}

/** out[r, c] = x[r, c] + b[c] */
export function addRowBias(rt: GpuRuntime, x: GpuStorage, b: GpuStorage, out: GpuStorage, g: RowsGeom): void {
  const op = 'addRowBias';
  requireCount(op, 'rows', g.rows);
  requireCount(op, 'cols', g.cols);
  const n = g.rows * g.cols;
  requireLength(op, 'x', x, n);
  requireLength(op, 'b', b, g.cols);
  requireLength(op, 'out', out, n);
  if (n === 0) return;
  rt.dispatch1D({
    shader: 'matmul_row_bias', bindings: [x, b, out], threads: n, workgroupSize: ELEMENTWISE_WG,
    params: { u: [g.rows, g.cols] },
  });
}

/** out[c] = sum over rows of x[r, c] */
export function columnSum(rt: GpuRuntime, x: GpuStorage, out: GpuStorage, g: RowsGeom): void {
  const op = 'columnSum';
  requireCount(op, 'rows', g.rows);
  requireCount(op, 'cols', g.cols);
  requireLength(op, 'x', x, g.rows * g.cols);
  requireLength(op, 'out', out, g.cols);
  if (g.cols === 0) return;
  rt.dispatch1D({
    shader: 'matmul_column_sum', bindings: [x, out], threads: g.cols, workgroupSize: ELEMENTWISE_WG,
    params: { u: [g.rows, g.cols] },
  });
}
