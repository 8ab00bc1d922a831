// Fully connected layer: y = x W^T + b, W stored [out, in] (PyTorch Linear).
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';

export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  const be = assertSameBackend('linear', x, w, b);
  if (x.rank !== 2 || w.rank !== 2) {
    throw new Error(`linear: input ${shapeStr(x.shape)} must be [N, in] and weight ${shapeStr(w.shape)} [out, in]`);
  }
  const [N, In] = x.shape, [Out, WIn] = w.shape;
  if (In !== WIn) throw new Error(`linear: input ${shapeStr(x.shape)} has ${In} features, weight ${shapeStr(w.shape)} expects ${WIn}`);
  if (b && b.size !== Out) throw new Error(`linear: bias ${shapeStr(b.shape)} must have ${Out} values`);
  const y = Tensor.empty(be, [N, Out]);
  if (b) {
    // addRowBias may not write into its own input (WebGPU binding rules): go through a temporary
    const xw = Tensor.empty(be, [N, Out]);
    be.matmul(x.storage, w.storage, xw.storage, { M: N, N: Out, K: In, transA: false, transB: true });
    be.addRowBias(xw.storage, b.storage, y.storage, { rows: N, cols: Out });
    xw.dispose();
  } else {
    be.matmul(x.storage, w.storage, y.storage, { M: N, N: Out, K: In, transA: false, transB: true });
  }
  if (needsGrad(x, w, b)) {
    const xs = x.storage, ws = w.storage;
    const needX = needsGrad(x), needW = needsGrad(w), needB = !!b && needsGrad(b);
    record(y, 'linear', b ? [x, w, b] : [x, w], [x, w], (dy, _targets, fresh) => {
      let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
      if (needX) { dx = Tensor.empty(be, x.shape); be.matmul(dy.storage, ws, dx.storage, { M: N, N: In, K: Out, transA: false, transB: false }); }
      if (needW) { dw = fresh(1) ?? Tensor.empty(be, w.shape); be.matmul(dy.storage, xs, dw.storage, { M: Out, N: In, K: N, transA: true, transB: false }); }
      if (needB) { db = fresh(2) ?? Tensor.empty(be, b!.shape); be.columnSum(dy.storage, db.storage, { rows: N, cols: Out }); }
      return b ? [dx, dw, db] : [dx, dw];
    });
  }
  return y;
}
