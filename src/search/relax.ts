// Continuous relaxations of the [rows, cols] architecture matrix α under an op mask, computed on the device so
// that their gradients reach α, and the host-side helpers that go with them (noise, argmax).
//
// Masking: a constant bias of MASKED_LOGIT is added to the masked entries before any softmax, so they
// come out exactly 0 (exp underflows) with exactly zero gradient. −1e9 rather than −∞ because WGSL
// does not promise to preserve infinities; exp(−1e9 − max) is 0 in f32 all the same.
import { Tensor, add, mulScalar, softmax, logSoftmax } from '../engine/index.js';
import type { Backend } from '../engine/index.js';
import type { OpMask, Genotype } from '../spaces/space.js';

/** The shape of α and of masks (a SearchSpace is one). */
export interface AlphaShape { readonly rows: number; readonly cols: number }

function checkMask(mask: OpMask, shape: AlphaShape): void {
  if (!(mask instanceof Uint8Array) || mask.length !== shape.rows * shape.cols) {
    throw new Error(`op mask must be a Uint8Array of ${shape.rows}×${shape.cols} entries, got ${mask instanceof Uint8Array ? `length ${mask.length}` : typeof mask}`);
  }
}

export const MASKED_LOGIT = -1e9;

/** [rows, cols] constant: 0 where the mask enables an op, MASKED_LOGIT elsewhere. */
export function maskBias(be: Backend, mask: OpMask, shape: AlphaShape): Tensor {
  checkMask(mask, shape);
  const b = new Float32Array(shape.rows * shape.cols);
  for (let i = 0; i < b.length; i++) b[i] = mask[i] === 1 ? 0 : MASKED_LOGIT;
  return Tensor.fromArray(be, b, [shape.rows, shape.cols]);
}

/** DARTS: θ = softmax over the enabled ops of each edge's α row; masked entries exactly 0. */
export function maskedSoftmax(alpha: Tensor, bias: Tensor): Tensor {
  return softmax(add(alpha, bias));
}

/** SNAS: one soft Gumbel-softmax sample, softmax((α + g)/τ) over the enabled ops (F.gumbel_softmax,
 *  hard=False). `noise` holds the Gumbel draws g, shaped as α. */
export function gumbelSoftmax(alpha: Tensor, bias: Tensor, noise: Tensor, tau: number): Tensor {
  checkTau(tau);
  return softmax(mulScalar(add(add(alpha, noise), bias), 1 / tau));
}

/**
 * GDAS (ADL `search_model_gdas.py`): probs = softmax((log_softmax(α) + g)/τ) over the enabled ops,
 * then the straight-through hard weights onehot(index) − probs.detach() + probs: their values are
 * exactly the one-hot rows, their gradient is that of probs. `index[e]` is the op chosen on edge e
 * (the argmax of probs, computed on the host by `gdasIndex`).
 */
export function gdasHardWeights(alpha: Tensor, bias: Tensor, noise: Tensor, tau: number, index: readonly number[]): Tensor {
  checkTau(tau);
  const be = alpha.backend;
  const probs = softmax(mulScalar(add(add(logSoftmax(add(alpha, bias)), noise), bias), 1 / tau));
  const [rows, cols] = alpha.shape as [number, number];
  const onehot = new Float32Array(rows * cols);
  index.forEach((o, e) => { onehot[e * cols + o] = 1; });
  // probs − probs.detach() is exactly 0 in value (x − x), and carries probs' gradient
  const zeroWithGrad = add(probs, mulScalar(probs.detach(), -1));
  return add(zeroWithGrad, Tensor.fromArray(be, onehot, [rows, cols]));
}

function checkTau(tau: number): void {
  if (!(tau > 0 && Number.isFinite(tau))) throw new Error(`Gumbel temperature must be a positive number, got ${tau}`);
}

/** A source of uniform numbers in [0, 1) (src/data's Rng, or any `{ next() }`). */
export interface Uniform { next(): number }

/** Standard Gumbel draws −log(−log u), u uniform in (0, 1) (u = 0 is redrawn), as float32. */
export function gumbelNoise(rng: Uniform, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let u = rng.next();
    while (u <= 0) u = rng.next();
    out[i] = -Math.log(-Math.log(u));
  }
  return out;
}

/** Per row (edge), the enabled op with the largest value (the first on ties, as torch.argmax). */
export function maskedArgmax(values: ArrayLike<number>, mask: OpMask, shape: AlphaShape): Genotype {
  checkMask(mask, shape);
  const { rows, cols } = shape;
  if (values.length !== rows * cols) throw new Error(`maskedArgmax: expected ${rows * cols} values, got ${values.length}`);
  const g: number[] = [];
  for (let e = 0; e < rows; e++) {
    let best = -1;
    for (let o = 0; o < cols; o++) {
      if (mask[e * cols + o] !== 1) continue;
      const v = values[e * cols + o];
      if (Number.isNaN(v)) throw new Error(`maskedArgmax: value of edge ${e}, op ${o} is NaN`);
      if (best < 0 || v > values[e * cols + best]) best = o;
    }
    if (best < 0) throw new Error(`maskedArgmax: edge ${e} enables no op`);
    g.push(best);
  }
  return g;
}

/**
 * GDAS's choice per edge: argmax over enabled ops of (log_softmax(α) + g)/τ, which equals the argmax
 * of α + g (log_softmax shifts a row by a constant and τ > 0). Computed in float32 like the device.
 */
export function gdasIndex(alpha: ArrayLike<number>, noise: ArrayLike<number>, mask: OpMask, shape: AlphaShape): Genotype {
  const s = new Float32Array(shape.rows * shape.cols);
  for (let i = 0; i < s.length; i++) s[i] = alpha[i] + noise[i];
  return maskedArgmax(s, mask, shape);
}
