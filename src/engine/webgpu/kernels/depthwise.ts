// Depthwise convolutions (groups = Cin = Cout: one filter per channel) on shaders/conv2d_depthwise.wgsl:
// the separable and dilated convolutions of the DARTS space, the inverted-residual blocks of the
// MobileNet space. Any stride, padding and dilation whose strip span fits the shader's private arrays;
// other grouped convolutions (and depthwise ones with wider spans) stay on the implicit-GEMM kernels
// of conv.ts. The WebGPU backend asks `depthwiseApplies` and routes here.
//
// The weight gradient splits each channel's N*OH*ceil(OW/4) strips into `splits` contiguous ranges,
// one workgroup per (split, channel), and sums the splits' partials in order in a second pass
// (kernels/split-sum.ts, merged with the other passes of a backward): deterministic, no atomics.
import type { ConvGeom } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { auxStorage, checkConvForward, checkConvInputGrad, checkConvWeightGrad } from './conv.js';
import { splitSum } from './split-sum.js';
import { switches } from '../../switches.js';

/** The shader's private-array bounds (MAX_SPAN, MAX_TAPS, MAX_RING). */
const MAX_SPAN = 32;
const MAX_TAPS = 49;
const MAX_RING = 16;
/** Invocations per workgroup (a power of two: the weight gradient's tree reduction). */
const DEPTHWISE_WG = 64;
/** Output rows per stride-1 weight-gradient item (the shader's BAND). */
const WGRAD_BAND = 8;
/** Items (strips of one row, or of a band at stride 1) per weight-gradient lane at least: with fewer the
 *  tree reduction costs more than the sums. */
const MIN_ITEMS_PER_LANE = 4;
/** Weight-gradient workgroups to aim for: a CPU rasteriser runs a few per thread, a GPU wants many. */
const WGRAD_TARGET_GROUPS_CPU = 64;
const WGRAD_TARGET_GROUPS_GPU = 1024;

/** Whether a (checked) geometry is a depthwise convolution this kernel serves, and the module switch is on. */
export function depthwiseApplies(g: ConvGeom): boolean {
  return switches.depthwiseKernels && depthwiseGeometry(g);
}

/** Whether a (checked) geometry is a depthwise convolution whose window fits the shader's arrays. */
function depthwiseGeometry(g: ConvGeom): boolean {
  if (g.groups !== g.Cin || g.Cout !== g.Cin || g.groups === 1) return false;
  const spanIn = 3 * g.strideW + (g.KW - 1) * g.dilW + 1;
  const spanDy = 4 + (g.KW - 1) * g.dilW;
  const ringOk = g.strideH !== 1 || g.strideW !== 1 || (g.KH - 1) * g.dilH + 1 <= MAX_RING;
  return g.KH * g.KW <= MAX_TAPS && spanIn <= MAX_SPAN && spanDy <= MAX_SPAN && ringOk;
}

function constants(g: ConvGeom): Record<string, number> {
  return {
    KH: g.KH, KW: g.KW, SH: g.strideH, SW: g.strideW, PH: g.padH, PW: g.padW, DH: g.dilH, DW: g.dilW,
    RELU_IN: g.reluInput ? 1 : 0, WG: DEPTHWISE_WG,
  };
}

function params(g: ConvGeom, accumulate: boolean, splits: number): { u: number[]; i: number[] } {
  return { u: [g.N * g.Cin, g.Cin, g.N, accumulate ? 1 : 0, splits], i: [g.H, g.W, g.OH, g.OW] };
}

/** Throws unless this kernel serves g (the callers check g itself first). */
function checkDepthwise(op: string, g: ConvGeom): void {
  if (!depthwiseGeometry(g)) {
    throw new GpuError(`${op}: [${g.Cout}, ${g.Cin / g.groups}, ${g.KH}, ${g.KW}] with groups ${g.groups}, stride ` +
      `${g.strideW}, dilation ${g.dilW} is not a depthwise convolution this kernel serves`);
  }
}

/** y = depthwise conv(x, w) + bias (max(x, 0) read when g.reluInput). */
export function depthwiseConv2d(rt: GpuRuntime, x: GpuStorage, w: GpuStorage, bias: GpuStorage | null, y: GpuStorage,
  g: ConvGeom): void {
  const op = 'conv2d (depthwise)';
  checkConvForward(op, x, w, bias, y, g);
  checkDepthwise(op, g);
  rt.dispatch({
    shader: 'conv2d_depthwise', entry: 'forward', readOnly: 3,
    bindings: [x, w, bias ?? auxStorage(rt, 'zeros', g.Cout), y],
    params: params(g, false, 1), constants: constants(g),
    workgroups: rt.strideGrid(g.N * g.Cin * Math.ceil(g.OW / 4), DEPTHWISE_WG),
  });
}

/** dx (+)= the input gradient of a depthwise conv, masked by x > 0 when g.reluInput. */
export function depthwiseInputGrad(rt: GpuRuntime, dy: GpuStorage, w: GpuStorage, dx: GpuStorage, g: ConvGeom,
  x: GpuStorage | null, accumulate: boolean): void {
  const op = 'conv2dInputGrad (depthwise)';
  checkConvInputGrad(op, dy, w, dx, g, x);
  checkDepthwise(op, g);
  rt.dispatch({
    shader: 'conv2d_depthwise', entry: 'input_grad', readOnly: 3,
    bindings: [dy, w, g.reluInput ? x! : auxStorage(rt, 'zeros', 1), dx],
    params: params(g, accumulate, 1), constants: constants(g),
    workgroups: rt.strideGrid(g.N * g.Cin * Math.ceil(g.W / 4), DEPTHWISE_WG),
  });
}

/** Split count of the weight gradient: enough workgroups for the device, ≥ MIN_ITEMS_PER_LANE items
 *  per lane, and no empty split. */
export function depthwiseWeightGradSplits(rt: GpuRuntime, g: ConvGeom): number {
  // the shader's items: (n, output row, strip), or at stride 1 (n, band of WGRAD_BAND rows, strip)
  const rowsPerItem = g.strideH === 1 && g.strideW === 1 ? WGRAD_BAND : 1;
  const items = g.N * Math.ceil(g.OH / rowsPerItem) * Math.ceil(g.OW / 4);
  const forced = switches.depthwiseWeightGradSplits;
  const target = rt.software ? WGRAD_TARGET_GROUPS_CPU : WGRAD_TARGET_GROUPS_GPU;
  let splits = forced ?? Math.max(1, Math.min(Math.ceil(target / g.Cin), Math.floor(items / (DEPTHWISE_WG * MIN_ITEMS_PER_LANE))));
  splits = Math.min(Math.max(1, splits), items);
  return Math.ceil(items / Math.ceil(items / splits));
}

/** dw = the weight gradient of a depthwise conv (reads max(x, 0) when g.reluInput). */
export function depthwiseWeightGrad(rt: GpuRuntime, dy: GpuStorage, x: GpuStorage, dw: GpuStorage, g: ConvGeom): void {
  const op = 'conv2dWeightGrad (depthwise)';
  checkConvWeightGrad(op, dy, x, dw, g);
  checkDepthwise(op, g);
  const splits = depthwiseWeightGradSplits(rt, g);
  const dwSize = g.Cout * g.KH * g.KW;
  const part = splits > 1 ? rt.alloc(splits * dwSize) : dw;
  rt.dispatch({
    shader: 'conv2d_depthwise', entry: 'weight_grad', readOnly: 3,
    bindings: [dy, x, auxStorage(rt, 'zeros', 1), part],
    params: params(g, false, splits), constants: constants(g),
    workgroups: [splits, g.Cin, 1],
  });
  if (splits > 1) splitSum(rt, part, dw, dwSize, splits); // the in-order sum of the splits (merged, held back)
}
