// The WebGPU backend: every Backend method as WGSL compute dispatches through GpuRuntime.
//
// Non-spatial kernels live here (shaders/elementwise, weighted_sum, reduce, softmax, crossentropy,
// copy_channels, optim, dropout); the spatial ones (conv, pool, batch norm, matmul) are functions in
// ./kernels/*.ts with the Backend method's own signature plus a leading runtime argument.
//
// Each method checks its storages against the geometry (a clear error beats a silently clamped GPU
// access), then encodes. Work runs when the batch is submitted; `read` is the one way back.
//
// Aliasing: WebGPU rejects a buffer bound twice in one dispatch when either binding is writable, and
// the runtime rejects any duplicate. Two read-only inputs that are the same storage (mul(x, x, out)
// for x², add(g, g, out)) are legitimate, so `distinctInputs` copies the repeats to temporaries.
import type {
  AdamParams, Backend, BatchNormGeom, BnBackwardTerm, BroadcastGeom, ChannelCopyGeom, ChannelGeom, ConvGeom, MatmulGeom,
  GradWrite, MemoryStats, MixedTerm, PoolGeom, RowsGeom, ScaleRef, SgdItem, SgdParams, StepCapture, Storage, TensorRef,
} from '../backend.js';
import { seedKey } from '../cpu/hash.js';
import { shaderVariant, vectorWidthFor } from './kernels/shader-variants.js';
import { GpuError } from './device.js';
import { GpuRuntime, type GpuStorage, type ParamBlock, type RuntimeOptions } from './runtime.js';
import { Autotuner, adapterKey, type AutotuneCacheStore, type AutotuneReportRow } from './autotune.js';
import * as convK from './kernels/conv.js';
import * as depthwiseK from './kernels/depthwise.js';
import { depthwiseApplies } from './kernels/depthwise.js';
import * as poolK from './kernels/pool.js';
import * as bnK from './kernels/batchnorm.js';
import * as matmulK from './kernels/matmul.js';
import * as mixedK from './kernels/mixed.js';
import * as multiK from './kernels/multi.js';
import * as flatK from './kernels/flat-optim.js';
import { switches } from '../switches.js';

/** Workgroup size of the 1-D elementwise kernels and the full reductions. */
const WG = 256;
/** Workgroup size of the per-row kernels (softmax, cross-entropy): rows are short (classes). */
const ROW_WG = 64;
/** Elements per thread a reduction workgroup should see before another workgroup is worth it. */
const REDUCE_ELEMS_PER_THREAD = 8;
/** Most partials of a two-pass reduction (the second pass is one workgroup). */
const MAX_REDUCE_GROUPS = 256;
/** weightedSum inputs per dispatch (shaders/weighted_sum.wgsl has entries ws1..ws8). */
const MAX_WS_INPUTS = 8;

export interface WebGpuBackendOptions extends RuntimeOptions {
  /** Autotune the convolution kernels (default switches.autotune: on unless GMNAS_AUTOTUNE=0). */
  autotune?: boolean;
  /** Where tuned choices persist between runs (Node: src/io/autotune-cache.ts); default none:
   *  choices last as long as the backend. Read when the backend is created. */
  autotuneCache?: AutotuneCacheStore | null;
  /** Where one-line notices go (autotuning starts and ends, an unreadable autotune cache); default:
   *  warnings to console.warn, no notices. */
  log?: (msg: string) => void;
}

function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new GpuError(`${op}: ${name} ${v} must be a non-negative integer`);
}

function checkPositive(op: string, g: object, names: string[]): void {
  const rec = g as Record<string, number>;
  for (const k of names) {
    if (!Number.isInteger(rec[k]) || rec[k] < 1) throw new GpuError(`${op}: ${k} ${rec[k]} must be a positive integer`);
  }
}

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu' as const;
  readonly description: string;

  /** This device's kernel autotuner (see ./autotune.ts); `enabled` false when tuning is off. */
  readonly autotuner: Autotuner;

  private constructor(readonly rt: GpuRuntime, opts: WebGpuBackendOptions) {
    this.description = `WebGPU: ${rt.info.description}`;
    this.autotuner = new Autotuner({
      enabled: opts.autotune ?? switches.autotune, adapter: adapterKey(rt.info), sync: () => rt.sync(),
      store: opts.autotuneCache ?? null, ...(opts.log ? { warn: opts.log, info: opts.log } : {}),
    });
  }

  /** Acquire an adapter and device (throws GpuError when there is no adapter). */
  static async create(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    return new WebGpuBackend(await GpuRuntime.create(opts), opts);
  }

  /** Time the variants of every kernel shape dispatched since the last call that is neither tuned
   *  nor in the cache file, and use the fastest from now on (no-op when tuning is off or nothing is
   *  new). Call between steps: it waits for the queued work and adds its own. */
  async tune(): Promise<void> {
    await this.autotuner.tune();
  }

  /** Every tuned or cached kernel shape: its key, the chosen variant and the measured times. */
  autotuneReport(): AutotuneReportRow[] {
    return this.autotuner.report();
  }

  /** The storage as a GPU storage of this backend holding at least `need` values. */
  private st(op: string, name: string, s: Storage, need: number): GpuStorage {
    if (s.length < need) throw new GpuError(`${op}: ${name} holds ${s.length} values, needs ${need}`);
    return s as GpuStorage;
  }

  /**
   * Replace repeated read-only inputs by copies (WebGPU forbids binding one buffer twice when a
   * binding is writable, and the runtime rejects duplicates outright). Release the returned temps
   * after encoding the dispatch.
   */
  private distinctInputs(inputs: GpuStorage[], needs: number[]): { inputs: GpuStorage[]; temps: GpuStorage[] } {
    const temps: GpuStorage[] = [];
    const out = inputs.slice();
    for (let i = 1; i < out.length; i++) {
      if (inputs.indexOf(inputs[i]) < i) {
        const n = Math.max(...needs.filter((_, j) => inputs[j] === inputs[i]));
        const t = this.rt.alloc(n);
        this.rt.copyBuffer(inputs[i], 0, t, 0, n);
        out[i] = t;
        temps.push(t);
      }
    }
    return { inputs: out, temps };
  }

  private releaseAll(temps: GpuStorage[]): void {
    for (const t of temps) this.rt.release(t);
  }

  /** One dispatch of an elementwise entry of shaders/elementwise.wgsl over n elements. */
  private ew(entry: string, bindings: GpuStorage[], n: number,
    extra: { index?: number; mid?: number; inner?: number; alpha?: number } = {}): void {
    if (n === 0) return;
    // grid-stride kernels: the runtime picks the grid (few large workgroups on CPU rasterisers)
    this.rt.dispatch({
      shader: 'elementwise', entry, bindings, constants: { WG }, workgroups: this.rt.strideGrid(n, WG),
      params: { u: [n, extra.index ?? 0, extra.mid ?? 0, extra.inner ?? 0], f: [extra.alpha ?? 0] },
    });
  }

  /** An entry of shaders/scaled.wgsl over n elements (vec4s when n allows). */
  private scaled(entry: 'add_scaled_in_place' | 'scale_by_element', bindings: GpuStorage[], n: number, index: number): void {
    if (n === 0) return;
    const width = vectorWidthFor(n);
    this.rt.dispatch({
      shader: shaderVariant(this.rt, 'scaled', { width }), entry, bindings, constants: { WG },
      workgroups: this.rt.strideGrid(n / width, WG), params: { u: [n / width, index] },
    });
  }

  /**
   * A full reduction `entry` of shaders/reduce.wgsl over n elements of `inputs` into
   * out[outIndex] * scale: one pass when one workgroup suffices, else partials + a `sum` pass.
   */
  private reduce(entry: string, inputs: GpuStorage[], out: GpuStorage, outIndex: number, n: number, scale = 1): void {
    const groups = Math.min(MAX_REDUCE_GROUPS, Math.max(1, Math.ceil(n / (WG * REDUCE_ELEMS_PER_THREAD))));
    const constants = { WG };
    if (groups === 1) {
      this.rt.dispatch({ shader: 'reduce', entry, bindings: [...inputs, out], constants,
        params: { u: [n, outIndex], f: [scale] }, workgroups: [1, 1, 1] });
      return;
    }
    const partials = this.rt.alloc(groups);
    this.rt.dispatch({ shader: 'reduce', entry, bindings: [...inputs, partials], constants,
      params: { u: [n, 0], f: [1] }, workgroups: [groups, 1, 1] });
    this.rt.dispatch({ shader: 'reduce', entry: 'sum', bindings: [partials, out], constants,
      params: { u: [groups, outIndex], f: [scale] }, workgroups: [1, 1, 1] });
    this.rt.release(partials);
  }

  // ---- memory -------------------------------------------------------------------------------

  alloc(n: number): Storage { return this.rt.alloc(n); }
  upload(data: Float32Array): Storage { return this.rt.upload(data); }
  write(s: Storage, data: Float32Array, offset = 0): void { this.rt.write(s as GpuStorage, data, offset); }
  read(s: Storage, n?: number): Promise<Float32Array> { return this.rt.read(s as GpuStorage, n); }
  readMany(items: readonly { s: Storage; n?: number }[]): Promise<Float32Array[]> {
    return this.rt.readMany(items as readonly { s: GpuStorage; n?: number }[]);
  }
  release(s: Storage): void { this.rt.release(s as GpuStorage); }
  get viewAlignment(): number { return this.rt.viewAlignment; }
  view(base: Storage, offset: number, n: number): Storage { return this.rt.view(base as GpuStorage, offset, n); }
  flush(): void { this.rt.flush(); }
  sync(): Promise<void> { return this.rt.sync(); }
  memoryStats(): MemoryStats { return this.rt.memoryStats(); }
  dispatchCount(): number { return this.rt.dispatchCount(); }
  dispose(): void { this.rt.dispose(); }
  capture(fn: () => void): StepCapture {
    this.rt.beginCapture();
    try {
      fn();
    } catch (e) {
      this.rt.abortCapture();
      throw e;
    }
    return this.rt.endCapture();
  }

  // ---- elementwise --------------------------------------------------------------------------

  fill(out: Storage, value: number, n: number): void {
    checkCount('fill', 'n', n);
    this.ew('fill', [this.st('fill', 'out', out, n)], n, { alpha: value });
  }

  copy(src: Storage, dst: Storage, n: number): void {
    checkCount('copy', 'n', n);
    const s = this.st('copy', 'src', src, n), d = this.st('copy', 'dst', dst, n);
    if (s !== d) this.rt.copyBuffer(s, 0, d, 0, n);
  }

  add(a: Storage, b: Storage, out: Storage, n: number): void {
    checkCount('add', 'n', n);
    const o = this.st('add', 'out', out, n);
    if (a === b) { this.ew('scale', [this.st('add', 'a', a, n), o], n, { alpha: 2 }); return; }
    this.ew('add', [this.st('add', 'a', a, n), this.st('add', 'b', b, n), o], n);
  }

  mul(a: Storage, b: Storage, out: Storage, n: number): void {
    checkCount('mul', 'n', n);
    const { inputs, temps } = this.distinctInputs([this.st('mul', 'a', a, n), this.st('mul', 'b', b, n)], [n, n]);
    this.ew('mul', [...inputs, this.st('mul', 'out', out, n)], n);
    this.releaseAll(temps);
  }

  addInPlace(acc: Storage, x: Storage, n: number, alpha: number): void {
    checkCount('addInPlace', 'n', n);
    const a = this.st('addInPlace', 'acc', acc, n);
    if (acc === x) { this.ew('scale_in_place', [a], n, { alpha: 1 + alpha }); return; }
    this.ew('add_in_place', [a, this.st('addInPlace', 'x', x, n)], n, { alpha });
  }

  scale(x: Storage, s: number, out: Storage, n: number): void {
    checkCount('scale', 'n', n);
    this.ew('scale', [this.st('scale', 'x', x, n), this.st('scale', 'out', out, n)], n, { alpha: s });
  }

  relu(x: Storage, out: Storage, n: number): void {
    checkCount('relu', 'n', n);
    this.ew('relu', [this.st('relu', 'x', x, n), this.st('relu', 'out', out, n)], n);
  }

  reluBackward(dy: Storage, x: Storage, dx: Storage, n: number): void {
    checkCount('reluBackward', 'n', n);
    const { inputs, temps } = this.distinctInputs(
      [this.st('reluBackward', 'dy', dy, n), this.st('reluBackward', 'x', x, n)], [n, n]);
    this.ew('relu_backward', [...inputs, this.st('reluBackward', 'dx', dx, n)], n);
    this.releaseAll(temps);
  }

  relu6(x: Storage, out: Storage, n: number): void {
    checkCount('relu6', 'n', n);
    this.ew('relu6', [this.st('relu6', 'x', x, n), this.st('relu6', 'out', out, n)], n);
  }

  relu6Backward(dy: Storage, x: Storage, dx: Storage, n: number): void {
    checkCount('relu6Backward', 'n', n);
    const { inputs, temps } = this.distinctInputs(
      [this.st('relu6Backward', 'dy', dy, n), this.st('relu6Backward', 'x', x, n)], [n, n]);
    this.ew('relu6_backward', [...inputs, this.st('relu6Backward', 'dx', dx, n)], n);
    this.releaseAll(temps);
  }

  mulBroadcast(x: Storage, s: Storage, out: Storage, g: BroadcastGeom): void {
    const op = 'mulBroadcast';
    for (const k of ['outer', 'mid', 'inner'] as const) checkCount(op, k, g[k]);
    const n = g.outer * g.mid * g.inner;
    if (n === 0) return;
    this.ew('mul_broadcast', [this.st(op, 'x', x, n), this.st(op, 's', s, g.mid), this.st(op, 'out', out, n)], n,
      { mid: g.mid, inner: g.inner });
  }

  mulBroadcastGradS(dy: Storage, x: Storage, ds: Storage, g: BroadcastGeom): void {
    const op = 'mulBroadcastGradS';
    for (const k of ['outer', 'mid', 'inner'] as const) checkCount(op, k, g[k]);
    const n = g.outer * g.mid * g.inner;
    if (g.mid === 0) return;
    const d = this.st(op, 'ds', ds, g.mid);
    const { inputs, temps } = this.distinctInputs([this.st(op, 'dy', dy, n), this.st(op, 'x', x, n)], [n, n]);
    const perChannel = g.outer * g.inner;
    const splits = Math.min(64, Math.max(1, Math.ceil(perChannel / (WG * REDUCE_ELEMS_PER_THREAD))));
    const params: ParamBlock = { u: [g.outer, g.mid, g.inner, splits] };
    const workgroups = this.rt.grid1D(g.mid * splits, 1);
    if (splits === 1) {
      this.rt.dispatch({ shader: 'reduce', entry: 'mul_broadcast_grad_s', bindings: [...inputs, d],
        constants: { WG }, params, workgroups });
    } else {
      const partials = this.rt.alloc(g.mid * splits);
      this.rt.dispatch({ shader: 'reduce', entry: 'mul_broadcast_grad_s', bindings: [...inputs, partials],
        constants: { WG }, params, workgroups });
      this.rt.dispatch1D({ shader: 'reduce', entry: 'segment_sum', bindings: [partials, d],
        params: { u: [g.mid, splits] }, threads: g.mid, workgroupSize: WG });
      this.rt.release(partials);
    }
    this.releaseAll(temps);
  }

  weightedSum(xs: Storage[], w: Storage, wIndex: number[], out: Storage, n: number): void {
    const op = 'weightedSum';
    checkCount(op, 'n', n);
    if (xs.length !== wIndex.length) throw new GpuError(`${op}: ${xs.length} inputs but ${wIndex.length} weight indices`);
    wIndex.forEach((k, j) => checkCount(op, `wIndex[${j}]`, k));
    const o = this.st(op, 'out', out, n);
    if (xs.length === 0) { this.fill(out, 0, n); return; }
    const wv = this.st(op, 'w', w, Math.max(...wIndex) + 1);
    const inputs = xs.map((x, j) => {
      const s = this.st(op, `xs[${j}]`, x, n);
      if (s === o) throw new GpuError(`${op}: xs[${j}] is also the output`);
      return s;
    });
    // chunks of distinct buffers, at most maxK inputs (+ w + out within maxStorageBuffersPerShaderStage)
    const maxK = Math.min(MAX_WS_INPUTS, this.rt.limits.maxStorageBuffersPerShaderStage - 2);
    let start = 0;
    let first = true;
    while (start < inputs.length) {
      const chunk: GpuStorage[] = [];
      const idx: number[] = [];
      let j = start;
      while (j < inputs.length && chunk.length < maxK && !chunk.includes(inputs[j]) && inputs[j] !== wv) {
        chunk.push(inputs[j]);
        idx.push(wIndex[j]);
        j++;
      }
      let temp: GpuStorage | null = null;
      if (chunk.length === 0) {
        // inputs[start] is the weight storage itself: read it through a copy
        temp = this.rt.alloc(n);
        this.rt.copyBuffer(inputs[start], 0, temp, 0, n);
        chunk.push(temp);
        idx.push(wIndex[start]);
        j = start + 1;
      }
      while (idx.length < 8) idx.push(0);
      this.rt.dispatch1D({
        shader: 'weighted_sum', entry: `ws${chunk.length}`, bindings: [...chunk, wv, o], threads: n, workgroupSize: WG,
        params: { u: [n, first ? 0 : 1, ...idx] },
      });
      if (temp) this.rt.release(temp);
      first = false;
      start = j;
    }
  }

  scaleByElement(x: Storage, w: Storage, wIndex: number, out: Storage, n: number): void {
    const op = 'scaleByElement';
    checkCount(op, 'n', n);
    checkCount(op, 'wIndex', wIndex);
    const { inputs, temps } = this.distinctInputs([this.st(op, 'x', x, n), this.st(op, 'w', w, wIndex + 1)],
      [n, wIndex + 1]);
    this.scaled('scale_by_element', [...inputs, this.st(op, 'out', out, n)], n, wIndex);
    this.releaseAll(temps);
  }

  dot(a: Storage, b: Storage, out: Storage, outIndex: number, n: number): void {
    checkCount('dot', 'n', n);
    checkCount('dot', 'outIndex', outIndex);
    const o = this.st('dot', 'out', out, outIndex + 1);
    if (a === b) { this.reduce('sum_squares', [this.st('dot', 'a', a, n)], o, outIndex, n); return; }
    this.reduce('dot', [this.st('dot', 'a', a, n), this.st('dot', 'b', b, n)], o, outIndex, n);
  }

  sumSquares(x: Storage, out: Storage, outIndex: number, n: number): void {
    checkCount('sumSquares', 'n', n);
    checkCount('sumSquares', 'outIndex', outIndex);
    this.reduce('sum_squares', [this.st('sumSquares', 'x', x, n)], this.st('sumSquares', 'out', out, outIndex + 1),
      outIndex, n);
  }

  sum(x: Storage, out: Storage, n: number): void {
    checkCount('sum', 'n', n);
    this.reduce('sum', [this.st('sum', 'x', x, n)], this.st('sum', 'out', out, 1), 0, n);
  }

  broadcastScalar(s: Storage, scale: number, out: Storage, n: number): void {
    checkCount('broadcastScalar', 'n', n);
    this.ew('broadcast_scalar', [this.st('broadcastScalar', 's', s, 1), this.st('broadcastScalar', 'out', out, n)], n,
      { alpha: scale });
  }

  nonFiniteCount(x: Storage, out: Storage, outIndex: number, n: number): void {
    checkCount('nonFiniteCount', 'n', n);
    checkCount('nonFiniteCount', 'outIndex', outIndex);
    this.reduce('non_finite_count', [this.st('nonFiniteCount', 'x', x, n)],
      this.st('nonFiniteCount', 'out', out, outIndex + 1), outIndex, n);
  }

  dropoutMask(mask: Storage, n: number, p: number, seed: number): void {
    checkCount('dropoutMask', 'n', n);
    if (!(p >= 0 && p < 1)) throw new GpuError(`dropoutMask: drop probability ${p} must be in [0, 1)`);
    // the same f32 rounding as the CPU backend: threshold f32(p), scale f32(1 / f32(1 - f32(p)))
    const pf = Math.fround(p);
    const keepScale = Math.fround(1 / Math.fround(1 - pf));
    this.rt.dispatch1D({
      shader: 'dropout', bindings: [this.st('dropoutMask', 'mask', mask, n)], threads: n, workgroupSize: WG,
      params: { u: [n, seedKey(seed)], f: [pf, keepScale] },
    });
  }

  // ---- convolution (W2's kernels) -----------------------------------------------------------

  // depthwise convolutions (groups = Cin = Cout) have kernels of their own (kernels/depthwise.ts)

  conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void {
    const [xs, ws, bs, ys] = [x, w, bias, y] as (GpuStorage | null)[];
    if (depthwiseApplies(g)) depthwiseK.depthwiseConv2d(this.rt, xs!, ws!, bs, ys!, g);
    else convK.conv2d(this.rt, xs!, ws!, bs, ys!, g, this.autotuner);
  }

  conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x: Storage | null = null, accumulate = false): void {
    const [dys, ws, dxs, xs] = [dy, w, dx, x] as (GpuStorage | null)[];
    if (depthwiseApplies(g)) depthwiseK.depthwiseInputGrad(this.rt, dys!, ws!, dxs!, g, xs, accumulate);
    else convK.conv2dInputGrad(this.rt, dys!, ws!, dxs!, g, xs, accumulate, this.autotuner);
  }

  conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void {
    const [dys, xs, dws] = [dy, x, dw] as GpuStorage[];
    if (depthwiseApplies(g)) depthwiseK.depthwiseWeightGrad(this.rt, dys, xs, dws, g);
    else convK.conv2dWeightGrad(this.rt, dys, xs, dws, g, this.autotuner);
  }

  channelSum(x: Storage, out: Storage, g: ChannelGeom): void {
    convK.channelSum(this.rt, x as GpuStorage, out as GpuStorage, g);
  }

  // ---- batch norm (W2's kernels) ------------------------------------------------------------

  batchNormTrain(x: Storage, gamma: Storage | null, beta: Storage | null, y: Storage,
    saveMean: Storage, saveInvStd: Storage, runMean: Storage | null, runVar: Storage | null,
    g: BatchNormGeom): void {
    bnK.batchNormTrain(this.rt, x as GpuStorage, gamma as GpuStorage | null, beta as GpuStorage | null,
      y as GpuStorage, saveMean as GpuStorage, saveInvStd as GpuStorage, runMean as GpuStorage | null,
      runVar as GpuStorage | null, g);
  }

  batchNormEval(x: Storage, gamma: Storage | null, beta: Storage | null, runMean: Storage,
    runVar: Storage, y: Storage, g: BatchNormGeom): void {
    bnK.batchNormEval(this.rt, x as GpuStorage, gamma as GpuStorage | null, beta as GpuStorage | null,
      runMean as GpuStorage, runVar as GpuStorage, y as GpuStorage, g);
  }

  batchNormBackward(dy: Storage, x: Storage, gamma: Storage | null, saveMean: Storage,
    saveInvStd: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void {
    bnK.batchNormBackward(this.rt, dy as GpuStorage, x as GpuStorage, gamma as GpuStorage | null,
      saveMean as GpuStorage, saveInvStd as GpuStorage, dx as GpuStorage, dgamma as GpuStorage | null,
      dbeta as GpuStorage | null, g);
  }

  batchNormEvalBackward(dy: Storage, x: Storage, gamma: Storage | null, runMean: Storage,
    runVar: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void {
    bnK.batchNormEvalBackward(this.rt, dy as GpuStorage, x as GpuStorage, gamma as GpuStorage | null,
      runMean as GpuStorage, runVar as GpuStorage, dx as GpuStorage, dgamma as GpuStorage | null,
      dbeta as GpuStorage | null, g);
  }

  // ---- fused batch norm and mixed sums ------------------------------------------------------

  batchNormStats(x: Storage, gamma: Storage | null, beta: Storage | null, stats: Storage,
    runMean: Storage | null, runVar: Storage | null, g: BatchNormGeom): void {
    mixedK.batchNormStats(this.rt, x as GpuStorage, gamma as GpuStorage | null, beta as GpuStorage | null,
      stats as GpuStorage, runMean as GpuStorage | null, runVar as GpuStorage | null, g);
  }

  batchNormApply(x: Storage, stats: Storage, y: Storage, g: ChannelGeom): void {
    mixedK.batchNormApply(this.rt, x as GpuStorage, stats as GpuStorage, y as GpuStorage, g);
  }

  batchNormStatsBackward(dy: Storage, dyScale: ScaleRef | null, x: Storage, gamma: Storage | null, stats: Storage,
    dx: Storage, dgamma: Storage | null, dbeta: Storage | null, g: BatchNormGeom): void {
    mixedK.batchNormStatsBackward(this.rt, dy as GpuStorage, dyScale, x as GpuStorage, gamma as GpuStorage | null,
      stats as GpuStorage, dx as GpuStorage, dgamma as GpuStorage | null, dbeta as GpuStorage | null, g);
  }
  batchNormStatsBackwardMulti(dy: Storage, w: Storage | null, terms: BnBackwardTerm[], g: ChannelGeom): void {
    mixedK.batchNormStatsBackwardMulti(this.rt, dy as GpuStorage, w as GpuStorage | null, terms, g);
  }


  mixedSum(terms: MixedTerm[], w: Storage, out: Storage, g: ChannelGeom): void {
    mixedK.mixedSum(this.rt, terms, w as GpuStorage, out as GpuStorage, g);
  }

  mixedDots(dy: Storage, terms: MixedTerm[], dw: Storage, dwSize: number, g: ChannelGeom, accumulate = false): void {
    mixedK.mixedDots(this.rt, dy as GpuStorage, terms, dw as GpuStorage, dwSize, g, accumulate);
  }

  addScaledInPlace(acc: Storage, x: Storage, w: Storage, wIndex: number, n: number): void {
    const op = 'addScaledInPlace';
    checkCount(op, 'n', n);
    checkCount(op, 'wIndex', wIndex);
    const a = this.st(op, 'acc', acc, n), ws = this.st(op, 'w', w, wIndex + 1);
    if (acc === x || acc === w) throw new GpuError(`${op}: acc must not be x or w`);
    const { inputs, temps } = this.distinctInputs([this.st(op, 'x', x, n), ws], [n, wIndex + 1]);
    this.scaled('add_scaled_in_place', [a, ...inputs], n, wIndex);
    this.releaseAll(temps);
  }

  // ---- pooling (W2's kernels) ---------------------------------------------------------------

  pool2d(x: Storage, y: Storage, g: PoolGeom): void {
    poolK.pool2d(this.rt, x as GpuStorage, y as GpuStorage, g);
  }

  pool2dBackward(dy: Storage, x: Storage, dx: Storage, g: PoolGeom, out: GradWrite = {}): void {
    const d = dy as GpuStorage, xs = x as GpuStorage, o = dx as GpuStorage;
    if ((!out.scale && !out.accumulate) || poolK.backwardWritesInPlace(g)) {
      poolK.pool2dBackward(this.rt, d, xs, o, g, out);
      return;
    }
    // other geometries: the plain gradient into a temporary, then scaled / added in a second pass
    const n = g.N * g.C * g.H * g.W;
    const tmp = this.rt.alloc(n);
    poolK.pool2dBackward(this.rt, d, xs, tmp, g);
    if (out.accumulate && out.scale) this.addScaledInPlace(o, tmp, out.scale.w, out.scale.index, n);
    else if (out.accumulate) this.addInPlace(o, tmp, n, 1);
    else this.scaleByElement(tmp, out.scale!.w, out.scale!.index, o, n);
    this.rt.release(tmp);
  }

  globalAvgPool(x: Storage, y: Storage, g: ChannelGeom): void {
    poolK.globalAvgPool(this.rt, x as GpuStorage, y as GpuStorage, g);
  }

  globalAvgPoolBackward(dy: Storage, dx: Storage, g: ChannelGeom): void {
    poolK.globalAvgPoolBackward(this.rt, dy as GpuStorage, dx as GpuStorage, g);
  }

  // ---- dense (W2's kernels) -----------------------------------------------------------------

  matmul(a: Storage, b: Storage, out: Storage, g: MatmulGeom): void {
    matmulK.matmul(this.rt, a as GpuStorage, b as GpuStorage, out as GpuStorage, g);
  }

  addRowBias(x: Storage, b: Storage, out: Storage, g: RowsGeom): void {
    matmulK.addRowBias(this.rt, x as GpuStorage, b as GpuStorage, out as GpuStorage, g);
  }

  columnSum(x: Storage, out: Storage, g: RowsGeom): void {
    matmulK.columnSum(this.rt, x as GpuStorage, out as GpuStorage, g);
  }

  // ---- softmax family -----------------------------------------------------------------------

  /** Workgroups for one workgroup per row, folded over two dimensions. */
  private rowGrid(rows: number): [number, number, number] {
    return this.rt.grid1D(rows, 1);
  }

  softmax(x: Storage, y: Storage, g: RowsGeom, log: boolean): void {
    const op = 'softmax';
    checkCount(op, 'rows', g.rows);
    checkPositive(op, g, ['cols']);
    const n = g.rows * g.cols;
    this.rt.dispatch({ shader: 'softmax', entry: 'softmax', constants: { WG: ROW_WG },
      bindings: [this.st(op, 'x', x, n), this.st(op, 'y', y, n)],
      params: { u: [g.rows, g.cols, log ? 1 : 0] }, workgroups: this.rowGrid(g.rows) });
  }

  softmaxBackward(dy: Storage, y: Storage, dx: Storage, g: RowsGeom, log: boolean): void {
    const op = 'softmaxBackward';
    checkCount(op, 'rows', g.rows);
    checkPositive(op, g, ['cols']);
    const n = g.rows * g.cols;
    const { inputs, temps } = this.distinctInputs([this.st(op, 'dy', dy, n), this.st(op, 'y', y, n)], [n, n]);
    this.rt.dispatch({ shader: 'softmax', entry: 'softmax_backward', constants: { WG: ROW_WG },
      bindings: [...inputs, this.st(op, 'dx', dx, n)],
      params: { u: [g.rows, g.cols, log ? 1 : 0] }, workgroups: this.rowGrid(g.rows) });
    this.releaseAll(temps);
  }

  /** Labels that are not class indices give a NaN loss (the device cannot throw). */
  crossEntropy(logits: Storage, labels: Storage, loss: Storage, probs: Storage, g: RowsGeom,
    smoothing: number): void {
    const op = 'crossEntropy';
    checkPositive(op, g, ['rows', 'cols']);
    const n = g.rows * g.cols;
    const rowLoss = this.rt.alloc(g.rows);
    this.rt.dispatch({ shader: 'crossentropy', entry: 'forward', constants: { WG: ROW_WG },
      bindings: [this.st(op, 'logits', logits, n), this.st(op, 'labels', labels, g.rows),
        this.st(op, 'probs', probs, n), rowLoss],
      params: { u: [g.rows, g.cols], f: [smoothing] }, workgroups: this.rowGrid(g.rows) });
    this.reduce('sum', [rowLoss], this.st(op, 'loss', loss, 1), 0, g.rows, 1 / g.rows);
    this.rt.release(rowLoss);
  }

  crossEntropyBackward(probs: Storage, labels: Storage, dloss: Storage, dlogits: Storage,
    g: RowsGeom, smoothing: number): void {
    const op = 'crossEntropyBackward';
    checkPositive(op, g, ['rows', 'cols']);
    const n = g.rows * g.cols;
    const { inputs, temps } = this.distinctInputs([this.st(op, 'probs', probs, n),
      this.st(op, 'labels', labels, g.rows), this.st(op, 'dloss', dloss, 1)], [n, g.rows, 1]);
    this.rt.dispatch1D({ shader: 'crossentropy', entry: 'backward', threads: n, workgroupSize: WG,
      bindings: [...inputs, this.st(op, 'dlogits', dlogits, n)],
      params: { u: [g.rows, g.cols], f: [smoothing] } });
    this.releaseAll(temps);
  }

  correctCount(logits: Storage, labels: Storage, out: Storage, outIndex: number, g: RowsGeom): void {
    const op = 'correctCount';
    checkCount(op, 'rows', g.rows);
    checkPositive(op, g, ['cols']);
    checkCount(op, 'outIndex', outIndex);
    const n = g.rows * g.cols;
    this.rt.dispatch({ shader: 'crossentropy', entry: 'correct_count', constants: { WG: ROW_WG },
      bindings: [this.st(op, 'logits', logits, n), this.st(op, 'labels', labels, g.rows),
        this.st(op, 'out', out, outIndex + 1)],
      params: { u: [g.rows, g.cols, outIndex] }, workgroups: [1, 1, 1] });
  }

  // ---- channel slicing ----------------------------------------------------------------------

  copyChannels(src: Storage, dst: Storage, g: ChannelCopyGeom): void {
    const op = 'copyChannels';
    const { N, HW, srcC, srcOffset, dstC, dstOffset, count, accumulate } = g;
    for (const [k, v] of Object.entries({ N, HW, srcC, srcOffset, dstC, dstOffset, count })) checkCount(op, k, v);
    if (srcOffset + count > srcC) throw new GpuError(`${op}: source channels [${srcOffset}, ${srcOffset + count}) outside 0..${srcC}`);
    if (dstOffset + count > dstC) throw new GpuError(`${op}: destination channels [${dstOffset}, ${dstOffset + count}) outside 0..${dstC}`);
    const s = this.st(op, 'src', src, N * srcC * HW), d = this.st(op, 'dst', dst, N * dstC * HW);
    const total = N * count * HW;
    if (total === 0) return;
    if (s === d) throw new GpuError(`${op}: src and dst are the same storage`);
    this.rt.dispatch1D({ shader: 'copy_channels', bindings: [s, d], threads: total, workgroupSize: WG,
      params: { u: [total, HW, srcC, srcOffset, dstC, dstOffset, count, accumulate ? 1 : 0] } });
  }

  // ---- optimizers ---------------------------------------------------------------------------

  sgdStep(param: Storage, grad: Storage, momBuf: Storage | null, n: number, p: SgdParams): void {
    const op = 'sgdStep';
    checkCount(op, 'n', n);
    const pa = this.st(op, 'param', param, n), gr = this.st(op, 'grad', grad, n);
    if (pa === gr) throw new GpuError(`${op}: param and grad are the same storage`);
    if (p.momentum !== 0) {
      if (!momBuf) throw new GpuError(`${op}: momentum ${p.momentum} needs a momentum buffer`);
      this.rt.dispatch1D({ shader: 'optim', entry: 'sgd_momentum', threads: n, workgroupSize: WG,
        bindings: [pa, gr, this.st(op, 'momBuf', momBuf, n)],
        params: { u: [n, p.nesterov ? 1 : 0], f: [p.lr, p.momentum, p.dampening, p.weightDecay] } });
    } else {
      this.rt.dispatch1D({ shader: 'optim', entry: 'sgd', threads: n, workgroupSize: WG, bindings: [pa, gr],
        params: { u: [n, 0], f: [p.lr, p.momentum, p.dampening, p.weightDecay] } });
    }
  }

  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, p: AdamParams): void {
    const op = 'adamStep';
    checkCount(op, 'n', n);
    if (!(Number.isInteger(p.step) && p.step >= 1)) throw new GpuError(`${op}: step ${p.step} must be a positive integer (1-based)`);
    const stepSize = p.lr / (1 - Math.pow(p.beta1, p.step));
    const bias2Sqrt = Math.sqrt(1 - Math.pow(p.beta2, p.step));
    this.rt.dispatch1D({ shader: 'optim', entry: 'adam', threads: n, workgroupSize: WG,
      bindings: [this.st(op, 'param', param, n), this.st(op, 'grad', grad, n), this.st(op, 'm', m, n),
        this.st(op, 'v', v, n)],
      params: { u: [n], f: [stepSize, p.beta1, p.beta2, p.eps, p.weightDecay, bias2Sqrt] } });
  }

  clipFactor(sq: Storage, k: number, maxNorm: number, out: Storage): void {
    checkCount('clipFactor', 'k', k);
    this.rt.dispatch({ shader: 'optim', entry: 'clip_factor', constants: { WG },
      bindings: [this.st('clipFactor', 'sq', sq, k), this.st('clipFactor', 'out', out, 1)],
      params: { u: [k], f: [maxNorm] }, workgroups: [1, 1, 1] });
  }

  sumSquaresMulti(xs: TensorRef[], out: Storage): void {
    multiK.sumSquaresMulti(this.rt, xs, out as GpuStorage);
  }

  scaleInPlaceByElementMulti(xs: TensorRef[], f: Storage, fIndex: number): void {
    multiK.scaleInPlaceByElementMulti(this.rt, xs, f as GpuStorage, fIndex);
  }

  sgdStepMulti(items: SgdItem[], p: SgdParams): void {
    multiK.sgdStepMulti(this.rt, items, p);
  }

  sgdStepFlat(param: Storage, grad: Storage, momBuf: Storage, segs: Storage, nseg: number, p: SgdParams): void {
    flatK.sgdStepFlat(this.rt, param as GpuStorage, grad as GpuStorage, momBuf as GpuStorage, segs as GpuStorage, nseg, p);
  }

  clipGradNormFlat(grad: Storage, segs: Storage, nseg: number, maxNorm: number): void {
    flatK.clipGradNormFlat(this.rt, grad as GpuStorage, segs as GpuStorage, nseg, maxNorm);
  }

  scaleInPlaceByElement(x: Storage, f: Storage, fIndex: number, n: number): void {
    const op = 'scaleInPlaceByElement';
    checkCount(op, 'n', n);
    checkCount(op, 'fIndex', fIndex);
    const xs = this.st(op, 'x', x, n), fs = this.st(op, 'f', f, fIndex + 1);
    if (xs === fs) throw new GpuError(`${op}: x and f are the same storage`);
    this.ew('scale_in_place_by_element', [xs, fs], n, { index: fIndex });
  }
}
