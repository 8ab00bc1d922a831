// The wasm backend: the Backend contract on CPUs with Wasm SIMD kernels (assembly/kernels/) where the
// time goes — the convolutions (forward, input gradient, weight gradient; any stride, padding,
// dilation and groups; the fused ReLU on the input) — and the CPU reference backend's TypeScript
// kernels, inherited, for everything else (elementwise, batch norm, pooling, softmax, optimizers:
// memory-bound and a small share of an NB201 step). All storages live in one WebAssembly.Memory
// (memory.ts), so both kinds of kernel work on the same arrays without copies.
import type {
  Backend, BatchNormGeom, BnBackwardTerm, ChannelGeom, ConvGeom, GradWrite, MixedTerm, PoolGeom, ScaleRef, Storage,
} from '../backend.js';
import { CpuBackend, checkConvGeom, checkCount, checkPoolGeom, checkPositive } from '../cpu/cpu-backend.js';
import type { CpuStorage } from '../cpu/storage.js';
import { convForward, convInputGrad, convScratchFloats, convWeightGrad } from './conv.js';
import { WasmMemoryPool, WasmStorage } from './memory.js';
import { instantiateKernels, kernelModule, PAGE_BYTES, sharedMemorySupported, type KernelExports } from './module.js';

export interface WasmBackendOptions {
  /** Size of the memory when it cannot be shared (and so cannot grow), in MiB; default 1024. */
  memoryMiB?: number;
}

export class WasmBackend extends CpuBackend {
  override readonly kind: Backend['kind'] = 'wasm';
  override readonly description: string;
  /** Whether the kernels are the relaxed-SIMD (fused multiply-add) build. */
  readonly relaxedSimd: boolean;
  readonly sharedMemory: boolean;
  private readonly k: KernelExports;
  private readonly wasmPool: WasmMemoryPool;

  private constructor(pool: WasmMemoryPool, k: KernelExports, relaxed: boolean) {
    super(pool);
    this.wasmPool = pool;
    this.k = k;
    this.relaxedSimd = relaxed;
    this.sharedMemory = pool.shared;
    this.description = `Wasm ${relaxed ? 'relaxed ' : ''}SIMD128, 1 thread, ${pool.shared ? 'shared' : 'unshared'} memory`;
  }

  static create(opts: WasmBackendOptions = {}): WasmBackend {
    const shared = sharedMemorySupported();
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
    return new WasmBackend(pool, instantiateKernels(module, memory), relaxed);
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

  override conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void {
    const op = 'conv2d';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const s = this.temp(convScratchFloats(g));
    try {
      convForward(this.k, g, this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W),
        this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW),
        bias ? this.ptr(op, 'bias', bias, g.Cout) : 0,
        this.ptr(op, 'y', y, g.N * g.Cout * g.OH * g.OW), 0, g.N, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
  }

  override conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x: Storage | null = null, accumulate = false): void {
    const op = 'conv2dInputGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    if (g.reluInput && !x) throw new Error(`${op}: a fused-ReLU conv (reluInput) needs the pre-ReLU input x to mask dx`);
    const n = g.N * g.Cin * g.H * g.W;
    const s = this.temp(convScratchFloats(g));
    try {
      convInputGrad(this.k, g, this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW),
        this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), this.ptr(op, 'dx', dx, n),
        g.reluInput ? this.ptr(op, 'x', x!, n) : 0, accumulate, 0, g.N, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
  }

  override conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void {
    const op = 'conv2dWeightGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const s = this.temp(convScratchFloats(g));
    try {
      convWeightGrad(this.k, g, this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW),
        this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W),
        this.ptr(op, 'dw', dw, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), 0, g.N, false, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
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

  /** mean and invstd per channel of x (f64), from two Wasm passes. */
  private channelStats(x: number, g: BatchNormGeom): { mean: Float64Array; invStd: Float64Array; unbiased: Float64Array } {
    const { N, C, HW, eps } = g, count = N * HW;
    const mean = new Float64Array(C), invStd = new Float64Array(C), unbiased = new Float64Array(C);
    this.withTemp(3 * C, (ptr, f32, f64) => {
      this.k.chanSum(x, N, C, HW, ptr, 0, C);
      for (let c = 0; c < C; c++) mean[c] = f64[c] / count;
      const meanPtr = ptr + 8 * C; // f32[C] after the f64[C] block
      const meanF = new Float32Array(f32.buffer, meanPtr, C);
      for (let c = 0; c < C; c++) meanF[c] = mean[c];
      this.k.chanSqDev(x, meanPtr, N, C, HW, ptr, 0, C);
      for (let c = 0; c < C; c++) {
        const ss = f64[c];
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
      this.k.chanAffine(x, ptr, ptr + 4 * g.C, 1, y, g.N, g.C, g.HW, 0, 0, g.N);
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
    this.k.chanAffine(this.ptr(op, 'x', x, n), st + 8 * g.C, st + 12 * g.C, 1, this.ptr(op, 'y', y, n), g.N, g.C, g.HW, 0, 0, g.N);
  }

  /**
   * The batch-norm input gradient for one layer, dy scaled by f: with xhat = (x − mean)·invstd and
   * k = γ·invstd, dx = k·(f·dy − mean(f·dy) − xhat·mean(f·dy·xhat)) = s·(p·dy + q·(x − mean) + r) per channel.
   * Returns Σ f·dy (dβ) and Σ f·dy·xhat (dγ) per channel.
   */
  private bnBackward(dy: number, x: number, dx: number, f: number, gamma: Float32Array | null,
    mean: ArrayLike<number>, invStd: ArrayLike<number>, g: ChannelGeom, accumulate: boolean): { sumDy: Float64Array; sumDyXhat: Float64Array } {
    const { N, C, HW } = g, count = N * HW;
    const sumDy = new Float64Array(C), sumDyXhat = new Float64Array(C);
    this.withTemp(7 * C, (ptr, f32, f64) => {
      this.k.chanSum(dy, N, C, HW, ptr, 0, C);
      for (let c = 0; c < C; c++) sumDy[c] = f * f64[c];
      const p = new Float32Array(f32.buffer, ptr + 8 * C, 5 * C); // p | q | m | r | s
      for (let c = 0; c < C; c++) p[2 * C + c] = mean[c];
      this.k.chanDot(dy, x, ptr + 16 * C, N, C, HW, ptr, 0, C); // Σ dy·(x − mean)
      for (let c = 0; c < C; c++) {
        const inv = invStd[c];
        sumDyXhat[c] = inv * f * f64[c];
        p[c] = f;
        p[C + c] = -inv * (sumDyXhat[c] / count);
        p[3 * C + c] = -(sumDy[c] / count);
        p[4 * C + c] = (gamma ? gamma[c] : 1) * inv;
      }
      this.k.chanBackward(dy, x, ptr + 8 * C, ptr + 12 * C, ptr + 16 * C, ptr + 20 * C, ptr + 24 * C, dx, N, C, HW,
        accumulate ? 1 : 0, 0, N);
    });
    return { sumDy, sumDyXhat };
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

  override batchNormStatsBackwardMulti(dy: Storage, w: Storage | null, terms: BnBackwardTerm[], g: ChannelGeom): void {
    const bg: BatchNormGeom = { ...g, eps: 1e-5, momentum: 0 }; // eps and momentum unused by the backward
    for (const t of terms) this.batchNormStatsBackward(dy, w ? { w, index: t.wIndex } : null, t.x, null, t.stats, t.dx, null, null, bg);
  }

  override mixedSum(terms: MixedTerm[], w: Storage, out: Storage, g: ChannelGeom): void {
    const op = 'mixedSum', n = g.N * g.C * g.HW;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const o = this.ptr(op, 'out', out, n);
    terms.forEach((t, k) => checkCount(op, `terms[${k}].wIndex`, t.wIndex));
    if (!terms.length) { this.arr(op, 'out', out, n).fill(0, 0, n); return; }
    const wv = this.arr(op, 'w', w, Math.max(...terms.map((t) => t.wIndex)) + 1);
    terms.forEach((t, k) => {
      const xp = this.ptr(op, `terms[${k}].x`, t.x, n), c = wv[t.wIndex];
      if (t.stats) {
        const st = this.ptr(op, `terms[${k}].stats`, t.stats, 4 * g.C);
        this.k.chanAffine(xp, st + 8 * g.C, st + 12 * g.C, c, o, g.N, g.C, g.HW, k > 0 ? 1 : 0, 0, g.N);
      } else {
        this.k.axpy(xp, c, o, n, k > 0 ? 1 : 0);
      }
    });
  }

  override mixedDots(dy: Storage, terms: MixedTerm[], dw: Storage, dwSize: number, g: ChannelGeom, accumulate = false): void {
    const op = 'mixedDots', n = g.N * g.C * g.HW, C = g.C;
    checkPositive(op, g, ['N', 'C', 'HW']);
    checkCount(op, 'dwSize', dwSize);
    this.launch(op, 0);
    const d = this.ptr(op, 'dy', dy, n), o = this.arr(op, 'dw', dw, dwSize);
    const seen = new Set<number>();
    for (const t of terms) {
      checkCount(op, 'wIndex', t.wIndex);
      if (t.wIndex >= dwSize) throw new Error(`${op}: wIndex ${t.wIndex} outside dw of ${dwSize}`);
      if (seen.has(t.wIndex)) throw new Error(`${op}: wIndex ${t.wIndex} appears twice`);
      seen.add(t.wIndex);
    }
    if (!accumulate) o.fill(0, 0, dwSize);
    this.withTemp(4 * C, (ptr, _f32, f64) => {
      const sumDy = new Float64Array(C);
      if (terms.some((t) => t.stats)) { this.k.chanSum(d, g.N, C, g.HW, ptr, 0, C); sumDy.set(f64.subarray(0, C)); }
      terms.forEach((t, k) => {
        this.k.chanDot(d, this.ptr(op, `terms[${k}].x`, t.x, n), 0, g.N, C, g.HW, ptr, 0, C);
        const st = t.stats ? this.arr(op, `terms[${k}].stats`, t.stats, 4 * C) : null;
        let s = 0;
        for (let c = 0; c < C; c++) s += st ? st[2 * C + c] * f64[c] + st[3 * C + c] * sumDy[c] : f64[c];
        o[t.wIndex] = accumulate ? o[t.wIndex] + Math.fround(s) : s;
      });
    });
  }

  override addScaledInPlace(acc: Storage, x: Storage, w: Storage, wIndex: number, n: number): void {
    const op = 'addScaledInPlace';
    this.launch(op, n);
    checkCount(op, 'wIndex', wIndex);
    const f = this.arr(op, 'w', w, wIndex + 1)[wIndex];
    this.k.axpy(this.ptr(op, 'x', x, n), f, this.ptr(op, 'acc', acc, n), n, 1);
  }

  // ---- pooling (average in Wasm; max pooling, not in the NB201 space, stays on the reference) ----

  override pool2d(x: Storage, y: Storage, g: PoolGeom): void {
    if (g.kind !== 'avg') { super.pool2d(x, y, g); return; }
    const op = 'pool2d';
    checkPoolGeom(op, g);
    this.launch(op, 0);
    this.k.avgPool(this.ptr(op, 'x', x, g.N * g.C * g.H * g.W), this.ptr(op, 'y', y, g.N * g.C * g.OH * g.OW),
      g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0, 0, g.N * g.C);
  }

  override pool2dBackward(dy: Storage, x: Storage, dx: Storage, g: PoolGeom, out: GradWrite = {}): void {
    if (g.kind !== 'avg') { super.pool2dBackward(dy, x, dx, g, out); return; }
    const op = 'pool2dBackward';
    checkPoolGeom(op, g);
    this.launch(op, 0);
    const n = g.N * g.C * g.H * g.W;
    this.arr(op, 'x', x, n);
    const scale = out.scale ? this.arr(op, 'scale.w', out.scale.w, out.scale.index + 1)[out.scale.index] : 1;
    const dyp = this.ptr(op, 'dy', dy, g.N * g.C * g.OH * g.OW), dxp = this.ptr(op, 'dx', dx, n);
    this.withTemp(g.H * g.W, (tmp) => {
      this.k.avgPoolBackward(dyp, dxp, tmp, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW,
        g.countIncludePad ? 1 : 0, scale, out.accumulate ? 1 : 0, 0, g.N * g.C);
    });
  }
}
