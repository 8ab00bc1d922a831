// BN recalibration of a single path cut out of a supernet: the running statistics the supernet kept
// describe the inputs its BNs saw under the mixture of ops (ProxylessNAS full mode, DARTS' softmax
// mixture, other drawn paths), not under one path; scoring that path in eval mode with them is
// confidently wrong (docs/mobilenet.md, session 5: a MobileNet quick leaf's tuned path 16-21 % with the
// supernet's statistics, 50-61 % re-estimated on 8 batches). Used by `rank --bn-recalibrate` and the
// search's `--path-bn-recalibrate` (src/nas/phases.ts finishLeaf).
import { noGrad, tidy, batchNormsByPath, type Module, type Tensor } from '../engine/index.js';
import { BatchSampler } from '../data/sampler.js';
import { hashSeed } from '../data/rng.js';
import type { DeviceBatch } from '../search/batch.js';
import type { BaseMethod } from '../search/method.js';
import type { ArchSample, Genotype } from '../spaces/registry.js';
import type { SearchData } from './phases.js';

const RECALIBRATE_STREAM = 0xbca1;

/** K fixed training batches from the weights half: seeded by the run's seed, no augmentation (the
 *  statistics should describe the images the evaluation sees). */
export function recalibrationBatches(c: { seed: number; batchSize: number }, data: SearchData, k: number): { x: Float32Array; y: Float32Array; n: number }[] {
  const sampler = new BatchSampler(data.train, {
    batchSize: c.batchSize, seed: hashSeed(c.seed, RECALIBRATE_STREAM), sampling: 'independent', augment: false, indices: data.split.weights,
  });
  return Array.from({ length: k }, () => sampler.next());
}

/**
 * Reset every BN of the supernet that keeps running statistics and re-estimate them on `batches`
 * with `genotype` as a single path: training mode, no gradients, cumulative average over the batches.
 */
export function recalibrateBatchNorm(method: BaseMethod, genotype: Genotype, batches: readonly DeviceBatch[]): void {
  const sample: ArchSample = method.space.singlePathSample(genotype);
  reestimateBatchNorm(method.supernet, (x) => { method.supernet.forward(x, sample); }, batches);
}

/**
 * Reset every BN of `net` that keeps running statistics and re-estimate them as the plain average of
 * the batch statistics of `batches` (training mode with the BNs' cumulative-average mode, no
 * gradients, drop-path off; `forward` runs the net on one batch). Also used on stand-alone networks
 * before their test pass (src/nas/retrain.ts): the statistics training leaves are a momentum-0.1
 * average dominated by the last augmented steps, and scoring with them made the same cell's retrained
 * accuracy swing by ~2 points between seeds (docs/quality.md).
 */
export function reestimateBatchNorm(net: Module & { dropPathProb?: number }, forward: (x: Tensor) => void, batches: readonly DeviceBatch[]): void {
  const bns = [...batchNormsByPath(net).values()].filter((b) => b.runningMean !== null);
  const wasTraining = net.training, dropPath = net.dropPathProb;
  for (const b of bns) { b.resetRunningStats(); b.cumulativeAverage = true; }
  net.train(true);
  // training mode would also drop paths (the DARTS network); the statistics should describe the
  // network the evaluation runs
  if (dropPath !== undefined) net.dropPathProb = 0;
  try {
    for (const batch of batches) tidy(() => noGrad(() => { forward(batch.x); }));
  } finally {
    for (const b of bns) b.cumulativeAverage = false;
    if (dropPath !== undefined) net.dropPathProb = dropPath;
    net.train(wasTraining);
  }
}
