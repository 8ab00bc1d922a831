// 2-D convolution (NCHW, weights [Cout, Cin/groups, KH, KW]) with stride, padding, dilation, groups.
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';
import { convOutSize } from '../backend.js';
import type { ConvGeom } from '../backend.js';
import { switches } from '../switches.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

export function conv2dGeom(xShape: readonly number[], wShape: readonly number[], o: Conv2dOptions = {}): ConvGeom {
  const where = `conv2d(input ${shapeStr(xShape)}, weight ${shapeStr(wShape)})`;
  if (xShape.length !== 4) throw new Error(`${where}: input must be NCHW (rank 4)`);
  if (wShape.length !== 4) throw new Error(`${where}: weight must be [Cout, Cin/groups, KH, KW]`);
  const [N, Cin, H, W] = xShape;
  const [Cout, CinG, KH, KW] = wShape;
  const groups = o.groups ?? 1;
  const [strideH, strideW] = pair(o.stride, 1);
  const [padH, padW] = pair(o.padding, 0);
  const [dilH, dilW] = pair(o.dilation, 1);
  if (!Number.isInteger(groups) || groups < 1 || Cin % groups || Cout % groups) {
    throw new Error(`${where}: groups ${groups} must divide input channels ${Cin} and output channels ${Cout}`);
  }
  if (Cin / groups !== CinG) {
    throw new Error(`${where}: input has ${Cin} channels; weight expects ${CinG * groups} (${CinG} per group × ${groups} groups)`);
  }
  for (const [k, v] of [['stride', strideH], ['stride', strideW], ['dilation', dilH], ['dilation', dilW]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: ${k} ${v} must be a positive integer`);
  }
  if (padH < 0 || padW < 0) throw new Error(`${where}: negative padding`);
  const OH = convOutSize(H, KH, strideH, padH, dilH), OW = convOutSize(W, KW, strideW, padW, dilW);
  if (OH < 1 || OW < 1) throw new Error(`${where}: the ${KH}×${KW} kernel (dilation ${dilH}) does not fit the padded ${H}×${W} input`);
  return { N, Cin, H, W, Cout, KH, KW, OH, OW, strideH, strideW, padH, padW, dilH, dilW, groups };
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return convOp('conv2d', x, w, bias, o, false);
}

/**
 * conv2d(relu(x), w, bias) as one fused op: the convolution kernels read max(x, 0), and the input
 * gradient comes out already masked by x > 0, so neither the ReLU output nor its gradient is ever
 * stored (two kernel launches and two activation-sized buffers fewer per call). The gradient with
 * respect to x is the one of the unfused composition.
 */
export function reluConv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  return convOp('reluConv2d', x, w, bias, o, true);
}

function convOp(op: string, x: Tensor, w: Tensor, bias: Tensor | null, o: Conv2dOptions, reluInput: boolean): Tensor {
  const be = assertSameBackend(op, x, w, bias);
  const g = conv2dGeom(x.shape, w.shape, o);
  if (reluInput) g.reluInput = true;
  if (bias && bias.size !== g.Cout) {
    throw new Error(`${op}: bias ${shapeStr(bias.shape)} must have ${g.Cout} values (output channels)`);
  }
  const y = Tensor.empty(be, [g.N, g.Cout, g.OH, g.OW]);
  be.conv2d(x.storage, w.storage, bias ? bias.storage : null, y.storage, g);
  if (needsGrad(x, w, bias)) {
    const xs = x.storage, ws = w.storage;
    const needX = needsGrad(x), needW = needsGrad(w), needB = !!bias && needsGrad(bias);
    const inputs = bias ? [x, w, bias] : [x, w];
    // the input gradient needs w (and x for the ReLU mask), the weight gradient x
    const save = [...(needW || (needX && reluInput) ? [x] : []), ...(needX ? [w] : [])];
    record(y, op, inputs, save, (dy, targets, fresh) => {
      let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
      if (needX && switches.fusion) {
        // add into x's gradient so far when the autograd offers it (no separate accumulation pass)
        const acc = targets(0);
        dx = acc ?? Tensor.empty(be, x.shape);
        be.conv2dInputGrad(dy.storage, ws, dx.storage, g, reluInput ? xs : null, !!acc);
      } else if (needX) { dx = Tensor.empty(be, x.shape); be.conv2dInputGrad(dy.storage, ws, dx.storage, g, reluInput ? xs : null); }
      if (needW) { dw = fresh(1) ?? Tensor.empty(be, w.shape); be.conv2dWeightGrad(dy.storage, xs, dw.storage, g); }
      if (needB) {
        db = fresh(2) ?? Tensor.empty(be, bias!.shape);
        be.channelSum(dy.storage, db.storage, { N: g.N, C: g.Cout, HW: g.OH * g.OW });
      }
      return bias ? [dx, dw, db] : [dx, dw];
    });
  }
  return y;
}
