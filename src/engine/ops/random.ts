// Stochastic regularisers. Masks are pure functions of (seed, element index) on both backends, so a
// seeded run gives the same masks on CPU and WebGPU.
import { Tensor, shapeStr } from '../tensor.js';
import { mul, mulBroadcast } from './elementwise.js';

function checkP(op: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`${op}: drop probability ${p} must be in [0, 1)`);
}

/** Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p). */
export function dropout(x: Tensor, p: number, seed: number, training = true): Tensor {
  checkP('dropout', p);
  if (!training || p === 0) return x;
  const mask = Tensor.empty(x.backend, x.shape);
  x.backend.dropoutMask(mask.storage, x.size, p, seed >>> 0);
  const out = mul(x, mask);
  mask.dispose(); // mul saved what it needs
  return out;
}

/** Drop path (stochastic depth): zero whole samples of an NCHW tensor with probability p. */
export function dropPath(x: Tensor, p: number, seed: number, training = true): Tensor {
  checkP('dropPath', p);
  if (x.rank < 1) throw new Error(`dropPath: needs a batch axis, got ${shapeStr(x.shape)}`);
  if (!training || p === 0) return x;
  const mask = Tensor.empty(x.backend, [x.shape[0]]);
  x.backend.dropoutMask(mask.storage, x.shape[0], p, seed >>> 0);
  const out = mulBroadcast(x, mask, 0);
  mask.dispose();
  return out;
}

