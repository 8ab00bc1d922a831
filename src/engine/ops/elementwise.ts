// Elementwise and broadcast ops with their gradient rules.
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';
import type { Shape } from '../tensor.js';
import { mixedWeightedSum } from './fused.js';
import { switches } from '../switches.js';

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  }
}

export function add(a: Tensor, b: Tensor): Tensor {
  const be = assertSameBackend('add', a, b);
  sameShape('add', a, b);
  const out = Tensor.empty(be, a.shape);
  be.add(a.storage, b.storage, out.storage, a.size);
  if (needsGrad(a, b)) record(out, 'add', [a, b], [], (dy) => [dy, dy]);
  return out;
}

/** Sum of a non-empty list of same-shaped tensors. */
export function addN(xs: Tensor[]): Tensor {
  if (xs.length === 0) throw new Error('addN: empty list');
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) acc = add(acc, xs[i]);
  return acc;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const be = assertSameBackend('mul', a, b);
  sameShape('mul', a, b);
  const out = Tensor.empty(be, a.shape);
  be.mul(a.storage, b.storage, out.storage, a.size);
  if (needsGrad(a, b)) {
    const as = a.storage, bs = b.storage;
    record(out, 'mul', [a, b], [a, b], (dy) => {
      const da = Tensor.empty(be, a.shape), db = Tensor.empty(be, b.shape);
      be.mul(dy.storage, bs, da.storage, a.size);
      be.mul(dy.storage, as, db.storage, a.size);
      return [da, db];
    });
  }
  return out;
}

export function mulScalar(x: Tensor, s: number): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, x.shape);
  be.scale(x.storage, s, out.storage, x.size);
  if (needsGrad(x)) {
    record(out, 'mulScalar', [x], [], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.scale(dy.storage, s, dx.storage, x.size);
      return [dx];
    });
  }
  return out;
}

export function relu(x: Tensor): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, x.shape);
  be.relu(x.storage, out.storage, x.size);
  if (needsGrad(x)) {
    const xs = x.storage;
    record(out, 'relu', [x], [x], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.reluBackward(dy.storage, xs, dx.storage, x.size);
      return [dx];
    });
  }
  return out;
}

/** min(max(x, 0), 6): the activation of MobileNet's inverted-residual blocks. Its gradient passes
 *  where 0 < x < 6 and is 0 at both bounds (PyTorch's ReLU6 is hardtanh(0, 6), same rule). */
export function relu6(x: Tensor): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, x.shape);
  be.relu6(x.storage, out.storage, x.size);
  if (needsGrad(x)) {
    const xs = x.storage;
    record(out, 'relu6', [x], [x], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.relu6Backward(dy.storage, xs, dx.storage, x.size);
      return [dx];
    });
  }
  return out;
}

/**
 * x * s broadcast along one axis: s has x.shape[axis] values (axis 0 of NCHW = per sample,
 * axis 1 = per channel).
 */
export function mulBroadcast(x: Tensor, s: Tensor, axis: number): Tensor {
  const be = assertSameBackend('mulBroadcast', x, s);
  if (axis < 0 || axis >= x.rank) throw new Error(`mulBroadcast: axis ${axis} out of range for ${shapeStr(x.shape)}`);
  const mid = x.shape[axis];
  if (s.size !== mid) {
    throw new Error(`mulBroadcast: scale has ${s.size} values, axis ${axis} of ${shapeStr(x.shape)} has ${mid}`);
  }
  const g = {
    outer: x.shape.slice(0, axis).reduce((p, d) => p * d, 1),
    mid,
    inner: x.shape.slice(axis + 1).reduce((p, d) => p * d, 1),
  };
  const out = Tensor.empty(be, x.shape);
  be.mulBroadcast(x.storage, s.storage, out.storage, g);
  if (needsGrad(x, s)) {
    const xs = x.storage, ss = s.storage;
    const needX = needsGrad(x), needS = needsGrad(s);
    record(out, 'mulBroadcast', [x, s], [x, s], (dy) => {
      let dx: Tensor | null = null, ds: Tensor | null = null;
      if (needX) { dx = Tensor.empty(be, x.shape); be.mulBroadcast(dy.storage, ss, dx.storage, g); }
      if (needS) { ds = Tensor.empty(be, s.shape); be.mulBroadcastGradS(dy.storage, xs, ds.storage, g); }
      return [dx, ds];
    });
  }
  return out;
}

function checkWeightIndex(op: string, w: Tensor, idx: number): void {
  if (!Number.isInteger(idx) || idx < 0 || idx >= w.size) {
    throw new Error(`${op}: weight index ${idx} outside the ${w.size} weights of ${shapeStr(w.shape)}`);
  }
}

/**
 * Mixed edge: sum_k w[wIndex[k]] * xs[k]. The weights stay on the device (they are functions of the
 * architecture parameters and carry gradients). Indices must be distinct. With fusion on (any number
 * of weights and terms; the WebGPU weight-gradient pass tiles over columns) this is the fused mixed sum
 * of ./fused.ts: deferred BN inputs are read through their statistics, input gradients are deferred
 * w·dy, the weight gradient is one pass per tile.
 */
export function weightedSum(xs: Tensor[], w: Tensor, wIndex: number[]): Tensor {
  if (xs.length === 0) throw new Error('weightedSum: no inputs');
  if (xs.length !== wIndex.length) throw new Error(`weightedSum: ${xs.length} inputs but ${wIndex.length} weight indices`);
  const be = assertSameBackend('weightedSum', w, ...xs);
  for (const x of xs) sameShape('weightedSum', xs[0], x);
  for (const i of wIndex) checkWeightIndex('weightedSum', w, i);
  if (new Set(wIndex).size !== wIndex.length) throw new Error('weightedSum: weight indices must be distinct');
  if (switches.fusion) return mixedWeightedSum(xs, w, wIndex);
  const n = xs[0].size;
  const out = Tensor.empty(be, xs[0].shape);
  be.weightedSum(xs.map((x) => x.storage), w.storage, wIndex, out.storage, n);
  if (needsGrad(w, ...xs)) {
    const xst = xs.map((x) => x.storage), ws = w.storage;
    const needW = needsGrad(w);
    const needX = xs.map((x) => needsGrad(x));
    record(out, 'weightedSum', [...xs, w], [...xs, w], (dy) => {
      const grads: (Tensor | null)[] = xs.map((x, k) => {
        if (!needX[k]) return null;
        const dx = Tensor.empty(be, x.shape);
        be.scaleByElement(dy.storage, ws, wIndex[k], dx.storage, n);
        return dx;
      });
      let dw: Tensor | null = null;
      if (needW) {
        dw = Tensor.zeros(be, w.shape);
        for (let k = 0; k < xs.length; k++) be.dot(dy.storage, xst[k], dw.storage, wIndex[k], n);
      }
      grads.push(dw);
      return grads;
    });
  }
  return out;
}

/** w[wIndex] * x — a single weighted path (GDAS, straight-through hard weights). */
export function scaleByElement(x: Tensor, w: Tensor, wIndex: number): Tensor {
  return weightedSum([x], w, [wIndex]);
}

/** Sum of all elements, as a tensor of shape []. */
export function sum(x: Tensor): Tensor {
  const be = x.backend;
  const out = Tensor.empty(be, []);
  be.sum(x.storage, out.storage, x.size);
  if (needsGrad(x)) {
    record(out, 'sum', [x], [], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.broadcastScalar(dy.storage, 1, dx.storage, x.size);
      return [dx];
    });
  }
  return out;
}

export function mean(x: Tensor): Tensor {
  if (x.size === 0) throw new Error('mean: empty tensor');
  return mulScalar(sum(x), 1 / x.size);
}

/** Copy with no autograd link (also copies views into a fresh storage). */
export function clone(x: Tensor): Tensor {
  const out = Tensor.empty(x.backend, x.shape);
  x.backend.copy(x.storage, out.storage, x.size);
  if (needsGrad(x)) record(out, 'clone', [x], [], (dy) => [dy]);
  return out;
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  const shape: Shape = [...x.shape.slice(0, startAxis), x.shape.slice(startAxis).reduce((p, d) => p * d, 1)];
  return x.reshape(shape);
}
