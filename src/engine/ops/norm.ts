// Batch normalisation over N, H, W per channel (NCHW), PyTorch semantics:
// training normalises with the biased batch variance and updates running stats with the unbiased
// one; eval uses the running stats; without running stats (track_running_stats=False) batch
// statistics are used in both modes.
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';

export interface BatchNormArgs {
  gamma: Tensor | null;
  beta: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  training: boolean;
  eps?: number;
  momentum?: number;
}

export function batchNorm(x: Tensor, a: BatchNormArgs): Tensor {
  const be = assertSameBackend('batchNorm', x, a.gamma, a.beta, a.runningMean, a.runningVar);
  if (x.rank !== 4 && x.rank !== 2) throw new Error(`batchNorm: input ${shapeStr(x.shape)} must be NCHW or NC`);
  const [N, C] = x.shape;
  const HW = x.rank === 4 ? x.shape[2] * x.shape[3] : 1;
  for (const [name, t] of [['gamma', a.gamma], ['beta', a.beta], ['running mean', a.runningMean], ['running var', a.runningVar]] as const) {
    if (t && t.size !== C) throw new Error(`batchNorm: ${name} ${shapeStr(t.shape)} must have ${C} values for input ${shapeStr(x.shape)}`);
  }
  if (!!a.runningMean !== !!a.runningVar) throw new Error('batchNorm: give both running mean and running var, or neither');
  if (!!a.gamma !== !!a.beta) throw new Error('batchNorm: give both gamma and beta (affine), or neither');
  const g = { N, C, HW, eps: a.eps ?? 1e-5, momentum: a.momentum ?? 0.1 };
  if (a.training && N * HW < 2 && a.runningVar) {
    throw new Error(`batchNorm: training needs more than one value per channel, input ${shapeStr(x.shape)}`);
  }
  const y = Tensor.empty(be, x.shape);
  const gs = a.gamma?.storage ?? null, bs = a.beta?.storage ?? null;
  const params = a.gamma ? [a.gamma, a.beta!] : [];
  const useBatchStats = a.training || !a.runningMean;
  if (useBatchStats) {
    const saveMean = Tensor.empty(be, [C]), saveInvStd = Tensor.empty(be, [C]);
    be.batchNormTrain(x.storage, gs, bs, y.storage, saveMean.storage, saveInvStd.storage,
      a.training ? a.runningMean?.storage ?? null : null, a.training ? a.runningVar?.storage ?? null : null, g);
    if (needsGrad(x, ...params)) {
      const xs = x.storage, ms = saveMean.storage, is = saveInvStd.storage;
      const needX = needsGrad(x), needP = params.length > 0 && needsGrad(...params);
      record(y, 'batchNorm', [x, ...params], [x, saveMean, saveInvStd, ...params], (dy, _targets, fresh) => {
        const dx = Tensor.empty(be, x.shape);
        const dg = needP ? fresh(1) ?? Tensor.empty(be, [C]) : null, db = needP ? fresh(2) ?? Tensor.empty(be, [C]) : null;
        be.batchNormBackward(dy.storage, xs, gs, ms, is, dx.storage, dg?.storage ?? null, db?.storage ?? null, g);
        return [needX ? dx : (dx.dispose(), null), ...(params.length ? [dg, db] : [])];
      });
    }
    saveMean.dispose();
    saveInvStd.dispose();
  } else {
    const rm = a.runningMean!.storage, rv = a.runningVar!.storage;
    be.batchNormEval(x.storage, gs, bs, rm, rv, y.storage, g);
    if (needsGrad(x, ...params)) {
      const xs = x.storage;
      const needP = params.length > 0 && needsGrad(...params);
      record(y, 'batchNormEval', [x, ...params], [x, a.runningMean!, a.runningVar!, ...params], (dy, _targets, fresh) => {
        const dx = Tensor.empty(be, x.shape);
        const dg = needP ? fresh(1) ?? Tensor.empty(be, [C]) : null, db = needP ? fresh(2) ?? Tensor.empty(be, [C]) : null;
        be.batchNormEvalBackward(dy.storage, xs, gs, rm, rv, dx.storage, dg?.storage ?? null, db?.storage ?? null, g);
        return [dx, ...(params.length ? [dg, db] : [])];
      });
    }
  }
  return y;
}
