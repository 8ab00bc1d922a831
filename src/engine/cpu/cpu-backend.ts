// The CPU backend: reference kernels in plain TypeScript. It is the oracle the WebGPU kernels are
// tested against and the fallback that trains on machines without a GPU. Each method checks that its
// storages are live CPU storages large enough for the geometry, then runs a kernel from the files
// beside this one (conv.ts, batchnorm.ts, pool.ts, dense.ts, softmax.ts, optim.ts). Reductions
// accumulate in f64 and round once when stored.
import type {
  AdamParams, Backend, BatchNormGeom, BnBackwardTerm, BroadcastGeom, ChannelCopyGeom, ChannelGeom, ConvGeom, MatmulGeom,
  GradWrite, MemoryStats, MixedTerm, PoolGeom, RowsGeom, ScaleRef, SgdItem, SgdParams, Storage, TensorRef,
} from '../backend.js';
import { convOutSize, SEGMENT_FRESH_MOMENTUM } from '../backend.js';
import { CpuMemoryPool, CpuStorage, type StoragePool } from './storage.js';
import { Scratch } from './scratch.js';
import { hashWithKey, seedKey } from './hash.js';
import * as conv from './conv.js';
import * as bn from './batchnorm.js';
import * as pool from './pool.js';
import * as dense from './dense.js';
import * as sm from './softmax.js';
import * as optim from './optim.js';

export function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${name} ${v} must be a non-negative integer`);
}

export function checkPositive(op: string, g: object, names: string[]): void {
  const rec = g as Record<string, number>;
  for (const k of names) {
    if (!Number.isInteger(rec[k]) || rec[k] < 1) throw new Error(`${op}: ${k} ${rec[k]} must be a positive integer`);
  }
}

/** Each term's wIndex must be a distinct slot of dw (mixedDots writes one dot per slot); shared with the wasm backend. */
export function checkWeightIndices(op: string, terms: readonly MixedTerm[], dwSize: number): void {
  const seen = new Set<number>();
  for (const t of terms) {
    checkCount(op, 'wIndex', t.wIndex);
    if (t.wIndex >= dwSize) throw new Error(`${op}: wIndex ${t.wIndex} outside dw of ${dwSize}`);
    if (seen.has(t.wIndex)) throw new Error(`${op}: wIndex ${t.wIndex} appears twice`);
    seen.add(t.wIndex);
  }
}

export function checkConvGeom(op: string, g: ConvGeom): void {
  checkPositive(op, g, ['N', 'Cin', 'H', 'W', 'Cout', 'KH', 'KW', 'OH', 'OW', 'strideH', 'strideW', 'dilH', 'dilW', 'groups']);
  if (!(Number.isInteger(g.padH) && g.padH >= 0 && Number.isInteger(g.padW) && g.padW >= 0)) {
    throw new Error(`${op}: padding ${g.padH}x${g.padW} must be non-negative integers`);
  }
  if (g.Cin % g.groups !== 0 || g.Cout % g.groups !== 0) {
    throw new Error(`${op}: groups ${g.groups} must divide Cin ${g.Cin} and Cout ${g.Cout}`);
  }
  const OH = convOutSize(g.H, g.KH, g.strideH, g.padH, g.dilH), OW = convOutSize(g.W, g.KW, g.strideW, g.padW, g.dilW);
  if (OH !== g.OH || OW !== g.OW) {
    throw new Error(`${op}: output ${g.OH}x${g.OW} does not match input ${g.H}x${g.W} and kernel geometry (expected ${OH}x${OW})`);
  }
}

export function checkPoolGeom(op: string, g: PoolGeom): void {
  checkPositive(op, g, ['N', 'C', 'H', 'W', 'OH', 'OW', 'KH', 'KW', 'strideH', 'strideW']);
  const OH = convOutSize(g.H, g.KH, g.strideH, g.padH), OW = convOutSize(g.W, g.KW, g.strideW, g.padW);
  if (OH !== g.OH || OW !== g.OW) {
    throw new Error(`${op}: output ${g.OH}x${g.OW} does not match input ${g.H}x${g.W} and window geometry (expected ${OH}x${OW})`);
  }
  if (g.kind !== 'avg' && g.kind !== 'max') throw new Error(`${op}: unknown pool kind ${String(g.kind)}`);
}

export class CpuBackend implements Backend {
  readonly kind: Backend['kind'] = 'cpu';
  readonly description: string = 'CPU (TypeScript reference kernels)';
  private readonly scratch = new Scratch();
  private dispatches = 0;

  /** `pool` decides where storages live: plain Float32Arrays here; the wasm backend (which reuses
   *  these kernels for its ops that are not hot) passes one that carves them out of Wasm memory. */
  constructor(protected readonly pool: StoragePool = new CpuMemoryPool()) {}

  /** The live CPU array behind s, checked to hold at least `need` values. */
  protected arr(op: string, name: string, s: Storage, need: number): Float32Array {
    if (!(s instanceof CpuStorage)) throw new Error(`${op}: ${name} is not a storage of the CPU backend`);
    if (!s.live) throw new Error(`${op}: ${name} was already released`);
    if (s.length < need) throw new Error(`${op}: ${name} holds ${s.length} values, needs ${need}`);
    return s.data;
  }

  protected launch(op: string, n: number): void {
    checkCount(op, 'n', n);
    this.dispatches++;
  }

  // ---- memory -------------------------------------------------------------------------------

  alloc(n: number): Storage {
    return this.pool.alloc(n);
  }

  upload(data: Float32Array): Storage {
    const s = this.pool.alloc(data.length);
    s.data.set(data);
    return s;
  }

  write(s: Storage, data: Float32Array, offset = 0): void {
    checkCount('write', 'offset', offset);
    this.arr('write', 'destination', s, offset + data.length).set(data, offset);
  }

  async read(s: Storage, n?: number): Promise<Float32Array> {
    const count = n ?? s.length;
    checkCount('read', 'n', count);
    return this.arr('read', 'source', s, count).slice(0, count);
  }

  async readMany(items: readonly { s: Storage; n?: number }[]): Promise<Float32Array[]> {
    return Promise.all(items.map(({ s, n }) => this.read(s, n)));
  }

  release(s: Storage): void {
    if (!(s instanceof CpuStorage)) throw new Error('release: not a storage of the CPU backend');
    this.pool.release(s);
  }

  readonly viewAlignment = 1;

  view(base: Storage, offset: number, n: number): Storage {
    const b = this.arr('view', 'base', base, 0);
    if ((base as CpuStorage).isView) throw new Error('view: base is itself a view (take views of the arena storage)');
    checkCount('view', 'offset', offset);
    if (!Number.isInteger(n) || n < 1) throw new Error(`view: n must be a positive integer, got ${n}`);
    if (offset + n > b.length) throw new Error(`view: [${offset}, ${offset + n}) exceeds the base storage of ${b.length} values`);
    return this.pool.viewOf(base as CpuStorage, offset, n);
  }

  flush(): void {}

  async sync(): Promise<void> {}

  memoryStats(): MemoryStats {
    return this.pool.stats();
  }

  dispatchCount(): number {
    return this.dispatches;
  }

  dispose(): void {
    this.pool.clear();
  }

  // ---- elementwise --------------------------------------------------------------------------

  fill(out: Storage, value: number, n: number): void {
    this.launch('fill', n);
    this.arr('fill', 'out', out, n).fill(value, 0, n);
  }

  copy(src: Storage, dst: Storage, n: number): void {
    this.launch('copy', n);
    const s = this.arr('copy', 'src', src, n), d = this.arr('copy', 'dst', dst, n);
    d.set(s.subarray(0, n));
  }

  add(a: Storage, b: Storage, out: Storage, n: number): void {
    this.launch('add', n);
    const av = this.arr('add', 'a', a, n), bv = this.arr('add', 'b', b, n), o = this.arr('add', 'out', out, n);
    for (let i = 0; i < n; i++) o[i] = av[i] + bv[i];
  }

  mul(a: Storage, b: Storage, out: Storage, n: number): void {
    this.launch('mul', n);
    const av = this.arr('mul', 'a', a, n), bv = this.arr('mul', 'b', b, n), o = this.arr('mul', 'out', out, n);
    for (let i = 0; i < n; i++) o[i] = av[i] * bv[i];
  }

  addInPlace(acc: Storage, x: Storage, n: number, alpha: number): void {
    this.launch('addInPlace', n);
    const a = this.arr('addInPlace', 'acc', acc, n), xv = this.arr('addInPlace', 'x', x, n);
    for (let i = 0; i < n; i++) a[i] += alpha * xv[i];
  }

  scale(x: Storage, s: number, out: Storage, n: number): void {
    this.launch('scale', n);
    const xv = this.arr('scale', 'x', x, n), o = this.arr('scale', 'out', out, n);
    for (let i = 0; i < n; i++) o[i] = s * xv[i];
  }

  relu(x: Storage, out: Storage, n: number): void {
    this.launch('relu', n);
    const xv = this.arr('relu', 'x', x, n), o = this.arr('relu', 'out', out, n);
    for (let i = 0; i < n; i++) o[i] = xv[i] > 0 ? xv[i] : 0;
  }

  reluBackward(dy: Storage, x: Storage, dx: Storage, n: number): void {
    this.launch('reluBackward', n);
    const d = this.arr('reluBackward', 'dy', dy, n), xv = this.arr('reluBackward', 'x', x, n);
    const o = this.arr('reluBackward', 'dx', dx, n);
    for (let i = 0; i < n; i++) o[i] = xv[i] > 0 ? d[i] : 0;
  }

  relu6(x: Storage, out: Storage, n: number): void {
    this.launch('relu6', n);
    const xv = this.arr('relu6', 'x', x, n), o = this.arr('relu6', 'out', out, n);
    for (let i = 0; i < n; i++) { const v = xv[i]; o[i] = v > 0 ? (v < 6 ? v : 6) : 0; }
  }

  relu6Backward(dy: Storage, x: Storage, dx: Storage, n: number): void {
    this.launch('relu6Backward', n);
    const d = this.arr('relu6Backward', 'dy', dy, n), xv = this.arr('relu6Backward', 'x', x, n);
    const o = this.arr('relu6Backward', 'dx', dx, n);
    for (let i = 0; i < n; i++) o[i] = xv[i] > 0 && xv[i] < 6 ? d[i] : 0;
  }

  mulBroadcast(x: Storage, s: Storage, out: Storage, g: BroadcastGeom): void {
    const { outer, mid, inner } = g;
    const n = outer * mid * inner;
    this.launch('mulBroadcast', n);
    const xv = this.arr('mulBroadcast', 'x', x, n), sv = this.arr('mulBroadcast', 's', s, mid);
    const o = this.arr('mulBroadcast', 'out', out, n);
    for (let a = 0; a < outer; a++) {
      for (let m = 0; m < mid; m++) {
        const k = sv[m], base = (a * mid + m) * inner;
        for (let i = 0; i < inner; i++) o[base + i] = xv[base + i] * k;
      }
    }
  }

  mulBroadcastGradS(dy: Storage, x: Storage, ds: Storage, g: BroadcastGeom): void {
    const { outer, mid, inner } = g;
    const n = outer * mid * inner;
    this.launch('mulBroadcastGradS', n);
    const d = this.arr('mulBroadcastGradS', 'dy', dy, n), xv = this.arr('mulBroadcastGradS', 'x', x, n);
    const o = this.arr('mulBroadcastGradS', 'ds', ds, mid);
    for (let m = 0; m < mid; m++) {
      let s = 0;
      for (let a = 0; a < outer; a++) {
        const base = (a * mid + m) * inner;
        for (let i = 0; i < inner; i++) s += d[base + i] * xv[base + i];
      }
      o[m] = s;
    }
  }

  weightedSum(xs: Storage[], w: Storage, wIndex: number[], out: Storage, n: number): void {
    this.launch('weightedSum', n);
    if (xs.length !== wIndex.length) {
      throw new Error(`weightedSum: ${xs.length} inputs but ${wIndex.length} weight indices`);
    }
    const maxIndex = wIndex.reduce((m, k) => Math.max(m, k), -1);
    const wv = this.arr('weightedSum', 'w', w, maxIndex + 1);
    const o = this.arr('weightedSum', 'out', out, n);
    const acc = this.scratch.f64(n);
    acc.fill(0, 0, n);
    xs.forEach((x, k) => {
      checkCount('weightedSum', `wIndex[${k}]`, wIndex[k]);
      const xv = this.arr('weightedSum', `xs[${k}]`, x, n), c = wv[wIndex[k]];
      for (let i = 0; i < n; i++) acc[i] += c * xv[i];
    });
    for (let i = 0; i < n; i++) o[i] = acc[i];
  }

  scaleByElement(x: Storage, w: Storage, wIndex: number, out: Storage, n: number): void {
    this.launch('scaleByElement', n);
    checkCount('scaleByElement', 'wIndex', wIndex);
    const c = this.arr('scaleByElement', 'w', w, wIndex + 1)[wIndex];
    const xv = this.arr('scaleByElement', 'x', x, n), o = this.arr('scaleByElement', 'out', out, n);
    for (let i = 0; i < n; i++) o[i] = c * xv[i];
  }

  dot(a: Storage, b: Storage, out: Storage, outIndex: number, n: number): void {
    this.launch('dot', n);
    checkCount('dot', 'outIndex', outIndex);
    const av = this.arr('dot', 'a', a, n), bv = this.arr('dot', 'b', b, n);
    const o = this.arr('dot', 'out', out, outIndex + 1);
    let s = 0;
    for (let i = 0; i < n; i++) s += av[i] * bv[i];
    o[outIndex] = s;
  }

  sumSquares(x: Storage, out: Storage, outIndex: number, n: number): void {
    this.launch('sumSquares', n);
    checkCount('sumSquares', 'outIndex', outIndex);
    const xv = this.arr('sumSquares', 'x', x, n), o = this.arr('sumSquares', 'out', out, outIndex + 1);
    let s = 0;
    for (let i = 0; i < n; i++) s += xv[i] * xv[i];
    o[outIndex] = s;
  }

  sum(x: Storage, out: Storage, n: number): void {
    this.launch('sum', n);
    const xv = this.arr('sum', 'x', x, n), o = this.arr('sum', 'out', out, 1);
    let s = 0;
    for (let i = 0; i < n; i++) s += xv[i];
    o[0] = s;
  }

  broadcastScalar(s: Storage, scale: number, out: Storage, n: number): void {
    this.launch('broadcastScalar', n);
    const v = scale * this.arr('broadcastScalar', 's', s, 1)[0];
    this.arr('broadcastScalar', 'out', out, n).fill(v, 0, n);
  }

  nonFiniteCount(x: Storage, out: Storage, outIndex: number, n: number): void {
    this.launch('nonFiniteCount', n);
    checkCount('nonFiniteCount', 'outIndex', outIndex);
    const xv = this.arr('nonFiniteCount', 'x', x, n), o = this.arr('nonFiniteCount', 'out', out, outIndex + 1);
    let count = 0;
    for (let i = 0; i < n; i++) if (!Number.isFinite(xv[i])) count++;
    o[outIndex] = count;
  }

  /** keep i when hashUniform(seed, i) >= f32(p); see hash.ts for the exact, WGSL-reproducible hash. */
  dropoutMask(mask: Storage, n: number, p: number, seed: number): void {
    this.launch('dropoutMask', n);
    if (!(p >= 0 && p < 1)) throw new Error(`dropoutMask: drop probability ${p} must be in [0, 1)`);
    const m = this.arr('dropoutMask', 'mask', mask, n);
    // f32 arithmetic, as the WGSL kernel does it: threshold f32(p), scale 1/(1 - p) in f32
    const pf = Math.fround(p);
    const keepScale = Math.fround(1 / Math.fround(1 - pf));
    const key = seedKey(seed);
    for (let i = 0; i < n; i++) {
      const u = (hashWithKey(key, i) >>> 8) / 16777216;
      m[i] = u >= pf ? keepScale : 0;
    }
  }

  // ---- convolution --------------------------------------------------------------------------

  /** x, or max(x, 0) in a temporary when the conv has a fused ReLU on its input. */
  private convInput(op: string, x: Storage, g: ConvGeom): Float32Array {
    const n = g.N * g.Cin * g.H * g.W;
    const xv = this.arr(op, 'x', x, n);
    if (!g.reluInput) return xv;
    const r = new Float32Array(n);
    for (let i = 0; i < n; i++) r[i] = xv[i] > 0 ? xv[i] : 0;
    return r;
  }

  conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void {
    checkConvGeom('conv2d', g);
    this.launch('conv2d', 0);
    conv.conv2dForward(
      this.convInput('conv2d', x, g),
      this.arr('conv2d', 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW),
      bias ? this.arr('conv2d', 'bias', bias, g.Cout) : null,
      this.arr('conv2d', 'y', y, g.N * g.Cout * g.OH * g.OW), g, this.scratch);
  }

  conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x: Storage | null = null, accumulate = false): void {
    const op = 'conv2dInputGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const n = g.N * g.Cin * g.H * g.W;
    if (g.reluInput && !x) throw new Error(`${op}: a fused-ReLU conv (reluInput) needs the pre-ReLU input x to mask dx`);
    const xv = g.reluInput ? this.arr(op, 'x', x!, n) : null;
    const dst = this.arr(op, 'dx', dx, n);
    const out = accumulate ? new Float32Array(n) : dst;
    conv.conv2dInputGrad(
      this.arr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW),
      this.arr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), out, g, this.scratch);
    if (xv) for (let i = 0; i < n; i++) if (!(xv[i] > 0)) out[i] = 0;
    if (accumulate) for (let i = 0; i < n; i++) dst[i] += out[i];
  }

  conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void {
    checkConvGeom('conv2dWeightGrad', g);
    this.launch('conv2dWeightGrad', 0);
    conv.conv2dWeightGrad(
      this.arr('conv2dWeightGrad', 'dy', dy, g.N * g.Cout * g.OH * g.OW),
      this.convInput('conv2dWeightGrad', x, g),
      this.arr('conv2dWeightGrad', 'dw', dw, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), g, this.scratch);
  }

  channelSum(x: Storage, out: Storage, g: ChannelGeom): void {
    this.launch('channelSum', g.N * g.C * g.HW);
    conv.channelSum(this.arr('channelSum', 'x', x, g.N * g.C * g.HW), this.arr('channelSum', 'out', out, g.C),
      g.N, g.C, g.HW);
  }

  // ---- batch norm ---------------------------------------------------------------------------

  private bnArrays(op: string, g: BatchNormGeom, vecs: [string, Storage | null][]): (Float32Array | null)[] {
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    return vecs.map(([name, s]) => (s ? this.arr(op, name, s, g.C) : null));
  }

  batchNormTrain(x: Storage, gamma: Storage | null, beta: Storage | null, y: Storage,
    saveMean: Storage, saveInvStd: Storage, runMean: Storage | null, runVar: Storage | null,
    g: BatchNormGeom): void {
    const op = 'batchNormTrain', n = g.N * g.C * g.HW;
    const [ga, be, sm_, si, rm, rv] = this.bnArrays(op, g, [['gamma', gamma], ['beta', beta],
      ['saveMean', saveMean], ['saveInvStd', saveInvStd], ['runMean', runMean], ['runVar', runVar]]);
    bn.batchNormTrain(this.arr(op, 'x', x, n), ga, be, this.arr(op, 'y', y, n), sm_!, si!, rm, rv, g);
  }

  batchNormEval(x: Storage, gamma: Storage | null, beta: Storage | null, runMean: Storage,
    runVar: Storage, y: Storage, g: BatchNormGeom): void {
    const op = 'batchNormEval', n = g.N * g.C * g.HW;
    const [ga, be, rm, rv] = this.bnArrays(op, g, [['gamma', gamma], ['beta', beta], ['runMean', runMean], ['runVar', runVar]]);
    bn.batchNormEval(this.arr(op, 'x', x, n), ga, be, rm!, rv!, this.arr(op, 'y', y, n), g);
  }

  batchNormBackward(dy: Storage, x: Storage, gamma: Storage | null, saveMean: Storage,
    saveInvStd: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void {
    const op = 'batchNormBackward', n = g.N * g.C * g.HW;
    const [ga, sm_, si, dga, dbe] = this.bnArrays(op, g, [['gamma', gamma], ['saveMean', saveMean],
      ['saveInvStd', saveInvStd], ['dgamma', dgamma], ['dbeta', dbeta]]);
    bn.batchNormBackward(this.arr(op, 'dy', dy, n), this.arr(op, 'x', x, n), ga, sm_!, si!,
      this.arr(op, 'dx', dx, n), dga, dbe, g);
  }

  batchNormEvalBackward(dy: Storage, x: Storage, gamma: Storage | null, runMean: Storage,
    runVar: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void {
    const op = 'batchNormEvalBackward', n = g.N * g.C * g.HW;
    const [ga, rm, rv, dga, dbe] = this.bnArrays(op, g, [['gamma', gamma], ['runMean', runMean],
      ['runVar', runVar], ['dgamma', dgamma], ['dbeta', dbeta]]);
    bn.batchNormEvalBackward(this.arr(op, 'dy', dy, n), this.arr(op, 'x', x, n), ga, rm!, rv!,
      this.arr(op, 'dx', dx, n), dga, dbe, g);
  }

  // ---- fused batch norm and mixed sums (compositions of the reference kernels above) ---------

  batchNormStats(x: Storage, gamma: Storage | null, beta: Storage | null, stats: Storage,
    runMean: Storage | null, runVar: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormStats', n = g.N * g.C * g.HW, C = g.C;
    const [ga, be, rm, rv] = this.bnArrays(op, g, [['gamma', gamma], ['beta', beta], ['runMean', runMean], ['runVar', runVar]]);
    if (!!ga !== !!be) throw new Error(`${op}: gamma and beta must be both given or both null`);
    if (!!rm !== !!rv) throw new Error(`${op}: runMean and runVar must be both given or both null`);
    const st = this.arr(op, 'stats', stats, 4 * C);
    const mean = new Float32Array(C), inv = new Float32Array(C);
    bn.batchNormTrain(this.arr(op, 'x', x, n), null, null, new Float32Array(n), mean, inv, rm, rv, g);
    for (let c = 0; c < C; c++) {
      const scale = Math.fround((ga ? ga[c] : 1) * inv[c]);
      st[c] = mean[c];
      st[C + c] = inv[c];
      st[2 * C + c] = scale;
      st[3 * C + c] = (be ? be[c] : 0) - mean[c] * scale;
    }
  }

  batchNormApply(x: Storage, stats: Storage, y: Storage, g: ChannelGeom): void {
    const op = 'batchNormApply', { N, C, HW } = g;
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const xv = this.arr(op, 'x', x, N * C * HW), st = this.arr(op, 'stats', stats, 4 * C), o = this.arr(op, 'y', y, N * C * HW);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const base = (n * C + c) * HW, a = st[2 * C + c], b = st[3 * C + c];
        for (let i = 0; i < HW; i++) o[base + i] = xv[base + i] * a + b;
      }
    }
  }

  batchNormStatsBackward(dy: Storage, dyScale: ScaleRef | null, x: Storage, gamma: Storage | null, stats: Storage,
    dx: Storage, dgamma: Storage | null, dbeta: Storage | null, g: BatchNormGeom): void {
    const op = 'batchNormStatsBackward', n = g.N * g.C * g.HW, C = g.C;
    const [ga, dga, dbe] = this.bnArrays(op, g, [['gamma', gamma], ['dgamma', dgamma], ['dbeta', dbeta]]);
    const st = this.arr(op, 'stats', stats, 4 * C);
    let d = this.arr(op, 'dy', dy, n);
    if (dyScale) {
      checkCount(op, 'dyScale.index', dyScale.index);
      const f = this.arr(op, 'dyScale.w', dyScale.w, dyScale.index + 1)[dyScale.index];
      const scaled = new Float32Array(n);
      for (let i = 0; i < n; i++) scaled[i] = d[i] * f;
      d = scaled;
    }
    bn.batchNormBackward(d, this.arr(op, 'x', x, n), ga, st.subarray(0, C), st.subarray(C, 2 * C),
      this.arr(op, 'dx', dx, n), dga, dbe, g);
  }

  batchNormStatsBackwardMulti(dy: Storage, w: Storage | null, terms: BnBackwardTerm[], g: ChannelGeom): void {
    // eps and momentum are not used by the backward (the statistics block holds invstd)
    const bg: BatchNormGeom = { ...g, eps: 1e-5, momentum: 0 };
    for (const t of terms) this.batchNormStatsBackward(dy, w ? { w, index: t.wIndex } : null, t.x, null, t.stats, t.dx, null, null, bg);
  }

  /** The term's values as read by mixedSum / mixedDots (BN-applied when it has statistics). */
  private termValues(op: string, t: MixedTerm, k: number, g: ChannelGeom): Float32Array {
    const n = g.N * g.C * g.HW;
    const xv = this.arr(op, `terms[${k}].x`, t.x, n);
    if (!t.stats) return xv;
    const st = this.arr(op, `terms[${k}].stats`, t.stats, 4 * g.C);
    const out = new Float32Array(n);
    for (let b = 0; b < g.N; b++) {
      for (let c = 0; c < g.C; c++) {
        const base = (b * g.C + c) * g.HW, a = st[2 * g.C + c], s = st[3 * g.C + c];
        for (let i = 0; i < g.HW; i++) out[base + i] = xv[base + i] * a + s;
      }
    }
    return out;
  }

  mixedSum(terms: MixedTerm[], w: Storage, out: Storage, g: ChannelGeom): void {
    const op = 'mixedSum';
    checkPositive(op, g, ['N', 'C', 'HW']);
    this.launch(op, 0);
    const n = g.N * g.C * g.HW;
    const o = this.arr(op, 'out', out, n);
    terms.forEach((t, k) => checkCount(op, `terms[${k}].wIndex`, t.wIndex));
    const wv = terms.length ? this.arr(op, 'w', w, Math.max(...terms.map((t) => t.wIndex)) + 1) : null;
    const vals = terms.map((t, k) => this.termValues(op, t, k, g));
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let k = 0; k < terms.length; k++) v += wv![terms[k].wIndex] * vals[k][i];
      o[i] = v;
    }
  }

  mixedDots(dy: Storage, terms: MixedTerm[], dw: Storage, dwSize: number, g: ChannelGeom, accumulate = false): void {
    const op = 'mixedDots';
    checkPositive(op, g, ['N', 'C', 'HW']);
    checkCount(op, 'dwSize', dwSize);
    this.launch(op, 0);
    const n = g.N * g.C * g.HW;
    const d = this.arr(op, 'dy', dy, n), o = this.arr(op, 'dw', dw, dwSize);
    checkWeightIndices(op, terms, dwSize);
    if (!accumulate) o.fill(0, 0, dwSize);
    terms.forEach((t, k) => {
      const v = this.termValues(op, t, k, g);
      let s = 0;
      for (let i = 0; i < n; i++) s += d[i] * v[i];
      // accumulate: the f32 dot added in f32, as a separate dw + addInPlace would
      o[t.wIndex] = accumulate ? o[t.wIndex] + Math.fround(s) : s;
    });
  }

  sumSquaresMulti(xs: TensorRef[], out: Storage): void {
    const op = 'sumSquaresMulti';
    this.launch(op, 0);
    const o = this.arr(op, 'out', out, 1);
    let s = 0;
    xs.forEach((x, k) => {
      checkCount(op, `xs[${k}].n`, x.n);
      const v = this.arr(op, `xs[${k}]`, x.s, x.n);
      for (let i = 0; i < x.n; i++) s += v[i] * v[i];
    });
    o[0] = s;
  }

  scaleInPlaceByElementMulti(xs: TensorRef[], f: Storage, fIndex: number): void {
    const op = 'scaleInPlaceByElementMulti';
    this.launch(op, 0);
    checkCount(op, 'fIndex', fIndex);
    const fv = this.arr(op, 'f', f, fIndex + 1)[fIndex];
    xs.forEach((x, k) => {
      checkCount(op, `xs[${k}].n`, x.n);
      const v = this.arr(op, `xs[${k}]`, x.s, x.n);
      for (let i = 0; i < x.n; i++) v[i] *= fv;
    });
  }

  /** The segments of a flat segment table, checked against arenas of `arena` values. */
  private segments(op: string, segs: Storage, nseg: number, arena: number): { start: number; length: number; flags: number }[] {
    checkCount(op, 'nseg', nseg);
    const f = this.arr(op, 'segs', segs, 4 * nseg);
    const w = new Uint32Array(f.buffer, f.byteOffset, 4 * nseg);
    const out = [];
    for (let i = 0; i < nseg; i++) {
      const start = w[4 * i], length = w[4 * i + 1];
      if (start + length > arena) throw new Error(`${op}: segment ${i} [${start}, ${start + length}) outside the arena of ${arena} values`);
      out.push({ start, length, flags: w[4 * i + 2] });
    }
    return out;
  }

  sgdStepFlat(param: Storage, grad: Storage, momBuf: Storage, segs: Storage, nseg: number, p: SgdParams): void {
    const op = 'sgdStepFlat';
    this.launch(op, 0);
    if (!(p.momentum > 0)) throw new Error(`${op}: needs momentum > 0 (got ${p.momentum})`);
    const n = param.length;
    const pv = this.arr(op, 'param', param, n), gv = this.arr(op, 'grad', grad, n), mv = this.arr(op, 'momBuf', momBuf, n);
    for (const g of this.segments(op, segs, nseg, n)) {
      const end = g.start + g.length;
      const fresh = (g.flags & SEGMENT_FRESH_MOMENTUM) !== 0;
      if (fresh) mv.fill(0, g.start, end); // a new buffer ignores what its place held
      optim.sgdStep(pv.subarray(g.start, end), gv.subarray(g.start, end), mv.subarray(g.start, end), g.length,
        fresh ? { ...p, dampening: 0 } : p);
    }
  }

  clipGradNormFlat(grad: Storage, segs: Storage, nseg: number, maxNorm: number): void {
    const op = 'clipGradNormFlat';
    this.launch(op, 0);
    const gv = this.arr(op, 'grad', grad, grad.length);
    const list = this.segments(op, segs, nseg, grad.length);
    let total = 0;
    for (const g of list) for (let i = g.start; i < g.start + g.length; i++) total += gv[i] * gv[i];
    // the total and the factor rounded to f32, as sumSquaresMulti and clipFactor store them
    const f = Math.fround(Math.min(1, maxNorm / (Math.sqrt(Math.fround(total)) + 1e-6)));
    for (const g of list) for (let i = g.start; i < g.start + g.length; i++) gv[i] *= f;
  }

  sgdStepMulti(items: SgdItem[], p: SgdParams): void {
    const op = 'sgdStepMulti';
    this.launch(op, 0);
    if (!(p.momentum > 0)) throw new Error(`${op}: needs momentum > 0 (got ${p.momentum})`);
    items.forEach((it, k) => {
      checkCount(op, `items[${k}].n`, it.n);
      optim.sgdStep(this.arr(op, `items[${k}].param`, it.param, it.n), this.arr(op, `items[${k}].grad`, it.grad, it.n),
        this.arr(op, `items[${k}].momBuf`, it.momBuf, it.n), it.n, p);
    });
  }

  addScaledInPlace(acc: Storage, x: Storage, w: Storage, wIndex: number, n: number): void {
    const op = 'addScaledInPlace';
    this.launch(op, n);
    checkCount(op, 'wIndex', wIndex);
    const a = this.arr(op, 'acc', acc, n), xv = this.arr(op, 'x', x, n);
    const f = this.arr(op, 'w', w, wIndex + 1)[wIndex];
    for (let i = 0; i < n; i++) a[i] += f * xv[i];
  }

  // ---- pooling ------------------------------------------------------------------------------

  pool2d(x: Storage, y: Storage, g: PoolGeom): void {
    checkPoolGeom('pool2d', g);
    this.launch('pool2d', 0);
    pool.pool2dForward(this.arr('pool2d', 'x', x, g.N * g.C * g.H * g.W),
      this.arr('pool2d', 'y', y, g.N * g.C * g.OH * g.OW), g);
  }

  pool2dBackward(dy: Storage, x: Storage, dx: Storage, g: PoolGeom, out: GradWrite = {}): void {
    checkPoolGeom('pool2dBackward', g);
    this.launch('pool2dBackward', 0);
    const n = g.N * g.C * g.H * g.W;
    const scale = out.scale ? this.arr('pool2dBackward', 'scale.w', out.scale.w, out.scale.index + 1)[out.scale.index] : 1;
    pool.pool2dBackward(this.arr('pool2dBackward', 'dy', dy, g.N * g.C * g.OH * g.OW),
      this.arr('pool2dBackward', 'x', x, n), this.arr('pool2dBackward', 'dx', dx, n), g,
      this.scratch.f64(g.H * g.W), scale, !!out.accumulate);
  }

  globalAvgPool(x: Storage, y: Storage, g: ChannelGeom): void {
    checkPositive('globalAvgPool', g, ['N', 'C', 'HW']);
    this.launch('globalAvgPool', 0);
    pool.globalAvgPool(this.arr('globalAvgPool', 'x', x, g.N * g.C * g.HW),
      this.arr('globalAvgPool', 'y', y, g.N * g.C), g.N * g.C, g.HW);
  }

  globalAvgPoolBackward(dy: Storage, dx: Storage, g: ChannelGeom): void {
    checkPositive('globalAvgPoolBackward', g, ['N', 'C', 'HW']);
    this.launch('globalAvgPoolBackward', 0);
    pool.globalAvgPoolBackward(this.arr('globalAvgPoolBackward', 'dy', dy, g.N * g.C),
      this.arr('globalAvgPoolBackward', 'dx', dx, g.N * g.C * g.HW), g.N * g.C, g.HW);
  }

  // ---- dense --------------------------------------------------------------------------------

  matmul(a: Storage, b: Storage, out: Storage, g: MatmulGeom): void {
    for (const k of ['M', 'N', 'K'] as const) checkCount('matmul', k, g[k]);
    this.launch('matmul', 0);
    dense.matmul(this.arr('matmul', 'a', a, g.M * g.K), this.arr('matmul', 'b', b, g.K * g.N),
      this.arr('matmul', 'out', out, g.M * g.N), g, this.scratch.f64(g.N));
  }

  addRowBias(x: Storage, b: Storage, out: Storage, g: RowsGeom): void {
    const n = g.rows * g.cols;
    this.launch('addRowBias', n);
    dense.addRowBias(this.arr('addRowBias', 'x', x, n), this.arr('addRowBias', 'b', b, g.cols),
      this.arr('addRowBias', 'out', out, n), g);
  }

  columnSum(x: Storage, out: Storage, g: RowsGeom): void {
    this.launch('columnSum', g.rows * g.cols);
    dense.columnSum(this.arr('columnSum', 'x', x, g.rows * g.cols), this.arr('columnSum', 'out', out, g.cols),
      g, this.scratch.f64(g.cols));
  }

  // ---- softmax family -----------------------------------------------------------------------

  softmax(x: Storage, y: Storage, g: RowsGeom, log: boolean): void {
    const n = g.rows * g.cols;
    this.launch('softmax', n);
    sm.softmax(this.arr('softmax', 'x', x, n), this.arr('softmax', 'y', y, n), g, log);
  }

  softmaxBackward(dy: Storage, y: Storage, dx: Storage, g: RowsGeom, log: boolean): void {
    const op = 'softmaxBackward', n = g.rows * g.cols;
    this.launch(op, n);
    sm.softmaxBackward(this.arr(op, 'dy', dy, n), this.arr(op, 'y', y, n), this.arr(op, 'dx', dx, n), g, log);
  }

  crossEntropy(logits: Storage, labels: Storage, loss: Storage, probs: Storage, g: RowsGeom,
    smoothing: number): void {
    const op = 'crossEntropy', n = g.rows * g.cols;
    this.launch(op, n);
    sm.crossEntropy(this.arr(op, 'logits', logits, n), this.arr(op, 'labels', labels, g.rows),
      this.arr(op, 'loss', loss, 1), this.arr(op, 'probs', probs, n), g, smoothing);
  }

  crossEntropyBackward(probs: Storage, labels: Storage, dloss: Storage, dlogits: Storage,
    g: RowsGeom, smoothing: number): void {
    const op = 'crossEntropyBackward', n = g.rows * g.cols;
    this.launch(op, n);
    sm.crossEntropyBackward(this.arr(op, 'probs', probs, n), this.arr(op, 'labels', labels, g.rows),
      this.arr(op, 'dloss', dloss, 1), this.arr(op, 'dlogits', dlogits, n), g, smoothing);
  }

  correctCount(logits: Storage, labels: Storage, out: Storage, outIndex: number, g: RowsGeom): void {
    const op = 'correctCount', n = g.rows * g.cols;
    this.launch(op, n);
    checkCount(op, 'outIndex', outIndex);
    const o = this.arr(op, 'out', out, outIndex + 1);
    o[outIndex] = sm.correctCount(this.arr(op, 'logits', logits, n), this.arr(op, 'labels', labels, g.rows), g);
  }

  // ---- channel slicing ----------------------------------------------------------------------

  copyChannels(src: Storage, dst: Storage, g: ChannelCopyGeom): void {
    const op = 'copyChannels';
    const { N, HW, srcC, srcOffset, dstC, dstOffset, count, accumulate } = g;
    this.launch(op, N * count * HW);
    if (srcOffset < 0 || srcOffset + count > srcC) throw new Error(`${op}: source channels [${srcOffset}, ${srcOffset + count}) outside 0..${srcC}`);
    if (dstOffset < 0 || dstOffset + count > dstC) throw new Error(`${op}: destination channels [${dstOffset}, ${dstOffset + count}) outside 0..${dstC}`);
    const s = this.arr(op, 'src', src, N * srcC * HW), d = this.arr(op, 'dst', dst, N * dstC * HW);
    const len = count * HW; // the copied channels are contiguous within a sample
    for (let n = 0; n < N; n++) {
      const sBase = (n * srcC + srcOffset) * HW, dBase = (n * dstC + dstOffset) * HW;
      if (accumulate) {
        for (let i = 0; i < len; i++) d[dBase + i] += s[sBase + i];
      } else {
        d.set(s.subarray(sBase, sBase + len), dBase);
      }
    }
  }

  // ---- optimizers ---------------------------------------------------------------------------

  sgdStep(param: Storage, grad: Storage, momBuf: Storage | null, n: number, p: SgdParams): void {
    const op = 'sgdStep';
    this.launch(op, n);
    if (p.momentum !== 0 && !momBuf) throw new Error(`${op}: momentum ${p.momentum} needs a momentum buffer`);
    optim.sgdStep(this.arr(op, 'param', param, n), this.arr(op, 'grad', grad, n),
      momBuf ? this.arr(op, 'momBuf', momBuf, n) : null, n, p);
  }

  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, p: AdamParams): void {
    const op = 'adamStep';
    this.launch(op, n);
    if (!(Number.isInteger(p.step) && p.step >= 1)) throw new Error(`${op}: step ${p.step} must be a positive integer (1-based)`);
    optim.adamStep(this.arr(op, 'param', param, n), this.arr(op, 'grad', grad, n), this.arr(op, 'm', m, n),
      this.arr(op, 'v', v, n), n, p);
  }

  clipFactor(sq: Storage, k: number, maxNorm: number, out: Storage): void {
    this.launch('clipFactor', k);
    const s = this.arr('clipFactor', 'sq', sq, k);
    let total = 0;
    for (let i = 0; i < k; i++) total += s[i];
    this.arr('clipFactor', 'out', out, 1)[0] = Math.min(1, maxNorm / (Math.sqrt(total) + 1e-6));
  }

  scaleInPlaceByElement(x: Storage, f: Storage, fIndex: number, n: number): void {
    const op = 'scaleInPlaceByElement';
    this.launch(op, n);
    checkCount(op, 'fIndex', fIndex);
    const factor = this.arr(op, 'f', f, fIndex + 1)[fIndex];
    const xv = this.arr(op, 'x', x, n);
    for (let i = 0; i < n; i++) xv[i] *= factor;
  }
}
