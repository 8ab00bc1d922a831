// The op cases shared by `node run.js selftest`, the browser self-test and the test suite: each
// case builds inputs deterministically, runs one op (or a small composition) forward, then backward
// of a fixed random projection of the output, so every kernel and its gradient kernels run.
import type { Backend } from '../engine/backend.js';
import { Tensor, tidy, noGrad } from '../engine/tensor.js';
import { backward } from '../engine/autograd.js';
import {
  add, addN, mul, mulScalar, relu, relu6, mulBroadcast, weightedSum, sum, mean, scaleByElement,
} from '../engine/ops/elementwise.js';
import { conv2d } from '../engine/ops/conv.js';
import { batchNorm } from '../engine/ops/norm.js';
import { avgPool2d, maxPool2d, globalAvgPool } from '../engine/ops/pool.js';
import { linear } from '../engine/ops/dense.js';
import { softmax, logSoftmax, crossEntropy } from '../engine/ops/loss.js';
import { concatChannels, sliceChannels } from '../engine/ops/channels.js';
import { dropout, dropPath } from '../engine/ops/random.js';

export interface OpCase {
  name: string;
  /** the kernels this case exercises (for reports and fault injection) */
  kernels: string[];
  /** shapes of the inputs that receive gradients */
  inputs: number[][];
  /** constant tensors (labels, running stats), made per backend */
  consts?: (be: Backend) => Tensor[];
  fn: (xs: Tensor[], cs: Tensor[]) => Tensor;
  /** finite-difference step and tolerance for the CPU gradient check */
  fdEps?: number; fdTol?: number;
  /** tolerance of WebGPU vs CPU (relative, absolute) */
  rtol?: number; atol?: number;
  /** part of the quick set */
  quick?: boolean;
}

/** Deterministic standard-normal values (xorshift + Box–Muller), identical everywhere. */
export function seededNormal(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761 + 12345) >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s + 0.5) / 4294967296; };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

const noStats = { runningMean: null, runningVar: null };

export const OP_CASES: OpCase[] = [
  { name: 'add (fan-out)', kernels: ['add', 'mul', 'scale', 'addInPlace'], inputs: [[3, 5]], fn: ([x]) => add(mul(x, x), add(x, mulScalar(x, 3))), quick: true },
  { name: 'addN', kernels: ['add'], inputs: [[4, 3], [4, 3], [4, 3]], fn: (xs) => addN(xs) },
  { name: 'mul', kernels: ['mul'], inputs: [[7], [7]], fn: ([a, b]) => mul(a, b) },
  { name: 'relu', kernels: ['relu', 'reluBackward'], inputs: [[2, 3, 5]], fn: ([x]) => relu(x), fdEps: 1e-3, quick: true },
  // inputs scaled by 4 so that both clipped sides of ReLU6 are exercised
  { name: 'relu6', kernels: ['relu6', 'relu6Backward'], inputs: [[2, 3, 7]], fn: ([x]) => relu6(mulScalar(x, 4)), fdEps: 1e-3, quick: true },
  { name: 'mulBroadcast per-channel', kernels: ['mulBroadcast', 'mulBroadcastGradS'], inputs: [[2, 3, 4, 5], [3]], fn: ([x, s]) => mulBroadcast(x, s, 1), quick: true },
  { name: 'mulBroadcast per-sample', kernels: ['mulBroadcast', 'mulBroadcastGradS'], inputs: [[3, 2, 3, 3], [3]], fn: ([x, s]) => mulBroadcast(x, s, 0) },
  { name: 'weightedSum (mixed edge)', kernels: ['weightedSum', 'scaleByElement', 'dot'], inputs: [[2, 3, 4], [2, 3, 4], [2, 3, 4], [2, 5]], fn: ([a, b, c, w]) => weightedSum([a, b, c], w, [1, 4, 7]), quick: true },
  { name: 'scaleByElement', kernels: ['scaleByElement', 'dot'], inputs: [[5, 2], [6]], fn: ([x, w]) => scaleByElement(x, w, 3) },
  { name: 'sum/mean', kernels: ['sum', 'broadcastScalar'], inputs: [[3, 4]], fn: ([x]) => add(sum(x), mean(mul(x, x))), quick: true },
  { name: 'conv2d 3x3 pad 1 + bias', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad', 'channelSum'], inputs: [[2, 3, 6, 5], [4, 3, 3, 3], [4]], fn: ([x, w, b]) => conv2d(x, w, b, { padding: 1 }), quick: true },
  { name: 'conv2d s2 d2 groups 2', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 4, 9, 8], [6, 2, 3, 3]], fn: ([x, w]) => conv2d(x, w, null, { stride: 2, padding: 2, dilation: 2, groups: 2 }), quick: true },
  { name: 'conv2d 3x3 same, rows of 8 (vec4 windows)', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 4, 5, 8], [8, 4, 3, 3]], fn: ([x, w]) => conv2d(relu(x), w, null, { padding: 1 }), quick: true },
  { name: 'conv2d 1x1 16 channels per invocation', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 16, 3, 8], [16, 16, 1, 1]], fn: ([x, w]) => conv2d(x, w) },
  { name: 'conv2d depthwise 5x5', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[1, 3, 7, 7], [3, 1, 5, 5]], fn: ([x, w]) => conv2d(x, w, null, { padding: 2, groups: 3 }) },
  { name: 'conv2d depthwise 3x3 dilation 2 after ReLU (dil_conv)', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 4, 9, 10], [4, 1, 3, 3]], fn: ([x, w]) => conv2d(relu(x), w, null, { padding: 2, dilation: 2, groups: 4 }), quick: true },
  { name: 'conv2d depthwise 5x5 stride 2', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 3, 9, 7], [3, 1, 5, 5]], fn: ([x, w]) => conv2d(x, w, null, { stride: 2, padding: 2, groups: 3 }) },
  // DARTS FactorizedReduce's shifted half: the 1×1 weight placed as the bottom-right tap of a 2×2
  // stride-2 kernel (reads x[2i+1, 2j+1]), built on the device so the weight gets the 1×1 gradient
  { name: 'FactorizedReduce shifted half (1x1 weight as a 2x2 tap, stride 2)', kernels: ['matmul', 'conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 3, 6, 6], [4, 3, 1, 1]], fn: ([x, w]) => {
    const tap = Tensor.fromArray(x.backend, [0, 0, 0, 1], [4, 1]);
    return conv2d(relu(x), linear(w.reshape([12, 1]), tap, null).reshape([4, 3, 2, 2]), null, { stride: 2 });
  } },
  { name: 'conv2d 1x1 stride 2 odd', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[3, 5, 7, 9], [3, 5, 1, 1]], fn: ([x, w]) => conv2d(x, w, null, { stride: 2 }) },
  { name: 'batchNorm train affine', kernels: ['batchNormTrain', 'batchNormBackward'], inputs: [[4, 3, 3, 2], [3], [3]], fn: ([x, g, b]) => batchNorm(x, { gamma: g, beta: b, ...noStats, training: true }), fdTol: 3e-2, quick: true },
  { name: 'batchNorm train non-affine', kernels: ['batchNormTrain', 'batchNormBackward'], inputs: [[5, 2, 2, 3]], fn: ([x]) => batchNorm(x, { gamma: null, beta: null, ...noStats, training: true }), fdTol: 3e-2 },
  {
    name: 'batchNorm eval', kernels: ['batchNormEval', 'batchNormEvalBackward'], inputs: [[3, 2, 3, 3], [2], [2]],
    consts: (be) => [Tensor.fromArray(be, [0.3, -0.2], [2]), Tensor.fromArray(be, [1.5, 0.7], [2])],
    fn: ([x, g, b], [rm, rv]) => batchNorm(x, { gamma: g, beta: b, runningMean: rm, runningVar: rv, training: false }),
  },
  { name: 'avgPool 3x3 s1 p1 excl. pad', kernels: ['pool2d', 'pool2dBackward'], inputs: [[2, 3, 5, 6]], fn: ([x]) => avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }), quick: true },
  { name: 'avgPool 3x3 s1 p1, width 8 (strip kernel)', kernels: ['pool2d', 'pool2dBackward'], inputs: [[2, 3, 5, 8]], fn: ([x]) => avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }), quick: true },
  { name: 'avgPool 2x2 s2', kernels: ['pool2d', 'pool2dBackward'], inputs: [[2, 2, 6, 4]], fn: ([x]) => avgPool2d(x, { kernel: 2, stride: 2 }) },
  { name: 'maxPool 3x3 s2 p1', kernels: ['pool2d', 'pool2dBackward'], inputs: [[2, 2, 7, 6]], fn: ([x]) => maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }), fdEps: 1e-3, quick: true },
  { name: 'globalAvgPool', kernels: ['globalAvgPool', 'globalAvgPoolBackward'], inputs: [[3, 4, 3, 5]], fn: ([x]) => globalAvgPool(x), quick: true },
  { name: 'linear', kernels: ['matmul', 'addRowBias', 'columnSum'], inputs: [[5, 7], [3, 7], [3]], fn: ([x, w, b]) => linear(x, w, b), quick: true },
  { name: 'linear, batch 512 (implicit-GEMM core)', kernels: ['matmul', 'addRowBias', 'columnSum'], inputs: [[512, 24], [12, 24], [12]], fn: ([x, w, b]) => linear(x, w, b) },
  { name: 'softmax', kernels: ['softmax', 'softmaxBackward'], inputs: [[4, 6]], fn: ([x]) => softmax(x), quick: true },
  { name: 'logSoftmax', kernels: ['softmax', 'softmaxBackward'], inputs: [[4, 6]], fn: ([x]) => logSoftmax(x) },
  {
    name: 'crossEntropy', kernels: ['crossEntropy', 'crossEntropyBackward'], inputs: [[5, 4]],
    consts: (be) => [Tensor.fromArray(be, [0, 3, 1, 1, 2], [5])], fn: ([x], [y]) => crossEntropy(x, y), quick: true,
  },
  {
    name: 'crossEntropy smoothing 0.1', kernels: ['crossEntropy', 'crossEntropyBackward'], inputs: [[5, 4]],
    consts: (be) => [Tensor.fromArray(be, [2, 3, 0, 1, 2], [5])], fn: ([x], [y]) => crossEntropy(x, y, 0.1),
  },
  { name: 'concat/slice channels', kernels: ['copyChannels', 'fill'], inputs: [[2, 3, 2, 3], [2, 2, 2, 3]], fn: ([a, b]) => sliceChannels(concatChannels([a, b, a]), 2, 5), quick: true },
  { name: 'reshape', kernels: ['mul'], inputs: [[2, 3, 4]], fn: ([x]) => mul(x.reshape([6, 4]), x.reshape([-1, 4])) },
  { name: 'dropout', kernels: ['dropoutMask', 'mul'], inputs: [[4, 50]], fn: ([x]) => dropout(x, 0.3, 1234) },
  { name: 'dropPath', kernels: ['dropoutMask', 'mulBroadcast'], inputs: [[8, 2, 2, 2]], fn: ([x]) => dropPath(x, 0.4, 99) },
  // the MobileNet space's inverted residual: 1×1 expand → BN → ReLU6 → 7×7 depthwise stride 2 → BN → ReLU6 → 1×1 project → BN
  { name: 'conv2d depthwise 7x7 stride 2 (MBConv)', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 6, 11, 9], [6, 1, 7, 7]], fn: ([x, w]) => conv2d(x, w, null, { stride: 2, padding: 3, groups: 6 }) },
  {
    name: 'MBConv block (expand 3, 7x7 depthwise stride 2, ReLU6)', kernels: ['conv2d', 'batchNormTrain', 'relu6', 'relu6Backward', 'batchNormBackward', 'conv2dInputGrad', 'conv2dWeightGrad'],
    inputs: [[2, 4, 9, 9], [12, 4, 1, 1], [12, 1, 7, 7], [5, 12, 1, 1]],
    fn: ([x, we, wd, wp]) => {
      const bn = (t: Tensor) => batchNorm(t, { gamma: null, beta: null, ...noStats, training: true });
      const h = relu6(mulScalar(bn(conv2d(x, we)), 3));
      const d = relu6(mulScalar(bn(conv2d(h, wd, null, { stride: 2, padding: 3, groups: 12 })), 3));
      return bn(conv2d(d, wp));
    },
    fdEps: 1e-3, fdTol: 3e-2, quick: true,
  },
  // an NB201 edge's two convolutions on one relu(x): the WebGPU backend runs them as pairs (conv-pair.ts)
  { name: 'conv2d 3x3 + 1x1 on one input (convolution pairs)', kernels: ['relu', 'conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[2, 8, 6, 8], [8, 8, 3, 3], [8, 8, 1, 1]], fn: ([x, w3, w1]) => { const r = relu(x); return add(conv2d(r, w3, null, { padding: 1 }), mulScalar(conv2d(r, w1), 0.5)); }, quick: true },
];

/** Cases at NAS-Bench-201 shapes (batch reduced to keep the CPU reference quick). */
export const SPACE_SHAPE_CASES: OpCase[] = [
  { name: 'NB201 relu-conv3x3 C16 32x32', kernels: ['relu', 'conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[4, 16, 32, 32], [16, 16, 3, 3]], fn: ([x, w]) => conv2d(relu(x), w, null, { padding: 1 }), rtol: 2e-3, atol: 2e-3 },
  { name: 'NB201 conv1x1 C32 16x16', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[4, 32, 16, 16], [32, 32, 1, 1]], fn: ([x, w]) => conv2d(x, w), rtol: 2e-3, atol: 2e-3 },
  { name: 'NB201 reduction conv3x3 s2 C32→64', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[4, 32, 16, 16], [64, 32, 3, 3]], fn: ([x, w]) => conv2d(x, w, null, { stride: 2, padding: 1 }), rtol: 2e-3, atol: 2e-3 },
  { name: 'NB201 batchNorm C64 8x8', kernels: ['batchNormTrain', 'batchNormBackward'], inputs: [[8, 64, 8, 8]], fn: ([x]) => batchNorm(x, { gamma: null, beta: null, ...noStats, training: true }), rtol: 2e-3, atol: 2e-3 },
  { name: 'DARTS dil_conv 5x5 depthwise d2 s2 C32 16x16', kernels: ['relu', 'conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[4, 32, 16, 16], [32, 1, 5, 5]], fn: ([x, w]) => conv2d(relu(x), w, null, { stride: 2, padding: 4, dilation: 2, groups: 32 }), rtol: 2e-3, atol: 2e-3 },
  { name: 'DARTS sep_conv 5x5 depthwise + pointwise C64 8x8', kernels: ['conv2d', 'conv2dInputGrad', 'conv2dWeightGrad'], inputs: [[4, 64, 8, 8], [64, 1, 5, 5], [64, 64, 1, 1]], fn: ([x, d, p]) => conv2d(conv2d(x, d, null, { padding: 2, groups: 64 }), p), rtol: 2e-3, atol: 2e-3 },
  { name: 'NB201 avgPool 3x3 C16 32x32', kernels: ['pool2d', 'pool2dBackward'], inputs: [[4, 16, 32, 32]], fn: ([x]) => avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }) },
];

export interface CaseResult {
  loss: number;
  output: Float32Array;
  grads: Float32Array[];
}

/** Inputs of a case on a backend (trainable leaves). */
export function caseInputs(be: Backend, c: OpCase, seed: number): Tensor[] {
  return c.inputs.map((shape, i) => {
    const n = shape.reduce((p, d) => p * d, 1);
    return Tensor.fromArray(be, seededNormal(n, seed + 17 * i), shape).param(`${c.name} input ${i}`);
  });
}

/** loss = Σ out · r for a fixed random r. */
export function projectedLoss(out: Tensor, seed: number): Tensor {
  const r = Tensor.fromArray(out.backend, seededNormal(out.size, seed), out.shape);
  return sum(mul(out, r));
}

/**
 * Forward, then backward of the projected loss; everything read back and released. `afterForward`
 * runs between the op's forward and the projection + backward (the self-test uses it to attribute
 * kernel launches to the forward or the backward row).
 */
export async function runCase(be: Backend, c: OpCase, seed: number, afterForward?: () => void): Promise<CaseResult> {
  const xs = caseInputs(be, c, seed);
  const cs = c.consts ? c.consts(be) : [];
  const { loss, out } = tidy(() => {
    const out = c.fn(xs, cs);
    afterForward?.();
    const loss = projectedLoss(out, seed + 1000);
    backward(loss);
    return { loss, out: out.detach() };
  });
  const result = {
    loss: (await loss.data())[0],
    output: await out.data(),
    grads: await Promise.all(xs.map((x) => x.grad!.data())),
  };
  for (const t of [...xs, ...cs, loss, out]) { t.grad?.dispose(); t.grad = null; t.dispose(); }
  return result;
}

export interface Comparison { maxAbs: number; maxRel: number; pass: boolean; worst: number }

/** |a-b| <= atol + rtol·|b| elementwise; reports the worst element. */
export function compareArrays(actual: Float32Array, expected: Float32Array, rtol: number, atol: number): Comparison {
  let maxAbs = 0, maxRel = 0, pass = actual.length === expected.length, worst = -1, worstExcess = -Infinity;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const a = actual[i], b = expected[i];
    const d = Math.abs(a - b);
    if (!Number.isFinite(a) || !(d <= atol + rtol * Math.abs(b))) pass = false;
    const excess = Number.isFinite(d) ? d - (atol + rtol * Math.abs(b)) : Infinity;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
    if (!(d <= maxAbs)) maxAbs = d;
    const rel = d / Math.max(Math.abs(b), 1e-12);
    if (Math.abs(b) > atol && !(rel <= maxRel)) maxRel = rel;
  }
  return { maxAbs, maxRel, pass, worst };
}

/**
 * Finite-difference check of a case's gradients on one backend: central differences of the
 * projected loss at up to `points` coordinates per input vs the autograd gradient.
 * Returns the worst error relative to max(1, |fd|).
 */
export async function finiteDifferenceCheck(be: Backend, c: OpCase, seed: number, points = 12): Promise<{ worst: number; where: string }> {
  const { grads } = await runCase(be, c, seed);
  const eps = c.fdEps ?? 1e-2;
  let worst = 0, where = '';
  for (let i = 0; i < c.inputs.length; i++) {
    const n = grads[i].length;
    const picks = n <= points ? [...Array(n).keys()] : Array.from({ length: points }, (_, k) => (k * 7919 + 3) % n);
    for (const j of picks) {
      const lossAt = async (delta: number) => {
        const xs = caseInputs(be, c, seed);
        const host = await xs[i].data();
        host[j] += delta;
        be.write(xs[i].storage, host);
        const cs = c.consts ? c.consts(be) : [];
        const v = noGradTidy(() => projectedLoss(c.fn(xs, cs), seed + 1000));
        const r = (await v.data())[0];
        for (const t of [...xs, ...cs, v]) t.dispose();
        return r;
      };
      const fd = ((await lossAt(eps)) - (await lossAt(-eps))) / (2 * eps);
      const err = Math.abs(fd - grads[i][j]) / Math.max(1, Math.abs(fd));
      if (err > worst) { worst = err; where = `input ${i} element ${j}: autograd ${grads[i][j]}, finite difference ${fd}`; }
    }
  }
  return { worst, where };
}

function noGradTidy(fn: () => Tensor): Tensor {
  return noGrad(() => tidy(fn));
}
