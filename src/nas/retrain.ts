// The paper's last step, done by the main job: the final genotype trained stand-alone from scratch on
// the search's whole training set (both halves) and scored once on the test split. One fixed protocol
// (RETRAIN_HYPER + the search's network size and image resolution) so that retrained accuracies of
// different searches, seeds and methods compare; experiments/quality.sh uses the same one for its
// reference sample. Browser-safe: the caller hands over the test set.
import type { Backend } from '../engine/index.js';
import { BatchSampler, evalBatches } from '../data/sampler.js';
import { hashSeed } from '../data/rng.js';
import type { Dataset } from '../data/dataset.js';
import { getSpace, describeSize, type SpaceNetwork } from '../spaces/registry.js';
import { trainStandalone, evaluateNetwork, type StandaloneHyper, type StandaloneEpoch } from '../search/standalone.js';
import { uploadBatch } from '../search/batch.js';
import type { SearchConfig } from './config.js';
import { searchImages, type SearchData } from './phases.js';
import { measureLatency, type LatencyRow } from './latency.js';
import { reestimateBatchNorm } from './bn-recalibrate.js';

/**
 * NAS-Bench-201's stand-alone recipe (AutoDL-Projects 200E: nesterov SGD lr 0.1, momentum 0.9, weight
 * decay 5e-4, cosine to 0, no clipping, crop + flip) with a short schedule and batch 64 instead of 200
 * epochs of batch 256: at a few epochs a smaller batch gives more steps.
 */
export const RETRAIN_HYPER: Readonly<Omit<StandaloneHyper, 'epochs'>> = Object.freeze({
  batchSize: 64, lr: 0.1, lrMin: 0, momentum: 0.9, nesterov: true, weightDecay: 5e-4, gradClip: 0,
});

const RETRAIN_STREAM = 0x7e7a;
/** the BN re-estimation batches' own stream (experiments/bn-eval-noise.mjs drew its "plain" batches the same way) */
const BN_BATCH_STREAM = 0xb4e7;

/**
 * Training batches (no augmentation, the protocol's batch size, seeded by the retraining seed) whose
 * statistics replace the BN running statistics before the test pass. The statistics training leaves
 * are a momentum-0.1 average over the last ~20 augmented steps; with them the same cell's test
 * accuracy moved by 1.98 points (sd over 3 seeds, 10 cells) and the 50 reference cells' seed truths
 * agreed at Kendall τ 0.17–0.32; re-estimated over 50 batches, 0.48 points and τ 0.38–0.87
 * (docs/quality.md "Where the truth's noise comes from"). Costs about one test pass.
 */
export const RETRAIN_BN_BATCHES = 50;
/** 1: the test pass used the statistics training left; 2: re-estimated over RETRAIN_BN_BATCHES batches.
 *  Results of different versions do not compare (experiments/quality.sh retrains picks of older runs). */
export const RETRAIN_PROTOCOL_VERSION = 2;

/** The protocol's BN re-estimation batches, in order (`bnBatches` calls of next()): the whole training
 *  set, no augmentation, the training's batch size, seeded by the retraining seed. */
export function bnReestimationSampler(train: Dataset, seed: number, batchSize: number): BatchSampler {
  return new BatchSampler(train, { batchSize, seed: hashSeed(seed, BN_BATCH_STREAM), augment: false });
}

export interface RetrainProtocol {
  /** RETRAIN_PROTOCOL_VERSION of the build that ran it (absent: 1) */
  version: number;
  /** a one-line description for humans */
  description: string;
  hyper: StandaloneHyper;
  channels: number;
  cells: number;
  imageShape: readonly number[];
  trainImages: number;
  testImages: number;
  testSet: string;
  augmentation: BatchSampler['augment'];
  seed: number;
  /** training batches whose statistics the BNs were re-estimated on before the test pass (0: none) */
  bnBatches: number;
}

export interface RetrainResult {
  genotype: string;
  protocol: RetrainProtocol;
  /** % on the test split (eval-mode BN) after the last epoch, BN statistics re-estimated (protocol.bnBatches) */
  testAccuracy: number;
  testLoss: number;
  /** the same network scored with the running statistics training left (only with re-estimation: the
   *  figure the version-1 protocol reported) */
  trainingStatsTest?: { accuracy: number; loss: number };
  trainAccuracy: number;
  trainLoss: number;
  seconds: number;
  parameters: number;
  /** forward latency of the retrained network on the search's backend, eval mode, batch 1 and 64
   *  (median of 5; wall-clock on whatever else the machine runs) */
  latency?: LatencyRow[];
  history: { epoch: number; lr: number; trainLoss: number; trainAccuracy: number; seconds: number }[];
}

export interface RetrainOptions {
  backend: Backend;
  /** the search's configuration: network size, resolution (downsample), seed */
  config: SearchConfig;
  /** the search's data; its whole training set (both halves) trains the network */
  data: SearchData;
  /** the dataset's test split as loaded (raw resolution); shrunk here as the search's images were */
  test: Dataset;
  genotype: string;
  epochs: number;
  /** seed of the initialisation and the batch order (default: derived from the search seed) */
  seed?: number;
  /** BN re-estimation batches before the test pass (default RETRAIN_BN_BATCHES; 0: the statistics training left) */
  bnBatches?: number;
  onEpoch?: (e: StandaloneEpoch) => void;
  onStep?: (epoch: number, done: number, total: number) => void;
  /** called with the trained network and the test set as evaluated, before the network is disposed
   *  (experiments/bn-eval-noise.mjs evaluates it other ways) */
  inspect?: (network: SpaceNetwork, test: Dataset) => Promise<void>;
}

export async function retrainGenotype(o: RetrainOptions): Promise<RetrainResult> {
  const c = o.config;
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new Error(`--retrain-epochs: expected an integer >= 1, got ${o.epochs}`);
  const test = searchImages(c, o.test);
  const shape = o.data.imageShape;
  if (test.channels !== shape[0] || test.height !== shape[1] || test.width !== shape[2]) {
    throw new Error(`retrain: test images ${test.channels}×${test.height}×${test.width} do not match the search's ${shape.join('×')}`);
  }
  const bnBatches = o.bnBatches ?? RETRAIN_BN_BATCHES;
  if (!Number.isInteger(bnBatches) || bnBatches < 0) throw new Error(`--bn-batches: expected an integer >= 0, got ${bnBatches}`);
  const seed = o.seed ?? hashSeed(c.seed, RETRAIN_STREAM);
  // a space with its own evaluation protocol (DARTS: NetworkCIFAR with auxiliary head, drop-path,
  // cutout, SGD 0.025 cosine, clip 5) retrains by it, fitted to the search's preset and images; others
  // use one protocol for every search of the space, which the space may adjust (MobileNet: lr 0.025)
  const space = getSpace(c.space);
  const ev = space.evalProtocol?.(c.preset, shape, { C: c.channels, N: c.cells });
  const hyper: StandaloneHyper = { ...(ev?.hyper ?? { ...RETRAIN_HYPER, ...space.retrainHyper }), epochs: o.epochs };
  const channels = ev?.channels ?? c.channels, cells = ev?.cells ?? c.cells;
  const sampler = new BatchSampler(o.data.train, { batchSize: hyper.batchSize, seed, augment: true });
  const t0 = Date.now();
  const run = await trainStandalone({
    backend: o.backend,
    space,
    network: { genotype: space.parseGenotype(o.genotype), C: channels, N: cells, inputChannels: shape[0], numClasses: o.data.numClasses },
    seed, imageShape: shape, train: sampler, stepsPerEpoch: sampler.batchesPerEpoch, hyper,
    // the test pass comes after the BN re-estimation below, not from the training loop
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    ...(o.onStep ? { onStep: (e: number, d: number) => o.onStep!(e, d, sampler.batchesPerEpoch) } : {}),
  });
  try {
    const last = run.history[run.history.length - 1];
    const scoreTest = () => evaluateNetwork(run.network, evalBatches(test, 256), shape);
    let trainingStatsTest: RetrainResult['trainingStatsTest'];
    if (bnBatches > 0) {
      trainingStatsTest = await scoreTest();
      const bnSampler = bnReestimationSampler(o.data.train, seed, hyper.batchSize);
      const batches = Array.from({ length: bnBatches }, () => uploadBatch(o.backend, bnSampler.next(), shape));
      try {
        reestimateBatchNorm(run.network, (x) => { run.network.forward(x); }, batches);
      } finally {
        for (const b of batches) { b.x.dispose(); b.y.dispose(); }
      }
    }
    const tested = await scoreTest();
    const parameters = run.network.parameters().reduce((s, p) => s + p.size, 0);
    // latency matters where the space has a cost model (MobileNet: issue [mobilenet]); elsewhere it would
    // only add wall-clock noise to results that resumed and queued runs must reproduce exactly
    const latency = space.cost ? await measureLatency(o.backend, run.network, shape, [1, 64]) : undefined;
    if (o.inspect) await o.inspect(run.network, test);
    return {
      genotype: o.genotype,
      protocol: {
        version: RETRAIN_PROTOCOL_VERSION,
        description: `stand-alone from scratch: ${o.epochs} epochs over all ${o.data.train.size} training images ` +
          `(${shape.join('×')}, crop + flip), batch ${hyper.batchSize}, ${hyper.nesterov ? 'nesterov ' : ''}SGD lr ${hyper.lr} cosine to ${hyper.lrMin}, ` +
          `wd ${hyper.weightDecay}${hyper.gradClip ? `, clip ${hyper.gradClip}` : ''}` +
          `${hyper.auxWeight ? `, auxiliary head ${hyper.auxWeight}` : ''}${hyper.dropPathProb ? `, drop-path ${hyper.dropPathProb}` : ''}${hyper.cutout ? `, cutout ${hyper.cutout}` : ''}` +
          `, ${describeSize(space, { C: channels, N: cells }, ' ')}${ev ? ` (${space.title} evaluation protocol${ev.notes.length ? `: ${ev.notes.join('; ')}` : ''})` : ''}; test: all ${test.size} test images, eval-mode BN` +
          (bnBatches > 0 ? ` with statistics re-estimated over ${bnBatches} fixed training batches (no augmentation)` : ' with the statistics training left'),
        hyper, channels, cells, imageShape: [...shape],
        trainImages: o.data.train.size, testImages: test.size, testSet: o.test.name, augmentation: sampler.augment, seed, bnBatches,
      },
      testAccuracy: tested.accuracy, testLoss: tested.loss, ...(trainingStatsTest ? { trainingStatsTest } : {}),
      trainAccuracy: last.train.accuracy, trainLoss: last.train.loss,
      seconds: (Date.now() - t0) / 1000,
      parameters, ...(latency ? { latency } : {}),
      history: run.history.map((h) => ({ epoch: h.epoch, lr: h.lr, trainLoss: h.train.loss, trainAccuracy: h.train.accuracy, seconds: h.seconds })),
    };
  } finally {
    run.network.dispose();
  }
}
