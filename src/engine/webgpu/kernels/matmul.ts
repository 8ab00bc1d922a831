// WebGPU dense kernels (shaders/matmul*.wgsl): matrix product with optional transposed operands,
// row bias and column sums, with the semantics of the Backend methods (row-major, outputs
// overwritten, zero-sized dimensions allowed).
import type { MatmulGeom, RowsGeom } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { requireLength } from './conv.js';

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
