// WebGPU convolution kernels (shaders/conv2d.wgsl, conv2d_weight_grad*.wgsl, conv_channel_sum.wgsl): forward, input
// gradient, weight gradient and the per-channel sum (bias gradient). Same semantics as the Backend
// methods in ../../backend.ts: NCHW, weights [Cout, Cin/groups, KH, KW], outputs overwritten.
//
// Design (measured on lavapipe, where per-lane loads dominate; see the shader headers):
//   - forward and input gradient are one implicit-GEMM shader (override BACKWARD_DATA): each
//     invocation computes 4 output columns x TC output channels from one shared input window;
//   - the weight gradient is split-K over the N*OH output rows with a second, deterministic pass
//     that adds the splits in order (no float atomics);
//   - with the `subgroups` feature (and subgroups of >= 8 lanes) operands that every lane of a
//     workgroup needs are loaded once per subgroup and broadcast, which is ~4x faster on lavapipe;
//     conv2d.wgsl and conv2d_weight_grad.wgsl compile both ways from one source (`//#if SUBGROUPS`,
//     kernels/shader-variants.ts), the portable flavour as the fallback.
// The kernel window (size, stride, padding, dilation) and the register blocking are override
// constants, so the tap loops unroll and windows and accumulators stay in registers; tensor sizes
// are uniform parameters, so one pipeline serves every layer with the same window. That matters on
// lavapipe, where compiling one of these pipelines takes 0.1-0.6 s (cached on disk afterwards).
// Stride-1 launches whose output grid is their input's are held back for a partner: a 1x1
// convolution over the same input (or into the same dx) then runs in the same launch (the PAIR
// variants; kernels/conv-pair.ts holds and pairs, the "pairs" section below builds the launches).
// The implicit-GEMM blocking (TC x CV) and the weight gradient's split count follow rules measured on
// lavapipe; with the device's autotuner (../autotune.ts) each (shape, adapter) gets the fastest of a
// few variants instead — same sums, different work split.
import type { ChannelGeom, ConvGeom } from '../../backend.js';
import { convOutSize } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { shaderVariant } from './shader-variants.js';
import { splitSum } from './split-sum.js';
import { launchPairable, type PairableLaunch } from './conv-pair.js';
import type { Autotuner, TuneBench, TuneVariant } from '../autotune.js';
import { switches } from '../../switches.js';

/** Invocations per workgroup of the implicit-GEMM conv kernel. */
export const CONV_WG = 64;
/** Accumulator registers per weight-gradient invocation (the shaders' MAX_ACC). */
const MAX_ACC = 64;
/** Weight-gradient invocations to aim for when choosing the number of splits: a CPU rasteriser
 *  (lavapipe: 4096 measured best, less partial traffic) needs far fewer than a GPU. */
const DW_TARGET_THREADS_CPU = 4096;
const DW_TARGET_THREADS_GPU = 65536;
/** Cap on the split-K partial buffer, in floats (16 MiB). */
const DW_MAX_PARTIAL = 1 << 22;
/** Workgroup size of the per-channel reductions on GPUs (see switches.channelReduceWorkgroup). */
export const REDUCE_WG = 256;

/** Multiply-adds of one convolution (forward, input gradient and weight gradient alike). */
export function convMacs(g: ConvGeom): number {
  return g.N * g.Cout * g.OH * g.OW * (g.Cin / g.groups) * g.KH * g.KW;
}

// ---- shared helpers (also used by the pool / batchnorm / matmul kernels) ------------------------

/** Workgroup size of a per-channel reduction on this device (see switches.channelReduceWorkgroup). */
export function channelReduceWorkgroup(rt: GpuRuntime): number {
  return switches.channelReduceWorkgroup ?? (rt.software ? 64 : REDUCE_WG);
}

/** Throw a GpuError naming the op and argument unless s holds at least n values. */
export function requireLength(op: string, name: string, s: GpuStorage, n: number): void {
  if (!s || typeof s.length !== 'number') throw new GpuError(`${op}: ${name} is not a storage`);
  if (s.length < n) throw new GpuError(`${op}: ${name} holds ${s.length} values, needs ${n}`);
}

/** Throw unless every named field of g is a positive integer. */
export function requirePositive(op: string, g: object, names: string[]): void {
  const rec = g as Record<string, unknown>;
  for (const k of names) {
    const v = rec[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new GpuError(`${op}: ${k} ${String(v)} must be a positive integer`);
    }
  }
}

/** Whether subgroup broadcasts from lanes 0..7 are available (feature on, subgroups >= 8 lanes). */
export function useSubgroups(rt: GpuRuntime): boolean {
  if (!switches.subgroups || !rt.hasSubgroups) return false;
  const info = (rt.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const minSize = info?.subgroupMinSize;
  return typeof minSize === 'number' && minSize >= 8;
}

/** Workgroup grid for `groups` workgroups along x, folded into x*y beyond the per-dimension limit. */
export function foldGrid(rt: GpuRuntime, groups: number, z = 1): [number, number, number] {
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (z > maxPerDim) throw new GpuError(`workgroup grid z = ${z} exceeds ${maxPerDim}`);
  if (groups <= maxPerDim) return [groups, 1, z];
  const gy = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / gy), gy, z];
}

/** Largest entry of `options` (descending) that divides n, else 1. */
function largestDivisor(n: number, options: number[]): number {
  for (const c of options) if (n % c === 0) return c;
  return 1;
}

/** Per-runtime helper storages, grown on demand and never released (a few floats per channel):
 *  'ones' / 'zeros' stand in for a missing gamma / beta / bias; 'scratchA' / 'scratchB' for optional
 *  outputs the caller does not want (the shader is told not to write them; two, because one
 *  dispatch may not bind a buffer twice). Fixed binding layouts keep one pipeline per shader. */
export type AuxKind = 'ones' | 'zeros' | 'scratchA' | 'scratchB';
const aux = new WeakMap<GpuRuntime, Map<AuxKind, GpuStorage>>();

export function auxStorage(rt: GpuRuntime, kind: AuxKind, n: number): GpuStorage {
  let byKind = aux.get(rt);
  if (!byKind) aux.set(rt, (byKind = new Map()));
  const have = byKind.get(kind);
  if (have && have.length >= n) return have;
  // a power of two, so a model with several channel counts allocates only a few times; releasing
  // the old storage is safe with work still pending on it (the pool keeps dispatch order)
  const size = Math.max(64, 2 ** Math.ceil(Math.log2(n)));
  const s = kind === 'ones' ? rt.upload(new Float32Array(size).fill(1))
    : kind === 'zeros' ? rt.upload(new Float32Array(size)) : rt.alloc(size);
  if (have) rt.release(have);
  byKind.set(kind, s);
  return s;
}

// ---- convolution ----------------------------------------------------------------------------

function checkConvGeom(op: string, g: ConvGeom): void {
  requirePositive(op, g, ['N', 'Cin', 'H', 'W', 'Cout', 'KH', 'KW', 'OH', 'OW', 'strideH', 'strideW',
    'dilH', 'dilW', 'groups']);
  if (!(Number.isInteger(g.padH) && g.padH >= 0 && Number.isInteger(g.padW) && g.padW >= 0)) {
    throw new GpuError(`${op}: padding ${g.padH}x${g.padW} must be non-negative integers`);
  }
  if (g.Cin % g.groups !== 0 || g.Cout % g.groups !== 0) {
    throw new GpuError(`${op}: groups ${g.groups} must divide Cin ${g.Cin} and Cout ${g.Cout}`);
  }
  const OH = convOutSize(g.H, g.KH, g.strideH, g.padH, g.dilH);
  const OW = convOutSize(g.W, g.KW, g.strideW, g.padW, g.dilW);
  if (OH !== g.OH || OW !== g.OW) {
    throw new GpuError(`${op}: output ${g.OH}x${g.OW} does not match input ${g.H}x${g.W} and kernel ` +
      `geometry (expected ${OH}x${OW})`);
  }
}

/** Override constants of the conv shaders: the kernel window (its loops unroll). */
function windowConstants(g: ConvGeom): Record<string, number> {
  return { KH: g.KH, KW: g.KW, SH: g.strideH, SW: g.strideW, PH: g.padH, PW: g.padW, DH: g.dilH, DW: g.dilW };
}

/** vec4 column groups per invocation of the implicit-GEMM kernel (override CV): 8 output columns
 *  (measured ~20% faster than 4 on lavapipe at every NB201 stage) unless the row is narrower. */
export function convColumnGroups(outW: number): number {
  return switches.convColumnGroups ?? (outW > 4 ? 2 : 1);
}

/** Register blocking of the implicit-GEMM kernel: output channels (TC) x vec4 column groups (CV)
 *  per invocation. */
export interface GemmBlocking { tc: number; cv: number }

/** Sizes of the tensor the implicit-GEMM kernel writes: y (forward) or dx (input gradient). */
function gemmOutput(g: ConvGeom, backwardData: boolean): { outC: number; outH: number; outW: number } {
  return backwardData ? { outC: g.Cin, outH: g.H, outW: g.W } : { outC: g.Cout, outH: g.OH, outW: g.OW };
}

/** The rule's blocking: the most output channels per invocation that divide the group's — up to 16
 *  for 1x1 windows, 8 otherwise — and convColumnGroups. Measured on lavapipe at the NB201 stages
 *  (autotune bench): 16 channels × 8 columns is 20-35 % faster than 8 × 8 for 1x1 convolutions,
 *  and within noise (either way) for 3x3 ones, where 8 x 8 keeps fewer accumulators live. */
export function defaultGemmBlocking(g: ConvGeom, backwardData: boolean): GemmBlocking {
  const { outC, outW } = gemmOutput(g, backwardData);
  const widest = g.KH * g.KW === 1 ? [16, 8, 4, 2, 1] : [8, 4, 2, 1];
  return { tc: largestDivisor(outC / g.groups, widest), cv: convColumnGroups(outW) };
}

/** Autotuning variants of the implicit-GEMM kernel, the rule's first: TC among 16, 8, 4, 2 where it
 *  divides the group's output channels (1 when none does), CV 1 or 2 (2 only for rows wider than 4). */
export function gemmVariants(g: ConvGeom, backwardData: boolean): TuneVariant<GemmBlocking>[] {
  const { outC, outW } = gemmOutput(g, backwardData);
  const first = defaultGemmBlocking(g, backwardData);
  const tcs = [16, 8, 4, 2].filter((t) => (outC / g.groups) % t === 0);
  const out: TuneVariant<GemmBlocking>[] = [];
  for (const tc of tcs.length ? tcs : [1]) {
    for (const cv of outW > 4 ? [1, 2] : [1]) {
      if (tc !== first.tc || cv !== first.cv) out.push({ name: `tc${tc}-cv${cv}`, params: { tc, cv } });
    }
  }
  return [{ name: `tc${first.tc}-cv${first.cv}`, params: first }, ...out];
}

/** The part of an autotuning key a conv geometry contributes: every field a variant's speed depends
 *  on, and which shader (subgroup or portable) runs it. */
export function convShapeKey(rt: GpuRuntime, g: ConvGeom): string {
  return `n${g.N} ci${g.Cin} ${g.H}x${g.W} co${g.Cout} k${g.KH}x${g.KW} s${g.strideH}x${g.strideW} ` +
    `p${g.padH}x${g.padW} d${g.dilH}x${g.dilW} g${g.groups}${g.reluInput ? ' relu' : ''}${useSubgroups(rt) ? ' sg' : ''}`;
}

/** n values in [-1, 1) from a fixed linear congruential stream (tuning inputs: any data times alike). */
function scratchValues(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Scratch tensors for a tuning bench, released together. */
function scratch(rt: GpuRuntime, sizes: number[]): { bufs: GpuStorage[]; dispose: () => void } {
  const bufs = sizes.map((n, i) => rt.upload(scratchValues(n, i + 1)));
  return { bufs, dispose: () => { for (const b of bufs) rt.release(b); } };
}

/** The blocking a forward or input-gradient dispatch uses: forced by switches.convColumnGroups (tests
 *  and benchmarks), else the tuner's choice for this shape, else the rule's. */
function gemmBlocking(rt: GpuRuntime, tuner: Autotuner | null, g: ConvGeom, backwardData: boolean): GemmBlocking {
  const defaults = defaultGemmBlocking(g, backwardData);
  if (!tuner?.enabled || switches.convColumnGroups !== undefined) return defaults;
  return tuner.pick(backwardData ? 'conv-dgrad' : 'conv-fwd', convShapeKey(rt, g), defaults,
    () => (convMacs(g) < switches.minTuneMacs ? [{ name: 'rule', params: defaults }] : gemmVariants(g, backwardData)),
    () => gemmBench(rt, { ...g }, backwardData));
}

/** Scratch operands of one forward or input-gradient shape, run with a given blocking. */
function gemmBench(rt: GpuRuntime, g: ConvGeom, backwardData: boolean): TuneBench<GemmBlocking> {
  const xSize = g.N * g.Cin * g.H * g.W, ySize = g.N * g.Cout * g.OH * g.OW;
  const wSize = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  if (!backwardData) {
    const s = scratch(rt, [xSize, wSize, ySize]);
    const [x, w, y] = s.bufs;
    return { run: (b) => implicitGemm(rt, b, x, w, null, y, g, false), dispose: s.dispose };
  }
  const s = scratch(rt, [ySize, wSize, xSize, xSize]);
  const [dy, w, dx, xmask] = s.bufs;
  return { run: (b) => implicitGemm(rt, b, dy, w, null, dx, g, true, g.reluInput ? xmask : null), dispose: s.dispose };
}

/** Whether the implicit-GEMM kernel reads its window rows as aligned vec4s (override VEC_WINDOW):
 *  stride 1, no dilation, a "same" window (KW = 2*PW + 1, at most 9 wide: the shared window fits)
 *  along rows whose width (the tensor read: x forward, dy backward) is a multiple of 4.
 *  switches.vecWindow = false turns it off (benchmarks' baseline). */
export function vecWindow(g: ConvGeom, backwardData: boolean, cv: number): boolean {
  const inW = backwardData ? g.OW : g.W;
  return switches.vecWindow && g.strideW === 1 && g.dilW === 1 && g.KW === 2 * g.padW + 1 && g.padW <= 4 &&
    inW % 4 === 0 && 4 * cv + 2 * g.padW <= 24;
}

/** Implicit-GEMM dispatch shared by the forward pass and the input gradient, with the given
 *  blocking and no argument checks (the tuner's benches; tests run every variant through it).
 *  `dense`: channels-last [batch, channels] tensors on a 1x1 geometry whose row is the batch (the
 *  products of a fully connected layer, kernels/matmul.ts).
 *  `xmask`: the pre-ReLU input that masks the input gradient of a fused-ReLU conv (g.reluInput).
 *  `partner`: a 1x1 convolution run in the same launch (the PAIR variant, see conv2d.wgsl's header;
 *  g is the carrying one's): forward, `other` is the partner's output; input gradient, `other` is
 *  the partner's dy, summed into the same dst. */
export function implicitGemm(rt: GpuRuntime, blocking: GemmBlocking, src: GpuStorage, w: GpuStorage, bias: GpuStorage | null,
  dst: GpuStorage, g: ConvGeom, backwardData: boolean, xmask: GpuStorage | null = null, accumulate = false, dense = false,
  partner: { w: GpuStorage; other: GpuStorage } | null = null): void {
  const { outC, outH, outW } = gemmOutput(g, backwardData);
  const { tc, cv } = blocking;
  const tiles = g.N * outH * Math.ceil(outW / (4 * cv));
  const reads = [src, src, w, bias ?? auxStorage(rt, 'zeros', g.Cout), xmask ?? auxStorage(rt, 'scratchA', 1)];
  // the partner's weights are read-only too; its dy comes before dst, its output after
  const bindings = !partner ? [...reads, dst]
    : backwardData ? [...reads, partner.w, partner.other, dst] : [...reads, partner.w, dst, partner.other];
  rt.dispatch({
    shader: shaderVariant(rt, 'conv2d', { subgroups: useSubgroups(rt), flags: { PAIR: !!partner, PAIR_OUT: !!partner && !backwardData } }),
    bindings,
    readOnly: !partner ? 5 : backwardData ? 7 : 6,
    params: { u: [g.N, g.Cin, g.Cout, g.groups], i: [g.H, g.W, g.OH, g.OW] },
    constants: { ...windowConstants(g), BACKWARD_DATA: backwardData ? 1 : 0, RELU_IN: g.reluInput ? 1 : 0, ACCUMULATE: accumulate ? 1 : 0,
      TC: tc, CV: cv, WG: CONV_WG, VEC_WINDOW: !dense && vecWindow(g, backwardData, cv) ? 1 : 0, DENSE: dense ? 1 : 0 },
    // forward pairs: a second set of channel tiles computes the partner's output
    workgroups: foldGrid(rt, Math.ceil(tiles / CONV_WG), (outC / tc) * (partner && !backwardData ? 2 : 1)),
  });
}

/** y = conv(x, w) + bias. `tuner`: the device's autotuner (null: the rule's blocking). */
export function conv2d(rt: GpuRuntime, x: GpuStorage, w: GpuStorage, bias: GpuStorage | null,
  y: GpuStorage, g: ConvGeom, tuner: Autotuner | null = null): void {
  checkConvForward('conv2d', x, w, bias, y, g);
  const blocking = gemmBlocking(rt, tuner, g, false);
  const run = (): void => implicitGemm(rt, blocking, x, w, bias, y, g, false);
  if (bias) { run(); return; }
  launchOrHold<ForwardSide>(rt, 'forward', { g, w, y, x, blocking }, [x, w], [y], run, (o) => o.x === x,
    (m, q) => implicitGemm(rt, m.blocking, x, m.w, null, m.y, m.g, false, null, false, false, { w: q.w, other: q.y }));
}

/** dx = gradient of conv2d with respect to its input, given dy; with g.reluInput, the gradient
 *  with respect to the pre-ReLU input x (dx masked by x > 0); with `accumulate`, dx += it */
export function conv2dInputGrad(rt: GpuRuntime, dy: GpuStorage, w: GpuStorage, dx: GpuStorage,
  g: ConvGeom, x: GpuStorage | null = null, accumulate = false, tuner: Autotuner | null = null): void {
  checkConvInputGrad('conv2dInputGrad', dy, w, dx, g, x);
  const blocking = gemmBlocking(rt, tuner, g, true);
  const xmask = g.reluInput ? x : null;
  const run = (): void => implicitGemm(rt, blocking, dy, w, null, dx, g, true, xmask, accumulate);
  // the later one must add to what this one writes: dx = [dx +] mask(convT(dy) + convT(dy2))
  launchOrHold<InputGradSide>(rt, 'inputGrad', { g, w, dy, dx, xmask, accumulate, blocking }, xmask ? [dy, w, xmask] : [dy, w],
    [dx], run, (o) => o.dx === dx && o.xmask === xmask && o.accumulate,
    (m, q) => implicitGemm(rt, m.blocking, m.dy, m.w, null, dx, m.g, true, xmask, accumulate, false, { w: q.w, other: q.dy }));
}

// ---- pairs: a convolution and a 1x1 partner in one launch (kernels/conv-pair.ts) -------------

/** What a held launch's partner needs to know about it, per kind. */
interface ForwardSide { g: ConvGeom; w: GpuStorage; y: GpuStorage; x: GpuStorage; blocking: GemmBlocking }
interface InputGradSide {
  g: ConvGeom; w: GpuStorage; dy: GpuStorage; dx: GpuStorage; xmask: GpuStorage | null; accumulate: boolean; blocking: GemmBlocking;
}
interface WeightGradSide { g: ConvGeom; dy: GpuStorage; x: GpuStorage; dw: GpuStorage; plan: WeightGradPlan }

/**
 * Run a convolution launch now, or — when g can carry a partner — hold it back (launchPairable) so
 * that a later launch of its kind can join it: `fits(later, main)` says whether the later one's
 * side may pair with this one (beyond pairRoles' geometry: same input, same dx, …) and `runPair`
 * encodes the two as one launch, the carrying side first.
 */
function launchOrHold<S extends { g: ConvGeom }>(rt: GpuRuntime, kind: PairableLaunch['kind'], side: S,
  reads: GpuStorage[], writes: GpuStorage[], run: () => void, fits: (later: S, main: S) => boolean,
  runPair: (main: S, partner: S) => void): void {
  if (!canCarry(side.g)) { run(); return; }
  launchPairable(rt, {
    kind, reads, writes, run, side, pairWith: (later) => {
      const o = later.side as S;
      const roles = pairRoles(side, o);
      return roles && fits(o, roles[0]) ? () => runPair(...roles) : null;
    },
  });
}

/** A 1x1 convolution whose output grid is its input's (stride 1, no padding): the partner. */
function centreOnly(g: ConvGeom): boolean {
  return g.KH === 1 && g.KW === 1 && g.padH === 0 && g.padW === 0 && g.strideH === 1 && g.strideW === 1;
}

/** A convolution that can carry a partner: stride 1, output grid = input grid, rows of 4k values
 *  (the partner's strips are read as vec4s), no groups. */
function canCarry(g: ConvGeom): boolean {
  return g.strideH === 1 && g.strideW === 1 && g.OH === g.H && g.OW === g.W && g.groups === 1 && g.W % 4 === 0;
}

/** [main, partner] when a and b pair (same tensors sizes and ReLU, one of them a 1x1 the other can
 *  carry), else null. */
function pairRoles<S extends { g: ConvGeom }>(a: S, b: S): [S, S] | null {
  const ga = a.g, gb = b.g;
  if (ga.N !== gb.N || ga.Cin !== gb.Cin || ga.Cout !== gb.Cout || ga.H !== gb.H || ga.W !== gb.W ||
    !!ga.reluInput !== !!gb.reluInput || !canCarry(ga) || !canCarry(gb)) return null;
  if (centreOnly(gb)) return [a, b];
  if (centreOnly(ga)) return [b, a];
  return null;
}

// The argument checks of the three convolution entry points, shared with kernels/depthwise.ts.

/** Throws unless g is consistent and x, w, bias, y hold what a forward pass reads and writes. */
export function checkConvForward(op: string, x: GpuStorage, w: GpuStorage, bias: GpuStorage | null, y: GpuStorage,
  g: ConvGeom): void {
  checkConvGeom(op, g);
  requireLength(op, 'x', x, g.N * g.Cin * g.H * g.W);
  requireLength(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW);
  if (bias) requireLength(op, 'bias', bias, g.Cout);
  requireLength(op, 'y', y, g.N * g.Cout * g.OH * g.OW);
}

/** Throws unless g is consistent and dy, w, dx (and x, the ReLU mask, when g.reluInput) fit an
 *  input gradient, dx being none of the others. */
export function checkConvInputGrad(op: string, dy: GpuStorage, w: GpuStorage, dx: GpuStorage, g: ConvGeom,
  x: GpuStorage | null): void {
  checkConvGeom(op, g);
  requireLength(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW);
  requireLength(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW);
  requireLength(op, 'dx', dx, g.N * g.Cin * g.H * g.W);
  if (g.reluInput) {
    if (!x) throw new GpuError(`${op}: a fused-ReLU conv (reluInput) needs the pre-ReLU input x to mask dx`);
    requireLength(op, 'x', x, g.N * g.Cin * g.H * g.W);
    if (x === dx || x === dy) throw new GpuError(`${op}: x must not be dx or dy`);
  }
  if (dx === dy || dx === w) throw new GpuError(`${op}: dx must not be dy or w`);
}

/** Throws unless g is consistent and dy, x, dw hold what a weight gradient reads and writes. */
export function checkConvWeightGrad(op: string, dy: GpuStorage, x: GpuStorage, dw: GpuStorage, g: ConvGeom): void {
  checkConvGeom(op, g);
  requireLength(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW);
  requireLength(op, 'x', x, g.N * g.Cin * g.H * g.W);
  requireLength(op, 'dw', dw, g.Cout * (g.Cin / g.groups) * g.KH * g.KW);
}

/** Work decomposition of the weight gradient (exported so benchmarks can report it). */
export interface WeightGradPlan {
  subgroups: boolean;
  /** output-channel lanes per workgroup */
  wg: number;
  /** input channels per invocation */
  tci: number;
  /** kernel rows per invocation */
  khb: number;
  splits: number;
}

function dwTargetThreads(rt: GpuRuntime): number {
  return rt.software ? DW_TARGET_THREADS_CPU : DW_TARGET_THREADS_GPU;
}

/** Choose the weight-gradient decomposition for a (checked) geometry; `targetThreads`: the
 *  invocations the split count aims at (default: the adapter kind's, see DW_TARGET_THREADS_*). */
export function weightGradPlan(rt: GpuRuntime, g: ConvGeom, targetThreads = dwTargetThreads(rt)): WeightGradPlan {
  const cig = g.Cin / g.groups, cog = g.Cout / g.groups;
  // The subgroup variant needs >= 8 lanes (output channels) per workgroup.
  const sgWg = largestDivisor(cog, [64, 32, 16, 8]);
  const subgroups = useSubgroups(rt) && sgWg >= 8;
  const wg = subgroups ? sgWg : largestDivisor(cog, [64, 32, 16, 8, 4, 2, 1]);
  let khb = g.KH;
  let tci = [16, 8, 4, 2, 1].find((t) => cig % t === 0 && t * g.KH * g.KW <= MAX_ACC) ?? 0;
  if (tci === 0) {
    khb = 1;
    tci = [16, 8, 4, 2, 1].find((t) => cig % t === 0 && t * g.KW <= MAX_ACC) ?? 0;
    if (tci === 0) throw new GpuError(`conv2dWeightGrad: kernel width ${g.KW} exceeds ${MAX_ACC}`);
  }
  const rows = g.N * g.OH;
  const dwSize = g.Cout * cig * g.KH * g.KW;
  const perSplit = g.Cout * (cig / tci) * (g.KH / khb);
  let splits = Math.max(1, Math.min(Math.ceil(rows / switches.minRowsPerSplit), Math.round(targetThreads / perSplit),
    Math.floor(DW_MAX_PARTIAL / dwSize)));
  splits = Math.ceil(rows / Math.ceil(rows / splits)); // no empty splits
  return { subgroups, wg, tci, khb, splits };
}

/** Autotuning variants of the weight gradient, the rule's plan first: the split count for a quarter
 *  and for four times the rule's target of invocations (fewer splits: less partial-sum traffic and a
 *  cheaper reduce pass; more: more parallelism), without duplicate split counts. */
export function weightGradVariants(rt: GpuRuntime, g: ConvGeom): TuneVariant<WeightGradPlan>[] {
  const target = dwTargetThreads(rt);
  const out: TuneVariant<WeightGradPlan>[] = [];
  for (const t of [target, target / 4, target * 4]) {
    const plan = weightGradPlan(rt, g, t);
    if (!out.some((v) => v.params.splits === plan.splits)) out.push({ name: `splits${plan.splits}`, params: plan });
  }
  return out;
}

/** Scratch operands of one weight-gradient shape, run with a given plan. */
function weightGradBench(rt: GpuRuntime, g: ConvGeom): TuneBench<WeightGradPlan> {
  const s = scratch(rt, [g.N * g.Cout * g.OH * g.OW, g.N * g.Cin * g.H * g.W, g.Cout * (g.Cin / g.groups) * g.KH * g.KW]);
  const [dy, x, dw] = s.bufs;
  return { run: (plan) => weightGradDispatch(rt, plan, dy, x, dw, g), dispose: s.dispose };
}

/** dw = gradient of conv2d with respect to its weights, given dy and the input x. `tuner`: the
 *  device's autotuner (null: the rule's split count). */
export function conv2dWeightGrad(rt: GpuRuntime, dy: GpuStorage, x: GpuStorage, dw: GpuStorage,
  g: ConvGeom, tuner: Autotuner | null = null): void {
  checkConvWeightGrad('conv2dWeightGrad', dy, x, dw, g);
  const defaults = weightGradPlan(rt, g);
  const plan = tuner?.enabled ? tuner.pick('conv-wgrad', convShapeKey(rt, g), defaults,
    () => (convMacs(g) < switches.minTuneMacs ? [{ name: 'rule', params: defaults }] : weightGradVariants(rt, g)),
    () => weightGradBench(rt, { ...g })) : defaults;
  const run = (): void => weightGradDispatch(rt, plan, dy, x, dw, g);
  launchOrHold<WeightGradSide>(rt, 'weightGrad', { g, dy, x, dw, plan }, [dy, x], [dw], run,
    (o, m) => o.x === x && ringPath(m.g, m.plan), (m, q) => weightGradDispatch(rt, m.plan, m.dy, x, m.dw, m.g, { dy: q.dy, dw: q.dw }));
}

/** Whether the weight gradient of g with this plan walks the ring path of conv2d_weight_grad.wgsl
 *  (stride 1, all kernel rows per invocation, window and ring within the shader's bounds), which is
 *  the path that can carry a 1x1 partner. */
function ringPath(g: ConvGeom, plan: WeightGradPlan): boolean {
  const win = 3 * g.strideW + (g.KW - 1) * g.dilW + 1;
  return g.strideH === 1 && plan.khb === g.KH && win <= 16 && (g.KH - 1) * g.dilH + 1 <= 16 && plan.tci <= 16;
}

/** The split-K pass (into dw itself when there is one split) and the in-order reduction of the
 *  splits, with the given plan and no argument checks (the tuner's benches; tests). `partner`: the
 *  weight gradient of a 1x1 convolution over the same x in the same launch (its dy, into its dw;
 *  the PAIR variant, ring-path plans only: see ringPath), with the same splits. */
export function weightGradDispatch(rt: GpuRuntime, plan: WeightGradPlan, dy: GpuStorage, x: GpuStorage, dw: GpuStorage,
  g: ConvGeom, partner: { dy: GpuStorage; dw: GpuStorage } | null = null): void {
  const { subgroups, wg, tci, khb, splits } = plan;
  const cig = g.Cin / g.groups;
  const dwSize = g.Cout * cig * g.KH * g.KW, dw2Size = g.Cout * cig;
  const part = splits > 1 ? rt.alloc(splits * dwSize) : dw;
  const part2 = partner && splits > 1 ? rt.alloc(splits * dw2Size) : partner?.dw ?? null;
  rt.dispatch({
    shader: shaderVariant(rt, 'conv2d_weight_grad', { subgroups, flags: { PAIR: !!partner } }),
    bindings: partner ? [dy, x, part, partner.dy, part2!] : [dy, x, part],
    params: { u: [g.N, g.Cin, g.Cout, g.groups, splits], i: [g.H, g.W, g.OH, g.OW] },
    constants: { ...windowConstants(g), RELU_IN: g.reluInput ? 1 : 0, TCI: tci, KHB: khb, WG: wg },
    workgroups: [splits, (cig / tci) * (g.KH / khb), g.Cout / wg],
  });
  if (splits > 1) {
    // the in-order sums of the splits (merged, held back)
    splitSum(rt, part, dw, dwSize, splits);
    if (partner) splitSum(rt, part2!, partner.dw, dw2Size, splits);
  }
}

/** out[c] = sum over n, hw of x[n, c, hw] (bias gradient) */
export function channelSum(rt: GpuRuntime, x: GpuStorage, out: GpuStorage, g: ChannelGeom): void {
  const op = 'channelSum';
  requirePositive(op, g, ['N', 'C', 'HW']);
  requireLength(op, 'x', x, g.N * g.C * g.HW);
  requireLength(op, 'out', out, g.C);
  rt.dispatch({
    shader: 'conv_channel_sum', bindings: [x, out],
    params: { u: [g.N, g.C, g.HW] }, constants: { WG: channelReduceWorkgroup(rt) },
    workgroups: foldGrid(rt, g.C),
  });
}
