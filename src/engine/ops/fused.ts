// Fused ops of the NB201 fast path, and the deferred storages they trade in.
//
//   reluConvBatchNorm(x, …)  ReLU → conv → training-mode BN as one op: the conv reads max(x, 0), BN
//                            computes its statistics only, and the output is DEFERRED (x·scale[c] +
//                            shift[c] of the raw conv output). A weighted sum reading it applies the
//                            BN on the fly (mixedSum), so a cell's BN outputs are never stored; any
//                            other reader makes it real (one batchNormApply).
//   scaled gradients         weightedSum's backward hands each input the deferred gradient
//                            w[k]·dy: the fused op's backward scales dy on read inside the BN
//                            backward kernel, pooling's backward inside its kernel (ops/pool.ts),
//                            gradient accumulation adds it with addScaledInPlace, anything else
//                            makes it real (one scaleByElement).
//   BN backward ahead        for its non-affine BN inputs the weighted sum's backward also runs
//                            the BN backward, all of them in one launch, and the result rides on
//                            the deferred gradient (ScaleRecipe.bnGrad): the fused op then skips
//                            its own BN backward kernel.
// Deferred recipes only read storages private to the op that made them (the raw conv output, the
// statistics block, a gradient), so computing late gives what computing early would have.
import { Tensor, SharedStorage, needsGrad, record, assertSameBackend, shapeStr, type Deferred } from '../tensor.js';
import type { Backend, BatchNormGeom, ChannelGeom, ConvGeom, MixedTerm, ScaleRef, Storage } from '../backend.js';
import { conv2dGeom, type Conv2dOptions } from './conv.js';
import { switches } from '../switches.js';

// ---- deferred recipes ------------------------------------------------------------------------

/** x·scale[c] + shift[c]: a training-mode BN output whose statistics block is `stats`. */
export interface BnApplyRecipe extends Deferred {
  readonly kind: 'bnApply';
  readonly x: SharedStorage;
  readonly stats: SharedStorage;
  readonly geom: ChannelGeom;
  /** whether the BN has γ and β (then its backward also makes their gradients) */
  readonly affine: boolean;
}

/** The BN backward of a non-affine BN output's gradient, computed ahead by the weighted sum it fed
 *  (several layers in one launch): `dx` is the gradient of the BN's input, `stats` identifies the BN. */
export interface BnGradAhead { readonly dx: SharedStorage; readonly stats: Storage }

/** w[index]·src: a weighted-sum input's gradient. */
export interface ScaleRecipe extends Deferred {
  readonly kind: 'scale';
  readonly src: SharedStorage;
  readonly w: SharedStorage;
  readonly index: number;
  readonly n: number;
  /** when the input is a BN output: its BN backward, done (reluConvBatchNorm uses it) */
  readonly bnGrad: BnGradAhead | null;
}

function bnApplyRecipe(be: Backend, x: SharedStorage, stats: SharedStorage, geom: ChannelGeom, affine: boolean): BnApplyRecipe {
  return { kind: 'bnApply', inputs: [x, stats], x, stats, geom, affine, run: (out) => be.batchNormApply(x.storage, stats.storage, out, geom) };
}

function scaleRecipe(be: Backend, src: SharedStorage, w: SharedStorage, index: number, n: number, bnGrad: BnGradAhead | null): ScaleRecipe {
  return {
    kind: 'scale', inputs: bnGrad ? [src, w, bnGrad.dx] : [src, w], src, w, index, n, bnGrad,
    run: (out) => be.scaleByElement(src.storage, w.storage, index, out, n),
  };
}

export function asBnApply(t: Tensor): BnApplyRecipe | null {
  const d = t.deferred;
  return d && d.kind === 'bnApply' ? d as BnApplyRecipe : null;
}

export function asScaled(t: Tensor): ScaleRecipe | null {
  const d = t.deferred;
  return d && d.kind === 'scale' ? d as ScaleRecipe : null;
}

/** w[index]·dy as a deferred tensor of `shape` (retains dy's and w's storages; takes over bnGrad's). */
export function deferredScale(dy: Tensor, w: Tensor | SharedStorage, index: number, shape: readonly number[],
  bnGrad: BnGradAhead | null = null): Tensor {
  const ws = w instanceof Tensor ? w.shared : w;
  return Tensor.deferred(dy.backend, shape, scaleRecipe(dy.backend, dy.shared.retain(), ws.retain(), index, dy.size, bnGrad));
}

/** acc += g, for a gradient g that may be a deferred w·dy (then nothing is materialised). */
export function addGradInPlace(acc: Tensor, g: Tensor): void {
  const s = asScaled(g);
  if (s) acc.backend.addScaledInPlace(acc.storage, s.src.storage, s.w.storage, s.index, acc.size);
  else acc.backend.addInPlace(acc.storage, g.storage, acc.size, 1);
}

/**
 * a + b for two deferred gradients w[i]·x and w[j]·y that read the same weights (the skip edges
 * leaving one node): made real by one mixedSum pass instead of a scale pass and an add pass. Null
 * when they are not both of that kind.
 */
export function sumOfScaled(a: Tensor, b: Tensor): Tensor | null {
  const sa = asScaled(a), sb = asScaled(b);
  if (!sa || !sb || sa.w.storage !== sb.w.storage || a.size !== b.size) return null;
  const be = a.backend;
  const out = Tensor.empty(be, a.shape);
  be.mixedSum([{ x: sa.src.storage, stats: null, wIndex: sa.index }, { x: sb.src.storage, stats: null, wIndex: sb.index }],
    sa.w.storage, out.storage, channelGeom(a.shape, a.size));
  return out;
}

// ---- the mixed sum ---------------------------------------------------------------------------

/** The term a mixed sum reads for tensor x: a deferred BN output by its raw input and statistics. */
function termOf(x: Tensor, wIndex: number): { term: MixedTerm; keep: SharedStorage[] } {
  const bn = asBnApply(x);
  if (bn) return { term: { x: bn.x.storage, stats: bn.stats.storage, wIndex }, keep: [bn.x, bn.stats] };
  return { term: { x: x.storage, stats: null, wIndex }, keep: [x.shared] };
}

/** Channel geometry for a mixed sum over tensors of `shape` (NCHW: real channels; else one channel). */
function channelGeom(shape: readonly number[], size: number): ChannelGeom {
  if (shape.length === 4) return { N: shape[0], C: shape[1], HW: shape[2] * shape[3] };
  return { N: 1, C: 1, HW: size };
}

/**
 * sum_k w[wIndex[k]]·xs[k] (see weightedSum in elementwise.ts, which calls this): deferred BN
 * outputs are read through their statistics, the backward hands every input a deferred w[k]·dy,
 * and the gradient to w is one mixedDots pass.
 */
export function mixedWeightedSum(xs: Tensor[], w: Tensor, wIndex: number[]): Tensor {
  const be = assertSameBackend('weightedSum', w, ...xs);
  const shape = xs[0].shape;
  const n = xs[0].size;
  const bnInputs = xs.some((x) => asBnApply(x));
  const g = channelGeom(shape, n);
  if (bnInputs && shape.length !== 4) throw new Error(`weightedSum: deferred batch-norm inputs must be NCHW, got ${shapeStr(shape)}`);
  const parts = xs.map((x, k) => termOf(x, wIndex[k]));
  const out = Tensor.empty(be, shape);
  be.mixedSum(parts.map((p) => p.term), w.storage, out.storage, g);
  if (needsGrad(w, ...xs)) {
    const needW = needsGrad(w);
    const needX = xs.map((x) => needsGrad(x));
    const terms = parts.map((p) => p.term);
    // non-affine BN outputs that want a gradient: their BN backward runs here, all in one launch
    // (batchNormStatsBackwardMulti), and rides on the deferred gradient to the op that made them
    const ahead = xs.map((x, k) => {
      const bn = asBnApply(x);
      return bn && !bn.affine && needX[k] && switches.fusion && switches.bnBackwardAhead ? bn : null;
    });
    const keepAhead = ahead.flatMap((bn) => (bn ? [bn.x, bn.stats] : []));
    const save = needW ? [...parts.flatMap((p) => p.keep), w.shared] : [...keepAhead, w.shared];
    record(out, 'weightedSum', [...xs, w], save, (dy, targets) => {
      const bnGrads = ahead.map((bn) => (bn ? Tensor.empty(be, shape) : null));
      const multi = ahead.flatMap((bn, k) => (bn ? [{ x: bn.x.storage, stats: bn.stats.storage, dx: bnGrads[k]!.storage, wIndex: wIndex[k] }] : []));
      if (multi.length) be.batchNormStatsBackwardMulti(dy.storage, w.storage, multi, g);
      const grads: (Tensor | null)[] = xs.map((x, k) => {
        if (!needX[k]) return null;
        const bg = bnGrads[k];
        const t = deferredScale(dy, w, wIndex[k], x.shape, bg ? { dx: bg.shared.retain(), stats: ahead[k]!.stats.storage } : null);
        bg?.dispose();
        return t;
      });
      let dw: Tensor | null = null;
      if (needW) {
        // add into w's gradient so far when the autograd offers it (the cells share one w)
        const acc = targets(xs.length);
        dw = acc ?? Tensor.empty(be, w.shape);
        be.mixedDots(dy.storage, terms, dw.storage, w.size, g, !!acc);
      }
      grads.push(dw);
      return grads;
    });
  }
  return out;
}

// ---- ReLU → conv → BN --------------------------------------------------------------------------

export interface FusedBatchNormArgs {
  gamma: Tensor | null;
  beta: Tensor | null;
  /** updated in place when given (training mode) */
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  eps: number;
  momentum: number;
}

/**
 * batchNorm(conv2d(relu(x), w), training statistics) as one op with a deferred output (see the file
 * comment); with `reluInput` false, batchNorm(conv2d(x, w)) the same way. Gradients: BN backward from the statistics (dy scaled on read when it is a deferred
 * w·dy), then the fused-ReLU input and weight gradients of the conv.
 */
export function reluConvBatchNorm(x: Tensor, w: Tensor, convOpts: Conv2dOptions, bn: FusedBatchNormArgs, reluInput = true): Tensor {
  const be = assertSameBackend('reluConvBatchNorm', x, w, bn.gamma, bn.beta, bn.runningMean, bn.runningVar);
  const g: ConvGeom = { ...conv2dGeom(x.shape, w.shape, convOpts), reluInput };
  const C = g.Cout;
  for (const [name, t] of [['gamma', bn.gamma], ['beta', bn.beta], ['running mean', bn.runningMean], ['running var', bn.runningVar]] as const) {
    if (t && t.size !== C) throw new Error(`reluConvBatchNorm: ${name} ${shapeStr(t.shape)} must have ${C} values`);
  }
  if (!!bn.gamma !== !!bn.beta) throw new Error('reluConvBatchNorm: give both gamma and beta (affine), or neither');
  if (!!bn.runningMean !== !!bn.runningVar) throw new Error('reluConvBatchNorm: give both running mean and running var, or neither');
  const bg: BatchNormGeom = { N: g.N, C, HW: g.OH * g.OW, eps: bn.eps, momentum: bn.momentum };
  if (bg.N * bg.HW < 2 && bn.runningVar) {
    throw new Error(`reluConvBatchNorm: training needs more than one value per channel, output [${g.N}, ${C}, ${g.OH}, ${g.OW}]`);
  }
  const shape = [g.N, C, g.OH, g.OW];
  const y = Tensor.empty(be, shape);
  be.conv2d(x.storage, w.storage, null, y.storage, g);
  const stats = Tensor.empty(be, [4 * C]);
  be.batchNormStats(y.storage, bn.gamma?.storage ?? null, bn.beta?.storage ?? null, stats.storage,
    bn.runningMean?.storage ?? null, bn.runningVar?.storage ?? null, bg);
  const out = Tensor.deferred(be, shape, bnApplyRecipe(be, y.shared.retain(), stats.shared.retain(), bg, !!bn.gamma));
  const params = bn.gamma ? [bn.gamma, bn.beta!] : [];
  if (needsGrad(x, w, ...params)) {
    const needX = needsGrad(x), needW = needsGrad(w), needP = params.length > 0 && needsGrad(...params);
    const xs = x.storage, ws = w.storage, ys = y.storage, ss = stats.storage, gs = bn.gamma?.storage ?? null;
    record(out, 'reluConvBatchNorm', [x, w, ...params], [x, w, y, stats, ...params], (dOut, targets, fresh) => {
      const sc = asScaled(dOut);
      const dyIn = sc ? sc.src.storage : dOut.storage;
      const scale: ScaleRef | null = sc ? { w: sc.w.storage, index: sc.index } : null;
      // the weighted sum this output fed may have run the BN backward already (mixedWeightedSum)
      const ahead = sc?.bnGrad && sc.bnGrad.stats === ss && !needP ? sc.bnGrad.dx : null;
      const dyConv = ahead ? null : Tensor.empty(be, shape);
      const dg = needP ? fresh(2) ?? Tensor.empty(be, [C]) : null, db = needP ? fresh(3) ?? Tensor.empty(be, [C]) : null;
      if (dyConv) be.batchNormStatsBackward(dyIn, scale, ys, gs, ss, dyConv.storage, dg?.storage ?? null, db?.storage ?? null, bg);
      const dyConvStorage = ahead ? ahead.storage : dyConv!.storage;
      let dx: Tensor | null = null, dw: Tensor | null = null;
      if (needX) {
        // add into x's gradient so far when the autograd offers it (no separate accumulation pass)
        const acc = targets(0);
        dx = acc ?? Tensor.empty(be, x.shape);
        be.conv2dInputGrad(dyConvStorage, ws, dx.storage, g, xs, !!acc);
      }
      if (needW) { dw = fresh(1) ?? Tensor.empty(be, w.shape); be.conv2dWeightGrad(dyConvStorage, xs, dw.storage, g); }
      dyConv?.dispose();
      return [dx, dw, ...(params.length ? [dg, db] : [])];
    });
  }
  y.dispose();
  stats.dispose();
  return out;
}
