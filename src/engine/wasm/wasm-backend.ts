// The wasm backend: the Backend contract on CPUs with Wasm SIMD kernels (assembly/kernels/) where the
// time goes — the convolutions (forward, input gradient, weight gradient; any stride, padding,
// dilation and groups; the fused ReLU on the input) — and the CPU reference backend's TypeScript
// kernels, inherited, for everything else (elementwise, batch norm, pooling, softmax, optimizers:
// memory-bound and a small share of an NB201 step). All storages live in one WebAssembly.Memory
// (memory.ts), so both kinds of kernel work on the same arrays without copies.
import type {
  Backend, BatchNormGeom, MatmulGeom, BnBackwardTerm, ChannelGeom, ConvGeom, GradWrite, MixedTerm, PoolGeom, ScaleRef, Storage,
} from '../backend.js';
import { CpuBackend, checkConvGeom, checkCount, checkPoolGeom, checkPositive, checkWeightIndices } from '../cpu/cpu-backend.js';
import type { CpuStorage } from '../cpu/storage.js';
import { convFlops, convScratchFloats, flipWeights, isPointwise, packForward, packInputGrad, pointwiseWeightGrad, transposedPadding, weightGradBatch } from './conv.js';
import { WasmMemoryPool, WasmStorage } from './memory.js';
import { instantiateKernels, kernelModule, PAGE_BYTES, sharedMemorySupported, type KernelExports } from './module.js';
import { convTask, kernelTask, Task, type KernelName } from './tasks.js';
import { kernelThreadsHere, ThreadPool } from './threads.js';
import { switches } from '../switches.js';

export interface WasmBackendOptions {
  /** Threads, the calling one included (default: the machine's cores; 1 where memory cannot be
   *  shared or kernel threads cannot run: a page's main thread, a page not cross-origin isolated). */
  threads?: number;
  /** Browsers: the kernel worker script (default: gmnas.kernel-worker.js next to the bundle). */
  kernelWorkerUrl?: string | URL;
  /** µs a worker polls for its next task, and the caller for the workers, before sleeping
   *  (threads.ts; default DEFAULT_SPIN_MICROS; 0: sleep at once). */
  spinMicros?: number;
  /** Size of the memory when it cannot be shared (and so cannot grow), in MiB; default 1024. */
  memoryMiB?: number;
}

/** The cores this runtime reports (Node: os.availableParallelism; browsers: hardwareConcurrency; else 1). */
export async function defaultThreadCount(): Promise<number> {
  if (typeof process === 'object' && process.versions?.node) {
    const spec = 'node:os'; // non-literal: browser bundles must not try to resolve it
    const os = await import(/* @vite-ignore */ spec) as { availableParallelism?: () => number; cpus: () => unknown[] };
    return Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  }
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Number.isInteger(n) && n! > 0 ? n! : 1;
}

/** [lo, hi) ranges splitting `total` items into at most `parts` near-equal non-empty pieces. */
function split(total: number, parts: number): [number, number][] {
  const p = Math.max(1, Math.min(parts, total));
  const out: [number, number][] = [];
  for (let i = 0; i < p; i++) out.push([Math.floor((i * total) / p), Math.floor(((i + 1) * total) / p)]);
  return out;
}

/** Below this many floats streamed (memory-bound kernels), or FLOPs / 16 (GEMMs, convolutions) — a few
 *  µs of work — a call runs on the calling thread alone: handing out parts would cost as much. */
const MIN_SPLIT_WORK = 16384;

export class WasmBackend extends CpuBackend {
  override readonly kind: Backend['kind'] = 'wasm';
  override readonly description: string;
  /** Whether the kernels are the relaxed-SIMD (fused multiply-add) build. */
  readonly relaxedSimd: boolean;
  readonly sharedMemory: boolean;
  private readonly k: KernelExports;
  private readonly wasmPool: WasmMemoryPool;
  private readonly threads: ThreadPool;

  private constructor(pool: WasmMemoryPool, k: KernelExports, relaxed: boolean, threads: ThreadPool) {
    super(pool);
    this.wasmPool = pool;
    this.k = k;
    this.threads = threads;
    this.relaxedSimd = relaxed;
    this.sharedMemory = pool.shared;
    this.description = `Wasm ${relaxed ? 'relaxed ' : ''}SIMD128, ${threads.size} thread${threads.size > 1 ? 's' : ''}, ` +
      `${pool.shared ? 'shared' : 'unshared'} memory`;
  }

  /** The kernel threads (their call counts and switches: benches and tests). */
  get threadPool(): ThreadPool { return this.threads; }

  /** Threads the kernels run on, the calling one included. */
  get threadCount(): number { return this.threads.size; }

  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 256)) {
      throw new Error(`wasm backend: threads ${opts.threads} must be an integer in [1, 256]`);
    }
    const shared = sharedMemorySupported();
    const threads = shared && kernelThreadsHere() ? (opts.threads ?? await defaultThreadCount()) : 1;
    const { module, relaxed } = kernelModule(shared);
    let memory: WebAssembly.Memory;
    if (shared) {
      memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    } else {
      const mib = opts.memoryMiB ?? 1024;
      if (!(Number.isInteger(mib) && mib >= 16 && mib <= 4095)) throw new Error(`wasm backend: memoryMiB ${mib} must be an integer in [16, 4095]`);
      const pages = (mib * 2 ** 20) / PAGE_BYTES;
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    }
    const pool = new WasmMemoryPool(memory, shared);
    const k = instantiateKernels(module, memory);
    const pool_ = await ThreadPool.create(k, module, memory, threads, opts.kernelWorkerUrl);
    if (opts.spinMicros !== undefined) pool_.spinMicros = opts.spinMicros;
    return new WasmBackend(pool, k, relaxed, pool_);
  }

  override dispose(): void {
    this.threads.dispose();
    super.dispose();
  }

  /** How many parts a call with `total` items and `work` (see MIN_SPLIT_WORK) is split into. */
  private parts(total: number, work: number): [number, number][] {
    return split(total, work < MIN_SPLIT_WORK ? 1 : this.threads.size);
  }

  /** Run kernel `name` split over `total` items (`work`: floats it streams, see MIN_SPLIT_WORK):
   *  argsFor(lo, hi, part) gives one part's arguments. */
  private par(name: KernelName, total: number, work: number, argsFor: (lo: number, hi: number, t: number) => number[]): void {
    const parts = this.parts(total, work);
    parts.forEach(([lo, hi], t) => kernelTask(this.threads.block(t), name, argsFor(lo, hi, t)));
    this.threads.run(parts.length);
  }

  /** Storages must be this backend's (their byte offsets are pointers into its memory). */
  protected override arr(op: string, name: string, s: Storage, need: number): Float32Array {
    if (!(s instanceof WasmStorage)) throw new Error(`${op}: ${name} is not a storage of the wasm backend`);
    return super.arr(op, name, s, need);
  }

  private ptr(op: string, name: string, s: Storage, need: number): number {
    return this.arr(op, name, s, need).byteOffset;
  }

  private temp(n: number): CpuStorage {
    return this.wasmPool.alloc(n);
  }

  // ---- convolutions (conv.ts), samples split between threads ----------------------------------

  override conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void {
    const op = 'conv2d';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const xp = this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W), wp = this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW);
    const bp = bias ? this.ptr(op, 'bias', bias, g.Cout) : 0, yp = this.ptr(op, 'y', y, g.N * g.Cout * g.OH * g.OW);
    const per = convScratchFloats(g), parts = this.parts(g.N, convFlops(g) / 16);
    const nw = (g.Cout * (g.Cin / g.groups) * g.KH * g.KW + 15) & ~15;
    this.withTemp(nw + per * parts.length, (ptr) => {
      const packed = switches.wasmPackedGemm && packForward(this.k, g, wp, ptr) ? ptr : 0;
      const scratch = ptr + 4 * nw;
      parts.forEach(([n0, n1], t) => convTask(this.threads.block(t), Task.ConvForward, g,
        [xp, wp, bp, yp, n0, n1, scratch + 4 * per * t, packed]));
      this.threads.run(parts.length);
    });
  }

  override conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x: Storage | null = null, accumulate = false): void {
    const op = 'conv2dInputGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    if (g.reluInput && !x) throw new Error(`${op}: a fused-ReLU conv (reluInput) needs the pre-ReLU input x to mask dx`);
    const n = g.N * g.Cin * g.H * g.W;
    const dyp = this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW), wp = this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW);
    const dxp = this.ptr(op, 'dx', dx, n), xp = g.reluInput ? this.ptr(op, 'x', x!, n) : 0;
    const nw = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
    const flipped = !isPointwise(g) && transposedPadding(g) ? (nw + 15) & ~15 : 0, packRoom = (nw + 15) & ~15;
    const per = convScratchFloats(g), parts = this.parts(g.N, convFlops(g) / 16);
    this.withTemp(flipped + packRoom + per * parts.length, (ptr, f32) => {
      if (flipped) flipWeights(this.arr(op, 'w', w, nw), g, f32);
      const packAt = ptr + 4 * flipped;
      const packed = switches.wasmPackedGemm && packInputGrad(this.k, g, wp, flipped ? ptr : 0, packAt) ? packAt : 0;
      const scratch = packAt + 4 * packRoom;
      parts.forEach(([n0, n1], t) => convTask(this.threads.block(t), Task.ConvInputGrad, g,
        [dyp, wp, flipped ? ptr : 0, dxp, xp, accumulate ? 1 : 0, n0, n1, scratch + 4 * per * t, packed]));
      this.threads.run(parts.length);
    });
  }

  /** Each thread sums its samples' weight gradient into its own buffer (thread 0: dw itself); the
   *  partial sums are then added into dw. */
  override conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void {
    const op = 'conv2dWeightGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const nw = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
    const dyp = this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW), xp = this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W);
    const dwp = this.ptr(op, 'dw', dw, nw);
    const per = convScratchFloats(g), parts = this.parts(g.N, convFlops(g) / 16);
    const partial = (nw + 15) & ~15; // keeps each partial buffer 64-byte aligned
    // samples per wgradImplicit call (0: patch matrices and gemmNT); one where wgradBatch is off (A/B)
    const most = switches.wasmPackedGemm ? weightGradBatch(g) : 0;
    const batch = most && !switches.wasmWeightGradBatch ? (pointwiseWeightGrad(g) ? 0 : 1) : most;
    this.withTemp((per + partial) * parts.length, (ptr) => {
      const partials = ptr + 4 * per * parts.length;
      parts.forEach(([n0, n1], t) => convTask(this.threads.block(t), Task.ConvWeightGrad, g,
        [dyp, xp, t === 0 ? dwp : partials + 4 * partial * t, n0, n1, 0, ptr + 4 * per * t, batch]));
      this.threads.run(parts.length);
      for (let t = 1; t < parts.length; t++) this.k.axpy(partials + 4 * partial * t, 1, dwp, nw, 1);
    });
  }

  // ---- batch norm and mixed sums ----------------------------------------------------------------
  // Per-channel sums come back from Wasm as f64 and are combined here per channel (C values); the
  // passes over the tensors are Wasm kernels. Statistics follow src/engine/cpu/batchnorm.ts: two passes
  // (mean, then squared deviations), biased variance to normalise, unbiased for the running variance.

  /** Temporary Wasm storage of `floats` values, handed to fn as its pointer and its f32/f64 views. */
  private withTemp<T>(floats: number, fn: (ptr: number, f32: Float32Array, f64: Float64Array) => T): T {
    const t = this.temp(floats + 2);
    try {
      const ptr = t.data.byteOffset; // 64-byte aligned
      return fn(ptr, t.data, new Float64Array(t.data.buffer, ptr, Math.floor(floats / 2)));
    } finally {
      this.wasmPool.release(t);
    }
  }

  /** mean and invstd per channel of x (f64), from two Wasm passes over each channel in one call
   *  (chanMeanSqDev: the mean is rounded to f32 between them, as the two-call form did). */
  private channelStats(x: number, g: BatchNormGeom): { mean: Float64Array; invStd: Float64Array; unbiased: Float64Array } {
    const { N, C, HW, eps } = g, count = N * HW;
    const mean = new Float64Array(C), invStd = new Float64Array(C), unbiased = new Float64Array(C);
    this.withTemp(4 * C, (ptr, _f32, f64) => {
      this.par('chanMeanSqDev', C, 2 * N * C * HW, (c0, c1) => [x, N, C, HW, count, ptr, ptr + 8 * C, c0, c1]);
      for (let c = 0; c < C; c++) {
        mean[c] = f64[c] / count;
        const ss = f64[C + c];
        invStd[c] = 1 / Math.sqrt(ss / count + eps);
        unbiased[c] = count > 1 ? ss / (count - 1) : ss / count;
      }
    });
    return { mean, invStd, unbiased };
  }

  private updateRunning(op: string, g: BatchNormGeom, mean: Float64Array, unbiased: Float64Array,
    runMean: Storage | null, runVar: Storage | null): void {
    const m = g.momentum;
    if (runMean) { const r = this.arr(op, 'runMean', runMean, g.C); for (let c = 0; c < g.C; c++) r[c] = (1 - m) * r[c] + m * mean[c]; }
    if (runVar) { const r = this.arr(op, 'runVar', runVar, g.C); for (let c = 0; c < g.C; c++) r[c] = (1 - m) * r[c] + m * unbiased[c]; }
  }

  /** y = x·scale[c] + shift[c] (f32 coefficients written to a temporary) */
  private applyAffine(x: number, scale: ArrayLike<number>, shift: ArrayLike<number>, y: number, g: ChannelGeom): void {
    this.withTemp(2 * g.C, (ptr, f32) => {
      for (let c = 0; c < g.C; c++) { f32[c] = scale[c]; f32[g.C + c] = shift[c]; }
      this.par('chanAffine', g.N, g.N * g.C * g.HW, (n0, n1) => [x, ptr, ptr + 4 * g.C, 1, y, g.N, g.C, g.HW, 0, n0, n1]);
    });
  }

  override batchNormTrain(x: Storage, gamma: Storage | null, beta: Storage | null, y: Storage,
    saveMean: Storage, saveInvStd: Storage, runMean: Storage | null, runVar: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormTrain', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const ga = gamma ? this.arr(op, 'gamma', gamma, C) : null, be = beta ? this.arr(op, 'beta', beta, C) : null;
    const sm = this.arr(op, 'saveMean', saveMean, C), si = this.arr(op, 'saveInvStd', saveInvStd, C);
    const xp = this.ptr(op, 'x', x, n), yp = this.ptr(op, 'y', y, n);
    const { mean, invStd, unbiased } = this.channelStats(xp, g);
    const scale = new Float64Array(C), shift = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      sm[c] = mean[c]; si[c] = invStd[c];
      scale[c] = ga ? ga[c] * invStd[c] : invStd[c];
      shift[c] = (be ? be[c] : 0) - mean[c] * scale[c];
    }
    this.applyAffine(xp, scale, shift, yp, g);
    this.updateRunning(op, g, mean, unbiased, runMean, runVar);
  }

  override batchNormStats(x: Storage, gamma: Storage | null, beta: Storage | null, stats: Storage,
    runMean: Storage | null, runVar: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormStats', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    if (!!gamma !== !!beta) throw new Error(`${op}: gamma and beta must be both given or both null`);
    if (!!runMean !== !!runVar) throw new Error(`${op}: runMean and runVar must be both given or both null`);
    const ga = gamma ? this.arr(op, 'gamma', gamma, C) : null, be = beta ? this.arr(op, 'beta', beta, C) : null;
    const st = this.arr(op, 'stats', stats, 4 * C);
    const { mean, invStd, unbiased } = this.channelStats(this.ptr(op, 'x', x, n), g);
    this.updateRunning(op, g, mean, unbiased, runMean, runVar);
    for (let c = 0; c < C; c++) {
      st[c] = mean[c];
      st[C + c] = invStd[c];
      const inv = st[C + c]; // the stored (f32) invstd, as the reference derives scale from it
      const scale = Math.fround((ga ? ga[c] : 1) * inv);
      st[2 * C + c] = scale;
      st[3 * C + c] = (be ? be[c] : 0) - st[c] * scale;
    }
  }

  override batchNormApply(x: Storage, stats: Storage, y: Storage, g: ChannelGeom): void {
    const op = 'batchNormApply', n = g.N * g.C * g.HW;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const st = this.ptr(op, 'stats', stats, 4 * g.C);
    const xp = this.ptr(op, 'x', x, n), yp = this.ptr(op, 'y', y, n);
    this.par('chanAffine', g.N, g.N * g.C * g.HW, (n0, n1) => [xp, st + 8 * g.C, st + 12 * g.C, 1, yp, g.N, g.C, g.HW, 0, n0, n1]);
  }

  /**
   * The batch-norm input gradient for one layer, dy scaled by f: with xhat = (x − mean)·invstd and
   * k = γ·invstd, dx = k·(f·dy − mean(f·dy) − xhat·mean(f·dy·xhat)) = s·(p·dy + q·(x − mean) + r) per channel.
   * Returns Σ f·dy (dβ) and Σ f·dy·xhat (dγ) per channel.
   */
  private bnBackward(dy: number, x: number, dx: number, f: number, gamma: Float32Array | null,
    mean: ArrayLike<number>, invStd: ArrayLike<number>, g: ChannelGeom, accumulate: boolean): { sumDy: Float64Array; sumDyXhat: Float64Array } {
    const C = g.C;
    return this.withTemp(4 + 5 * C, (ptr, f32, f64) => { // table (2 f64) | sums (2·C f64) | mean (C f32)
      const meanF = new Float32Array(f32.buffer, ptr + 16 + 16 * C, C);
      for (let c = 0; c < C; c++) meanF[c] = mean[c];
      f64[0] = x; f64[1] = meanF.byteOffset;
      this.dotTerms(dy, ptr, 1, g, ptr + 16); // Σ dy·(x − mean) | Σ dy
      return this.bnBackwardApply(dy, x, dx, f, gamma, meanF.byteOffset, invStd, g, accumulate, f64.subarray(2 + C, 2 + 2 * C), f64.subarray(2, 2 + C));
    });
  }

  /** chanDotTerms over T terms (table at `table`: x, mean pointers) and Σ dy, into `out` (f64[(T + 1)·C]). */
  private dotTerms(dy: number, table: number, T: number, g: ChannelGeom, out: number): void {
    this.par('chanDotTerms', g.C, (T + 1) * g.N * g.C * g.HW, (c0, c1) => [dy, table, T, g.N, g.C, g.HW, 1, out, c0, c1]);
  }

  /** bnBackward once Σ dy (rawSum) and Σ dy·(x − mean) (rawDot) are known; mean: f32[C] at meanPtr. */
  private bnBackwardApply(dy: number, x: number, dx: number, f: number, gamma: Float32Array | null, meanPtr: number,
    invStd: ArrayLike<number>, g: ChannelGeom, accumulate: boolean, rawSum: Float64Array, rawDot: Float64Array): { sumDy: Float64Array; sumDyXhat: Float64Array } {
    const { N, C, HW } = g;
    return this.withTemp(4 * C, (ptr, p) => { // p | q | r | s
      const sums = bnBackwardCoefficients(f, gamma, invStd, g, rawSum, rawDot, p);
      this.par('chanBackward', N, N * C * HW, (n0, n1) => [dy, x, ptr, ptr + 4 * C, meanPtr, ptr + 8 * C, ptr + 12 * C,
        dx, N, C, HW, accumulate ? 1 : 0, n0, n1]);
      return sums;
    });
  }

  override batchNormBackward(dy: Storage, x: Storage, gamma: Storage | null, saveMean: Storage,
    saveInvStd: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormBackward', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const ga = gamma ? this.arr(op, 'gamma', gamma, C) : null;
    const r = this.bnBackward(this.ptr(op, 'dy', dy, n), this.ptr(op, 'x', x, n), this.ptr(op, 'dx', dx, n), 1, ga,
      this.arr(op, 'saveMean', saveMean, C), this.arr(op, 'saveInvStd', saveInvStd, C), g, false);
    if (dgamma) this.arr(op, 'dgamma', dgamma, C).set(r.sumDyXhat);
    if (dbeta) this.arr(op, 'dbeta', dbeta, C).set(r.sumDy);
  }

  override batchNormStatsBackward(dy: Storage, dyScale: ScaleRef | null, x: Storage, gamma: Storage | null, stats: Storage,
    dx: Storage, dgamma: Storage | null, dbeta: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormStatsBackward', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    let f = 1;
    if (dyScale) {
      checkCount(op, 'dyScale.index', dyScale.index);
      f = this.arr(op, 'dyScale.w', dyScale.w, dyScale.index + 1)[dyScale.index];
    }
    const ga = gamma ? this.arr(op, 'gamma', gamma, C) : null;
    const st = this.arr(op, 'stats', stats, 4 * C);
    const r = this.bnBackward(this.ptr(op, 'dy', dy, n), this.ptr(op, 'x', x, n), this.ptr(op, 'dx', dx, n), f, ga,
      st.subarray(0, C), st.subarray(C, 2 * C), g, false);
    if (dgamma) this.arr(op, 'dgamma', dgamma, C).set(r.sumDyXhat);
    if (dbeta) this.arr(op, 'dbeta', dbeta, C).set(r.sumDy);
  }

  /** The terms' Σ dy and Σ dy·(x − mean) in one call (chanDotTerms; Σ dy once for all: the same dy),
   *  then each term's input gradient — as batchNormStatsBackward per term, with fewer hand-offs. */
  override batchNormStatsBackwardMulti(dy: Storage, w: Storage | null, terms: BnBackwardTerm[], g: ChannelGeom): void {
    const op = 'batchNormStatsBackward', n = g.N * g.C * g.HW, C = g.C, T = terms.length;
    checkPositive(op, g, ['N', 'C', 'HW']);
    if (!T) return;
    this.launch(op, 0);
    const dyp = this.ptr(op, 'dy', dy, n);
    const wv = w ? this.arr(op, 'w', w, Math.max(...terms.map((t) => t.wIndex)) + 1) : null;
    terms.forEach((t, k) => checkCount(op, `terms[${k}].wIndex`, t.wIndex));
    this.withTemp(4 * T + 2 * (T + 1) * C, (ptr, _f32, f64) => {
      terms.forEach((t, k) => { f64[2 * k] = this.ptr(op, `terms[${k}].x`, t.x, n); f64[2 * k + 1] = this.ptr(op, `terms[${k}].stats`, t.stats, 4 * C); });
      this.dotTerms(dyp, ptr, T, g, ptr + 16 * T);
      const r = f64.subarray(2 * T), rawSum = r.subarray(T * C, (T + 1) * C);
      // then every term's input gradient in one call (chanBackwardTerms): coefficients p | q | r | s
      // per term, and a table of (x, p, q, mean, r, s, dx, acc)
      this.withTemp(16 * T + 4 * T * C, (tab, f32b, f64b) => {
        const coef = tab + 64 * T;
        terms.forEach((t, k) => {
          const st = this.arr(op, `terms[${k}].stats`, t.stats, 4 * C), at = coef + 16 * C * k;
          bnBackwardCoefficients(wv ? wv[t.wIndex] : 1, null, st.subarray(C, 2 * C), g, rawSum, r.subarray(k * C, (k + 1) * C),
            new Float32Array(f32b.buffer, at, 4 * C));
          f64b.set([f64[2 * k], at, at + 4 * C, f64[2 * k + 1], at + 8 * C, at + 12 * C, this.ptr(op, `terms[${k}].dx`, t.dx, n), 0], 8 * k);
        });
        this.par('chanBackwardTerms', g.N, T * n, (n0, n1) => [dyp, tab, T, g.N, C, g.HW, n0, n1]);
      });
    });
  }

  override mixedSum(terms: MixedTerm[], w: Storage, out: Storage, g: ChannelGeom): void {
    const op = 'mixedSum', n = g.N * g.C * g.HW;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const o = this.ptr(op, 'out', out, n);
    terms.forEach((t, k) => checkCount(op, `terms[${k}].wIndex`, t.wIndex));
    if (!terms.length) { this.arr(op, 'out', out, n).fill(0, 0, n); return; }
    const wv = this.arr(op, 'w', w, Math.max(...terms.map((t) => t.wIndex)) + 1);
    // all terms in one call (mixedSumTerms): a table of (x, scale, shift, k) per term
    this.withTemp(8 * terms.length, (ptr, _f32, f64) => {
      terms.forEach((t, k) => {
        const st = t.stats ? this.ptr(op, `terms[${k}].stats`, t.stats, 4 * g.C) : 0;
        f64.set([this.ptr(op, `terms[${k}].x`, t.x, n), st ? st + 8 * g.C : 0, st ? st + 12 * g.C : 0, wv[t.wIndex]], 4 * k);
      });
      this.par('mixedSumTerms', g.N, terms.length * n, (n0, n1) => [ptr, terms.length, o, g.N, g.C, g.HW, n0, n1]);
    });
  }

  override mixedDots(dy: Storage, terms: MixedTerm[], dw: Storage, dwSize: number, g: ChannelGeom, accumulate = false): void {
    const op = 'mixedDots', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    checkCount(op, 'dwSize', dwSize);
    this.launch(op, 0);
    const d = this.ptr(op, 'dy', dy, n), o = this.arr(op, 'dw', dw, dwSize);
    checkWeightIndices(op, terms, dwSize);
    if (!accumulate) o.fill(0, 0, dwSize);
    // every term's Σ dy·x (and Σ dy, for BN-applied terms) in one call (chanDotTerms)
    const T = terms.length, withSum = terms.some((t) => t.stats);
    this.withTemp(4 * T + 2 * (T + 1) * C, (ptr, _f32, f64) => {
      terms.forEach((t, k) => { f64[2 * k] = this.ptr(op, `terms[${k}].x`, t.x, n); f64[2 * k + 1] = 0; });
      const sums = ptr + 16 * T; // after the table's 2·T f64
      this.par('chanDotTerms', C, (T + 1) * n, (c0, c1) => [d, ptr, T, g.N, C, g.HW, withSum ? 1 : 0, sums, c0, c1]);
      const r = f64.subarray(2 * T), sumDy = r.subarray(T * C, (T + 1) * C);
      terms.forEach((t, k) => {
        const st = t.stats ? this.arr(op, `terms[${k}].stats`, t.stats, 4 * C) : null;
        let s = 0;
        for (let c = 0; c < C; c++) s += st ? st[2 * C + c] * r[k * C + c] + st[3 * C + c] * sumDy[c] : r[k * C + c];
        o[t.wIndex] = accumulate ? o[t.wIndex] + Math.fround(s) : s;
      });
    });
  }

  override addScaledInPlace(acc: Storage, x: Storage, w: Storage, wIndex: number, n: number): void {
    const op = 'addScaledInPlace';
    this.launch(op, n);
    checkCount(op, 'wIndex', wIndex);
    const f = this.arr(op, 'w', w, wIndex + 1)[wIndex];
    this.parAxpy(this.ptr(op, 'x', x, n), f, this.ptr(op, 'acc', acc, n), n, true);
  }

  /** out = (acc ? out : 0) + k·x, split in 64-byte-aligned pieces */
  private parAxpy(x: number, k: number, out: number, n: number, acc: boolean): void {
    const blocks = Math.ceil(n / 16);
    this.par('axpy', blocks, n, (b0, b1) => [x + 64 * b0, k, out + 64 * b0, Math.min(n, 16 * b1) - 16 * b0, acc ? 1 : 0]);
  }

  // ---- pooling (average and max) --------------------------------------------------------------

  override pool2d(x: Storage, y: Storage, g: PoolGeom): void {
    const op = 'pool2d';
    checkPoolGeom(op, g);
    this.launch(op, 0);
    const xp = this.ptr(op, 'x', x, g.N * g.C * g.H * g.W), yp = this.ptr(op, 'y', y, g.N * g.C * g.OH * g.OW);
    if (g.kind === 'max') {
      this.par('maxPool', g.N * g.C, g.N * g.C * g.H * g.W, (p0, p1) => [xp, yp, g.H, g.W, g.OH, g.OW, g.KH, g.KW,
        g.strideH, g.strideW, g.padH, g.padW, p0, p1]);
      return;
    }
    if (g.strideH === 1 && g.strideW === 1) {
      const row = (g.W + 15) & ~15; // one row of column sums per thread
      this.withTemp(row * this.threads.size, (tmp) => {
        this.par('avgPoolS1', g.N * g.C, g.N * g.C * g.H * g.W, (p0, p1, t) => [xp, yp, tmp + 4 * row * t, g.H, g.W, g.OH, g.OW, g.KH, g.KW,
          g.padH, g.padW, g.countIncludePad ? 1 : 0, p0, p1]);
      });
      return;
    }
    this.par('avgPool', g.N * g.C, g.N * g.C * g.H * g.W, (p0, p1) => [xp, yp, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW,
      g.countIncludePad ? 1 : 0, p0, p1]);
  }

  override pool2dBackward(dy: Storage, x: Storage, dx: Storage, g: PoolGeom, out: GradWrite = {}): void {
    const op = 'pool2dBackward';
    checkPoolGeom(op, g);
    this.launch(op, 0);
    const n = g.N * g.C * g.H * g.W;
    const xp = this.ptr(op, 'x', x, n);
    const scale = out.scale ? this.arr(op, 'scale.w', out.scale.w, out.scale.index + 1)[out.scale.index] : 1;
    const dyp = this.ptr(op, 'dy', dy, g.N * g.C * g.OH * g.OW), dxp = this.ptr(op, 'dx', dx, n);
    if (g.kind === 'max') {
      const plane = (2 * g.H * g.W + 4 + 15) & ~15; // H·W f64 sums and 4 offsets per part
      this.withTemp(plane * this.threads.size, (tmp) => {
        this.par('maxPoolBackward', g.N * g.C, n, (p0, p1, t) => [dyp, xp, dxp, tmp + 4 * plane * t, g.H, g.W, g.OH, g.OW, g.KH, g.KW,
          g.strideH, g.strideW, g.padH, g.padW, scale, out.accumulate ? 1 : 0, p0, p1]);
      });
      return;
    }
    if (g.strideH === 1 && g.strideW === 1) {
      const per = (g.OH * g.OW + 2 * g.OW + g.OH + 15) & ~15;
      this.withTemp(per * this.threads.size, (tmp) => {
        this.par('avgPoolBackwardS1', g.N * g.C, g.N * g.C * g.H * g.W, (p0, p1, t) => [dyp, dxp, tmp + 4 * per * t, g.H, g.W, g.OH, g.OW, g.KH, g.KW,
          g.padH, g.padW, g.countIncludePad ? 1 : 0, scale, out.accumulate ? 1 : 0, p0, p1]);
      });
      return;
    }
    const plane = (g.H * g.W + 15) & ~15;
    this.withTemp(plane * this.threads.size, (tmp) => {
      this.par('avgPoolBackward', g.N * g.C, g.N * g.C * g.H * g.W, (p0, p1, t) => [dyp, dxp, tmp + 4 * plane * t, g.H, g.W, g.OH, g.OW, g.KH, g.KW,
        g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0, scale, out.accumulate ? 1 : 0, p0, p1]);
    });
  }

  // ---- dense --------------------------------------------------------------------------------------

  /** The GEMM kernels, rows of the output split between threads; both operands transposed (no
   *  caller in the engine) stays on the reference. */
  override matmul(a: Storage, b: Storage, out: Storage, g: MatmulGeom): void {
    if (g.transA && g.transB) { super.matmul(a, b, out, g); return; }
    const op = 'matmul';
    for (const k of ['M', 'N', 'K'] as const) checkCount(op, k, g[k]);
    this.launch(op, 0);
    const { M, N, K } = g;
    const ap = this.ptr(op, 'a', a, M * K), bp = this.ptr(op, 'b', b, K * N), op_ = this.ptr(op, 'out', out, M * N);
    if (M === 0 || N === 0) return;
    if (K === 0) { this.arr(op, 'out', out, M * N).fill(0, 0, M * N); return; }
    if (g.transB) {
      this.par('gemmNT', M, (M * N * K) / 8, (m0, m1) => [ap, K, bp, K, op_, N, m0, m1, N, K, 0]);
    } else {
      // A(m, k) = a[m·K + k], or a[k·M + m] when a is stored transposed
      const [asm, ask] = g.transA ? [1, M] : [K, 1];
      this.par('gemmNN', M, (M * N * K) / 8, (m0, m1) => [ap, asm, ask, bp, N, op_, N, m0, m1, N, K, 0]);
    }
  }
}

/** The BN input-gradient map's coefficients (wasm-backend.ts bnBackward) into out = p | q | r | s
 *  (f32[4·C]) from Σ dy (rawSum) and Σ dy·(x − mean) (rawDot); returns Σ f·dy and Σ f·dy·xhat. */
function bnBackwardCoefficients(f: number, gamma: Float32Array | null, invStd: ArrayLike<number>, g: ChannelGeom,
  rawSum: Float64Array, rawDot: Float64Array, out: Float32Array): { sumDy: Float64Array; sumDyXhat: Float64Array } {
  const { C } = g, count = g.N * g.HW;
  const sumDy = new Float64Array(C), sumDyXhat = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const inv = invStd[c];
    sumDy[c] = f * rawSum[c];
    sumDyXhat[c] = inv * f * rawDot[c];
    out[c] = f;
    out[C + c] = -inv * (sumDyXhat[c] / count);
    out[2 * C + c] = -(sumDy[c] / count);
    out[3 * C + c] = (gamma ? gamma[c] : 1) * inv;
  }
  return { sumDy, sumDyXhat };
}
