// Channel concatenation and slicing of NCHW tensors (each is the other's gradient).
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';

function nchw(op: string, x: Tensor): [number, number, number] {
  if (x.rank !== 4) throw new Error(`${op}: input ${shapeStr(x.shape)} must be NCHW`);
  return [x.shape[0], x.shape[1], x.shape[2] * x.shape[3]];
}

export function concatChannels(xs: Tensor[]): Tensor {
  if (xs.length === 0) throw new Error('concatChannels: no inputs');
  const be = assertSameBackend('concatChannels', ...xs);
  const [N, , HW] = nchw('concatChannels', xs[0]);
  for (const x of xs) {
    const [n, , hw] = nchw('concatChannels', x);
    if (n !== N || hw !== HW || x.shape[2] !== xs[0].shape[2]) {
      throw new Error(`concatChannels: ${shapeStr(x.shape)} does not match ${shapeStr(xs[0].shape)} outside the channel axis`);
    }
  }
  const total = xs.reduce((s, x) => s + x.shape[1], 0);
  const out = Tensor.empty(be, [N, total, xs[0].shape[2], xs[0].shape[3]]);
  const offsets: number[] = [];
  let off = 0;
  for (const x of xs) {
    offsets.push(off);
    be.copyChannels(x.storage, out.storage, { N, HW, srcC: x.shape[1], srcOffset: 0, dstC: total, dstOffset: off, count: x.shape[1], accumulate: false });
    off += x.shape[1];
  }
  if (needsGrad(...xs)) {
    const need = xs.map((x) => needsGrad(x));
    record(out, 'concatChannels', xs, [], (dy) => xs.map((x, i) => {
      if (!need[i]) return null;
      const dx = Tensor.empty(be, x.shape);
      be.copyChannels(dy.storage, dx.storage, { N, HW, srcC: total, srcOffset: offsets[i], dstC: x.shape[1], dstOffset: 0, count: x.shape[1], accumulate: false });
      return dx;
    }));
  }
  return out;
}

/** Channels [start, start + count) of x. */
export function sliceChannels(x: Tensor, start: number, count: number): Tensor {
  const [N, C, HW] = nchw('sliceChannels', x);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > C) {
    throw new Error(`sliceChannels: channels [${start}, ${start + count}) outside the ${C} channels of ${shapeStr(x.shape)}`);
  }
  const be = x.backend;
  const out = Tensor.empty(be, [N, count, x.shape[2], x.shape[3]]);
  be.copyChannels(x.storage, out.storage, { N, HW, srcC: C, srcOffset: start, dstC: count, dstOffset: 0, count, accumulate: false });
  if (needsGrad(x)) {
    record(out, 'sliceChannels', [x], [], (dy) => {
      const dx = Tensor.zeros(be, x.shape);
      be.copyChannels(dy.storage, dx.storage, { N, HW, srcC: count, srcOffset: 0, dstC: C, dstOffset: start, count, accumulate: false });
      return [dx];
    });
  }
  return out;
}
