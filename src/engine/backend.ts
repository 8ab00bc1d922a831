// The kernel contract between the engine and its two backends.
//
// Everything above this file (tensors, autograd, nn modules, optimizers, NAS code) talks to the
// hardware only through `Backend`. There are three implementations:
//   - src/engine/cpu/     plain TypeScript reference kernels: the test oracle;
//   - src/engine/webgpu/  WGSL compute shaders (sources in shaders/) run through WebGPU;
//   - src/engine/wasm/    Wasm SIMD kernels (sources in assembly/kernels/) on worker threads sharing one
//                         WebAssembly.Memory: the fast path on CPUs (the reference's kernels for its cold ops).
// Every method here must give the same numbers on all (up to f32 rounding), and the tests check it.
//
// Conventions that hold for every kernel:
//   - Tensors are f32, dense, row-major. Images are NCHW (PyTorch layout), conv weights
//     [Cout, Cin/groups, KH, KW], linear weights [out, in].
//   - Kernels OVERWRITE their outputs; accumulation is explicit (addInPlace). Gradient accumulation
//     in autograd is therefore "first contribution writes, later ones addInPlace".
//   - An output storage is never also an input of the same call unless the method says "in place"
//     (WebGPU forbids binding one buffer read-only and read-write in one dispatch).
//   - `n` arguments count elements. A storage may be larger than `n` (pooled buffers are bucketed).
//   - Kernels are synchronous to call; on WebGPU they are only encoded. `read` is the one way back.
//   - Integer data (labels) is stored as f32 holding exact integers.

/** An opaque handle to device memory holding at least `length` f32 values. */
export interface Storage {
  readonly length: number;
}

export interface ConvGeom {
  N: number; Cin: number; H: number; W: number;
  Cout: number; KH: number; KW: number;
  OH: number; OW: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilH: number; dilW: number;
  groups: number;
  /** Fused ReLU on the input (NB201's ReLU → conv): the conv reads max(x, 0). conv2dWeightGrad then
   *  takes the pre-ReLU x as well, and conv2dInputGrad returns the gradient with respect to the
   *  pre-ReLU x (masked by x > 0), for which it needs x. */
  reluInput?: boolean;
}

export interface PoolGeom {
  kind: 'avg' | 'max';
  N: number; C: number; H: number; W: number;
  OH: number; OW: number;
  KH: number; KW: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  /** avg only: whether padded zeros count in the divisor (NB201 uses false). */
  countIncludePad: boolean;
}

/** Per-channel geometry of an NCHW tensor: channel c holds N*HW values. */
export interface ChannelGeom { N: number; C: number; HW: number }

export interface BatchNormGeom extends ChannelGeom { eps: number; momentum: number }

/** out[o, m, i] = x[o, m, i] * s[m] for a tensor viewed as [outer, mid, inner]. */
export interface BroadcastGeom { outer: number; mid: number; inner: number }

export interface MatmulGeom {
  /** out is [M, N]; op(a) is [M, K], op(b) is [K, N]. */
  M: number; N: number; K: number;
  /** a is stored [K, M] and used transposed. */
  transA: boolean;
  /** b is stored [N, K] and used transposed. */
  transB: boolean;
}

export interface RowsGeom { rows: number; cols: number }

export interface ChannelCopyGeom {
  N: number; HW: number;
  srcC: number; srcOffset: number;
  dstC: number; dstOffset: number;
  /** channels copied */
  count: number;
  /** dst += src instead of dst = src for the copied channels */
  accumulate: boolean;
}

/** One input of a mixed (weighted) sum: x, weighted by w[wIndex], read through a batch-norm apply
 *  when `stats` is a [mean | invstd | scale | shift] block (4·C values, see batchNormStats):
 *  x·scale[c] + shift[c]; read as is when `stats` is null. */
export interface MixedTerm { x: Storage; wIndex: number; stats: Storage | null }

/** One BN layer of batchNormStatsBackwardMulti: its raw input x, statistics block, where its input
 *  gradient goes, and its weight's index in the mixed sum it fed. */
export interface BnBackwardTerm { x: Storage; stats: Storage; dx: Storage; wIndex: number }

/** A device-side scalar factor: w[index]. */
export interface ScaleRef { w: Storage; index: number }

/** How a gradient kernel writes its result: multiplied by scale.w[scale.index] when given, and
 *  added to what the output holds when accumulate is set (else it overwrites). */
export interface GradWrite { scale?: ScaleRef | null; accumulate?: boolean }

/** A tensor's storage and element count, for the multi-tensor kernels. */
export interface TensorRef { s: Storage; n: number }

/** One parameter of a multi-tensor SGD step (momentum buffer required). */
export interface SgdItem { param: Storage; grad: Storage; momBuf: Storage; n: number }

export interface SgdParams {
  lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number;
}

export interface AdamParams {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** 1-based step count, for bias correction */
  step: number;
}

export interface MemoryStats {
  /** bytes in storages handed out and not yet released */
  liveBytes: number;
  /** bytes held by the pool for reuse */
  pooledBytes: number;
  /** high-water mark of liveBytes + pooledBytes */
  peakBytes: number;
  /** device buffers created since start (a flat count over a training loop means the pool works) */
  created: number;
}

/**
 * A recorded training step (Backend.capture): `replay()` encodes the same kernels on the same
 * buffers again without running any op or autograd code. Host-side state is not replayed.
 */
export interface StepCapture {
  /** kernel launches per replay */
  readonly dispatches: number;
  replay(): void;
  /** Release what the recording pinned. */
  dispose(): void;
}

export interface Backend {
  readonly kind: 'cpu' | 'webgpu' | 'wasm';
  /** Human-readable device description, e.g. adapter vendor/architecture/description. */
  readonly description: string;

  // ---- memory -------------------------------------------------------------------------------
  /** Storage for n values; contents unspecified until written. n may be 0. */
  alloc(n: number): Storage;
  upload(data: Float32Array): Storage;
  /** Overwrite s[offset .. offset+data.length). */
  write(s: Storage, data: Float32Array, offset?: number): void;
  /** The first n (default s.length) values. Flushes pending work. */
  read(s: Storage, n?: number): Promise<Float32Array>;
  /** `read` of several storages at once: on a device, one round trip for all of them. */
  readMany(items: readonly { s: Storage; n?: number }[]): Promise<Float32Array[]>;
  /** Give the storage back; it may be reused by the next alloc (after pending work that uses it). */
  release(s: Storage): void;
  /** Values a view's offset must be a multiple of (1 on the CPU; WebGPU: the adapter's
   *  minStorageBufferOffsetAlignment / 4, 4 to 64). */
  readonly viewAlignment: number;
  /** `n` values of `base` from `offset` on as a storage of their own, sharing base's memory (no
   *  copy): many tensors in one buffer that one kernel can also update together (parameter and
   *  gradient arenas, optim/arena.ts). Every op accepts a view; disjoint views of one base are
   *  independent. Keep views `viewAlignment`-rounded apart; base must outlive its views; releasing
   *  a view frees nothing. */
  view(base: Storage, offset: number, n: number): Storage;
  /** Submit pending work (no-op on CPU). */
  flush(): void;
  /** Resolve when all submitted work has finished. */
  sync(): Promise<void>;
  memoryStats(): MemoryStats;
  /** Number of kernel launches since start (CPU counts calls), for benchmarks and dispatch budgets. */
  dispatchCount(): number;
  dispose(): void;
  /**
   * Run `fn` (synchronous device work: no reads) and record the kernels it launches for replay, or
   * return null (then fn has still run once) where the backend cannot replay — the CPU backend,
   * whose cost is the arithmetic itself. See GpuCapture for what a replay repeats and what not.
   */
  capture?(fn: () => void): StepCapture | null;

  // ---- elementwise --------------------------------------------------------------------------
  fill(out: Storage, value: number, n: number): void;
  copy(src: Storage, dst: Storage, n: number): void;
  /** out = a + b */
  add(a: Storage, b: Storage, out: Storage, n: number): void;
  /** out = a * b */
  mul(a: Storage, b: Storage, out: Storage, n: number): void;
  /** in place: acc += alpha * x */
  addInPlace(acc: Storage, x: Storage, n: number, alpha: number): void;
  /** out = s * x */
  scale(x: Storage, s: number, out: Storage, n: number): void;
  /** out = max(x, 0) */
  relu(x: Storage, out: Storage, n: number): void;
  /** dx = dy where x > 0, else 0 */
  reluBackward(dy: Storage, x: Storage, dx: Storage, n: number): void;
  /** out = min(max(x, 0), 6) (MobileNet's ReLU6) */
  relu6(x: Storage, out: Storage, n: number): void;
  /** dx = dy where 0 < x < 6, else 0 (PyTorch's hardtanh rule: no gradient at either bound) */
  relu6Backward(dy: Storage, x: Storage, dx: Storage, n: number): void;
  /** out[o,m,i] = x[o,m,i] * s[m] */
  mulBroadcast(x: Storage, s: Storage, out: Storage, g: BroadcastGeom): void;
  /** ds[m] = sum over o,i of dy[o,m,i] * x[o,m,i] */
  mulBroadcastGradS(dy: Storage, x: Storage, ds: Storage, g: BroadcastGeom): void;
  /** out = sum_k w[wIndex[k]] * xs[k]; weights live on the device (they carry gradients). */
  weightedSum(xs: Storage[], w: Storage, wIndex: number[], out: Storage, n: number): void;
  /** out = w[wIndex] * x */
  scaleByElement(x: Storage, w: Storage, wIndex: number, out: Storage, n: number): void;
  /** out[outIndex] = sum a*b (other entries of out untouched) */
  dot(a: Storage, b: Storage, out: Storage, outIndex: number, n: number): void;
  /** out[outIndex] = sum x*x (other entries untouched) */
  sumSquares(x: Storage, out: Storage, outIndex: number, n: number): void;
  /** out[0] = sum x */
  sum(x: Storage, out: Storage, n: number): void;
  /** out[i] = scale * s[0] for i < n */
  broadcastScalar(s: Storage, scale: number, out: Storage, n: number): void;
  /** out[outIndex] = number of NaN or +-Inf values in x[0..n) (other entries untouched) */
  nonFiniteCount(x: Storage, out: Storage, outIndex: number, n: number): void;
  /** mask[i] = 1/(1-p) with probability 1-p else 0; a pure function of (seed, i). */
  dropoutMask(mask: Storage, n: number, p: number, seed: number): void;

  // ---- convolution --------------------------------------------------------------------------
  conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void;
  /** `x` (the pre-ReLU input) is required when g.reluInput, and ignored otherwise. With
   *  `accumulate` the result is added to dx (gradient accumulation) instead of overwriting it. */
  conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x?: Storage | null, accumulate?: boolean): void;
  conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void;
  /** out[c] = sum over n, hw of x[n, c, hw] (bias gradient) */
  channelSum(x: Storage, out: Storage, g: ChannelGeom): void;

  // ---- batch norm (per channel over N*HW; biased variance to normalise, unbiased for running var) --
  /** Training mode: normalise with batch statistics, save mean and 1/sqrt(var+eps), and when
   *  runMean/runVar are given update them in place: r = (1-momentum)*r + momentum*batch. */
  batchNormTrain(x: Storage, gamma: Storage | null, beta: Storage | null, y: Storage,
    saveMean: Storage, saveInvStd: Storage, runMean: Storage | null, runVar: Storage | null,
    g: BatchNormGeom): void;
  /** Eval mode: normalise with running statistics. */
  batchNormEval(x: Storage, gamma: Storage | null, beta: Storage | null, runMean: Storage,
    runVar: Storage, y: Storage, g: BatchNormGeom): void;
  /** Backward of batchNormTrain. dgamma/dbeta written when non-null. */
  batchNormBackward(dy: Storage, x: Storage, gamma: Storage | null, saveMean: Storage,
    saveInvStd: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void;
  /** Backward of batchNormEval (statistics are constants). */
  batchNormEvalBackward(dy: Storage, x: Storage, gamma: Storage | null, runMean: Storage,
    runVar: Storage, dx: Storage, dgamma: Storage | null, dbeta: Storage | null,
    g: BatchNormGeom): void;

  // ---- fused batch norm and mixed sums (the NB201 ReLU→conv→BN edge and its node sum) ----------
  /** Training-mode statistics of x without the normalised output: stats = [mean | invstd | scale |
   *  shift] (4·C values) with scale = γ·invstd, shift = β − mean·scale (γ = 1, β = 0 when null;
   *  both or neither); running statistics updated in place as batchNormTrain does. The output is
   *  x·scale[c] + shift[c], computed by whoever reads it (mixedSum, batchNormApply). */
  batchNormStats(x: Storage, gamma: Storage | null, beta: Storage | null, stats: Storage,
    runMean: Storage | null, runVar: Storage | null, g: BatchNormGeom): void;
  /** y = x·scale[c] + shift[c] from a statistics block. */
  batchNormApply(x: Storage, stats: Storage, y: Storage, g: ChannelGeom): void;
  /** batchNormBackward from a statistics block, with dy multiplied on read by dyScale.w[index]
   *  when given (the weight of the mixed-sum term the BN output fed). */
  batchNormStatsBackward(dy: Storage, dyScale: ScaleRef | null, x: Storage, gamma: Storage | null, stats: Storage,
    dx: Storage, dgamma: Storage | null, dbeta: Storage | null, g: BatchNormGeom): void;
  /** batchNormStatsBackward of several non-affine BN layers (γ = 1, no γ/β gradients) that fed one
   *  mixed sum, from its gradient dy: terms[k].dx = the BN backward of w[terms[k].wIndex]·dy (w null:
   *  dy unscaled). Layers of one geometry; the WebGPU backend runs them in one launch. */
  batchNormStatsBackwardMulti(dy: Storage, w: Storage | null, terms: BnBackwardTerm[], g: ChannelGeom): void;
  /** out = Σ_k w[terms[k].wIndex]·term_k (see MixedTerm); no terms: out = 0. Tensors are NCHW (g). */
  mixedSum(terms: MixedTerm[], w: Storage, out: Storage, g: ChannelGeom): void;
  /** dw[terms[k].wIndex] = Σ dy·term_k for every term (wIndex distinct), dw[j] = 0 for the other
   *  j < dwSize: the gradient of mixedSum with respect to w. With `accumulate`, dw[terms[k].wIndex]
   *  += Σ dy·term_k (rounded to f32 first) and the other entries keep their values. */
  mixedDots(dy: Storage, terms: MixedTerm[], dw: Storage, dwSize: number, g: ChannelGeom, accumulate?: boolean): void;
  /** in place: acc += w[wIndex]·x */
  addScaledInPlace(acc: Storage, x: Storage, w: Storage, wIndex: number, n: number): void;

  // ---- pooling ------------------------------------------------------------------------------
  pool2d(x: Storage, y: Storage, g: PoolGeom): void;
  /** dx = gradient of pool2d given dy; with `out`: dx = (out.accumulate ? dx : 0) + out.scale.w[index]
   *  · that (a weighted-sum input's deferred gradient w·dy pooled and added in place, one pass). */
  pool2dBackward(dy: Storage, x: Storage, dx: Storage, g: PoolGeom, out?: GradWrite): void;
  /** y[n, c] = mean over HW of x[n, c, :] */
  globalAvgPool(x: Storage, y: Storage, g: ChannelGeom): void;
  globalAvgPoolBackward(dy: Storage, dx: Storage, g: ChannelGeom): void;

  // ---- dense --------------------------------------------------------------------------------
  matmul(a: Storage, b: Storage, out: Storage, g: MatmulGeom): void;
  /** out[r, c] = x[r, c] + b[c] */
  addRowBias(x: Storage, b: Storage, out: Storage, g: RowsGeom): void;
  /** out[c] = sum over rows of x[r, c] */
  columnSum(x: Storage, out: Storage, g: RowsGeom): void;

  // ---- softmax family (over the last axis of [rows, cols]) ----------------------------------
  softmax(x: Storage, y: Storage, g: RowsGeom, log: boolean): void;
  /** y is the saved forward output (softmax or log-softmax). */
  softmaxBackward(dy: Storage, y: Storage, dx: Storage, g: RowsGeom, log: boolean): void;
  /** loss[0] = mean over rows of CE with label smoothing s: target = (1-s)*onehot + s/cols.
   *  probs receives softmax(logits) for the backward pass. */
  crossEntropy(logits: Storage, labels: Storage, loss: Storage, probs: Storage, g: RowsGeom,
    smoothing: number): void;
  /** dlogits = dloss[0] * (probs - target) / rows */
  crossEntropyBackward(probs: Storage, labels: Storage, dloss: Storage, dlogits: Storage,
    g: RowsGeom, smoothing: number): void;
  /** out[outIndex] = number of rows whose argmax (first maximum) equals the label */
  correctCount(logits: Storage, labels: Storage, out: Storage, outIndex: number, g: RowsGeom): void;

  // ---- channel slicing (concat forward / slice backward and vice versa) ----------------------
  copyChannels(src: Storage, dst: Storage, g: ChannelCopyGeom): void;

  // ---- optimizers (in place on param and state) ---------------------------------------------
  /** PyTorch SGD: d = g + wd*p; buf = momentum*buf + (1-dampening)*d (buf starts at 0);
   *  d = nesterov ? d + momentum*buf : buf (when momentum > 0); p -= lr*d.
   *  momBuf may be null when momentum == 0. */
  sgdStep(param: Storage, grad: Storage, momBuf: Storage | null, n: number, p: SgdParams): void;
  /** PyTorch Adam (L2 weight decay added to the gradient, bias-corrected). */
  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, n: number, p: AdamParams): void;
  /** out[0] = min(1, maxNorm / (sqrt(sum_{i<k} sq[i]) + 1e-6)) — PyTorch clip_grad_norm_ factor */
  clipFactor(sq: Storage, k: number, maxNorm: number, out: Storage): void;
  /** in place: x *= f[fIndex] */
  scaleInPlaceByElement(x: Storage, f: Storage, fIndex: number, n: number): void;

  // ---- multi-tensor forms (a few launches for all parameters instead of one per tensor) ------
  /** out[0] = Σ_k Σ_i xs[k][i]² (0 for no tensors) */
  sumSquaresMulti(xs: TensorRef[], out: Storage): void;
  /** in place: xs[k] *= f[fIndex] for every k */
  scaleInPlaceByElementMulti(xs: TensorRef[], f: Storage, fIndex: number): void;
  /** sgdStep with momentum (p.momentum > 0) for every item, one set of hyper-parameters */
  sgdStepMulti(items: SgdItem[], p: SgdParams): void;

  // ---- flat forms over arenas (optim/arena.ts): one launch for all parameters ---------------
  // `segs` holds `nseg` segments of 4 u32 (bit patterns in the float storage, see flatSegments):
  // start, length, flags, 0 — the ranges of the arenas to update. Flags bit 0: new momentum
  // buffers there (their places' contents are ignored; buf = d, PyTorch's first step).
  /** sgdStep with momentum on every segment of the three arenas (same offsets in each) */
  sgdStepFlat(param: Storage, grad: Storage, momBuf: Storage, segs: Storage, nseg: number, p: SgdParams): void;
  /** clip_grad_norm_ over the segments: g *= min(1, maxNorm / (‖g‖₂ + 1e-6)), the norm over all of them */
  clipGradNormFlat(grad: Storage, segs: Storage, nseg: number, maxNorm: number): void;
}

/** Flags of a flat segment (Backend.sgdStepFlat). */
export const SEGMENT_FRESH_MOMENTUM = 1;

/** A segment table as a float array holding the u32 words (start, length, flags, 0) per segment,
 *  ready for Backend.upload (the bits travel unchanged). */
export function flatSegments(segs: readonly { start: number; length: number; flags: number }[]): Float32Array {
  const words = new Uint32Array(Math.max(1, segs.length) * 4);
  segs.forEach((g, i) => { words[4 * i] = g.start; words[4 * i + 1] = g.length; words[4 * i + 2] = g.flags; });
  return new Float32Array(words.buffer);
}

/** Output size of a convolution or pooling window along one axis (PyTorch formula). */
export function convOutSize(inSize: number, k: number, stride: number, pad: number, dil = 1): number {
  return Math.floor((inSize + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}
