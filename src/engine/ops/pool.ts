// Pooling over NCHW tensors.
import { Tensor, needsGrad, record, shapeStr } from '../tensor.js';
import { convOutSize } from '../backend.js';
import type { PoolGeom } from '../backend.js';
import { asScaled } from './fused.js';
import { switches } from '../switches.js';

export interface PoolOptions {
  kernel: number;
  stride?: number;
  padding?: number;
  /** avg only; NB201 and DARTS use false */
  countIncludePad?: boolean;
}

function pool(kind: 'avg' | 'max', x: Tensor, o: PoolOptions): Tensor {
  const op = `${kind}Pool2d`;
  if (x.rank !== 4) throw new Error(`${op}: input ${shapeStr(x.shape)} must be NCHW`);
  const [N, C, H, W] = x.shape;
  const k = o.kernel, s = o.stride ?? o.kernel, p = o.padding ?? 0;
  if (p * 2 > k) throw new Error(`${op}: padding ${p} must be at most half the kernel ${k}`);
  const OH = convOutSize(H, k, s, p), OW = convOutSize(W, k, s, p);
  if (OH < 1 || OW < 1) throw new Error(`${op}: kernel ${k} does not fit input ${shapeStr(x.shape)}`);
  const g: PoolGeom = {
    kind, N, C, H, W, OH, OW, KH: k, KW: k, strideH: s, strideW: s, padH: p, padW: p,
    countIncludePad: o.countIncludePad ?? false,
  };
  const be = x.backend;
  const y = Tensor.empty(be, [N, C, OH, OW]);
  be.pool2d(x.storage, y.storage, g);
  if (needsGrad(x)) {
    const xs = x.storage;
    record(y, op, [x], [x], (dy, targets) => {
      if (!switches.fusion) {
        const dx = Tensor.empty(be, x.shape);
        be.pool2dBackward(dy.storage, xs, dx.storage, g);
        return [dx];
      }
      // a deferred w·dy (a weighted-sum input, ops/fused.ts) is scaled inside the kernel, and the
      // result added into x's gradient so far when the autograd offers it: one pass, nothing stored
      const sc = asScaled(dy);
      const acc = targets(0);
      const dx = acc ?? Tensor.empty(be, x.shape);
      be.pool2dBackward(sc ? sc.src.storage : dy.storage, xs, dx.storage, g,
        { scale: sc ? { w: sc.w.storage, index: sc.index } : null, accumulate: !!acc });
      return [dx];
    });
  }
  return y;
}

export const avgPool2d = (x: Tensor, o: PoolOptions): Tensor => pool('avg', x, o);
export const maxPool2d = (x: Tensor, o: PoolOptions): Tensor => pool('max', x, o);

/** [N, C, H, W] → [N, C] */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`globalAvgPool: input ${shapeStr(x.shape)} must be NCHW`);
  const [N, C, H, W] = x.shape;
  const g = { N, C, HW: H * W };
  const be = x.backend;
  const y = Tensor.empty(be, [N, C]);
  be.globalAvgPool(x.storage, y.storage, g);
  if (needsGrad(x)) {
    record(y, 'globalAvgPool', [x], [], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.globalAvgPoolBackward(dy.storage, dx.storage, g);
      return [dx];
    });
  }
  return y;
}
