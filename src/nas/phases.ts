// The work one (sub-)supernet does in a search, shared by the main thread and the pool's workers:
// build its base method, train it over an epoch range with a checkpoint after every epoch, and — for a
// leaf — derive its architecture and score it on the validation half. Browser-safe (the store decides
// where checkpoints go).
import type { Backend } from '../engine/index.js';
import { BatchSampler, evalBatches } from '../data/sampler.js';
import { hashSeed } from '../data/rng.js';
import { shrinkForNetwork, fitToResolution, type Dataset } from '../data/dataset.js';
import { splitTrainForSearch, type SearchSplit } from '../data/split.js';
import type { AugmentSpec } from '../data/augment.js';
import { createBaseMethod } from '../search/index.js';
import type { BaseMethod } from '../search/method.js';
import { deriveByPerturbation } from '../search/perturbation.js';
import { uploadBatch, type ImageShape } from '../search/batch.js';
import { keep } from '../engine/index.js';
import { getSpace, type OpMask, type Genotype } from '../spaces/registry.js';
import type { SearchConfig } from './config.js';
import { configBudget, costFunction, withinBudget, fitToBudget, type GenotypeCost } from './budget.js';
import type { RunStore } from './store.js';
import { recalibrateBatchNorm, recalibrationBatches } from './bn-recalibrate.js';
import { latencyCosts } from './latency-table.js';

/** The data a search runs on: the training set and its weights/architecture halves. */
export interface SearchData {
  train: Dataset;
  split: SearchSplit;
  imageShape: ImageShape;
  numClasses: number;
  /** the training samplers' augmentation; absent: the dataset's default (`defaultAugmentation`) */
  augment?: AugmentSpec;
}

/** The images a search (and its retraining) sees: at `c.resolution` when set (fitToResolution), else
 *  shrunk by `c.downsample` (padded first where the shrunk side would not be a multiple of 4;
 *  shrinkForNetwork). */
export function searchImages(c: Pick<SearchConfig, 'downsample' | 'resolution'>, ds: Dataset): Dataset {
  return c.resolution !== undefined ? fitToResolution(ds, c.resolution) : shrinkForNetwork(ds, c.downsample);
}

/** The search data from a training set: its images as `searchImages` gives them, split into halves
 *  (spec §2.1). */
export function prepareSearchData(c: SearchConfig, trainSet: Dataset): SearchData {
  const train = searchImages(c, trainSet);
  if (train.size < 2 * c.batchSize) {
    throw new Error(`--train-limit/--dataset: ${train.size} training images are too few for two halves of --batch-size ${c.batchSize}`);
  }
  return { train, split: splitTrainForSearch(train), imageShape: [train.channels, train.height, train.width], numClasses: train.numClasses };
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  tau: number | null;
  updateArch: boolean;
  trainLoss: number;
  trainAccuracy: number;
  seconds: number;
}

export interface NodeProgress {
  /** epochs of the global schedule this node has finished (its checkpoint holds the state after them) */
  epochsDone: number;
  history: EpochRecord[];
}

/** Where a node sits in the schedule (see config.ts). */
export interface NodeSchedule {
  id: number;
  mask: OpMask;
  fromEpoch: number;
  toEpoch: number;
  /** the epoch this node's fresh schedule starts at (restarted leaves), or null (global schedule) */
  restartedAt: number | null;
}

export interface ProgressEvent {
  phase: 'warmup' | 'split' | 'leaf' | 'select' | 'retrain';
  node: number;
  /** e.g. 'epoch 3/8' or 'edge 2 (4/6)' */
  label: string;
  done: number;
  total: number;
  loss?: number;
  accuracy?: number;
}

export type ProgressListener = (e: ProgressEvent) => void;

export const checkpointName = (node: number): string => `node-${node}`;
export const nodeSeed = (c: SearchConfig, node: number): number => hashSeed(c.seed, 0x90de, node);

/** The α updates start at the last split (GM freezes α while splitting, spec §3.1); one-shot at 0. */
export function archFromEpoch(c: SearchConfig): number {
  return c.splitEpochs.length ? c.splitEpochs[c.splitEpochs.length - 1] : 0;
}

export function stepsPerEpoch(c: SearchConfig, data: SearchData): number {
  return c.stepsPerEpoch ?? Math.ceil(data.split.weights.length / c.batchSize);
}

/** A method for a node of the tree, fresh from its seed (the caller may load a checkpoint into it). */
export function createNodeMethod(c: SearchConfig, backend: Backend, data: SearchData, node: number, mask: OpMask): BaseMethod {
  return createBaseMethod(c.base, {
    backend, space: getSpace(c.space),
    sizes: { C: c.channels, N: c.cells, inputChannels: data.imageShape[0], numClasses: data.numClasses },
    imageShape: data.imageShape,
    mask,
    seed: nodeSeed(c, node),
    hyper: {
      ...getSpace(c.space).methodHyper?.(c.base), batchSize: c.batchSize, epochs: c.totalEpochs, ...(c.lr !== null ? { lr: c.lr } : {}),
      ...(c.flopsTarget !== undefined ? { flopsTarget: c.flopsTarget, ...(c.flopsLoss ? { flopsLoss: c.flopsLoss } : {}) } : {}),
      ...(c.latencyTarget !== undefined ? { latencyTarget: c.latencyTarget, latencyTable: c.latencyTable ? latencyCosts(c.latencyTable) : null, ...(c.flopsLoss ? { flopsLoss: c.flopsLoss } : {}) } : {}),
      ...(c.holdSteps !== undefined ? { holdSteps: c.holdSteps } : {}),
      ...(c.fullNoOpFree !== undefined ? { fullNoOpFree: c.fullNoOpFree } : {}),
    },
  });
}

/** The node's method and progress: from its checkpoint when there is one (the checkpoint carries
 *  its own progress), else fresh from its seed with `fallback` progress. */
export async function materializeNode(c: SearchConfig, backend: Backend, data: SearchData, store: RunStore, node: NodeSchedule,
  fallback: NodeProgress): Promise<{ method: BaseMethod; progress: NodeProgress }> {
  const method = createNodeMethod(c, backend, data, node.id, node.mask);
  if (!store.hasCheckpoint(checkpointName(node.id))) return { method, progress: fallback };
  try {
    const progress = await store.loadCheckpoint<NodeProgress>(checkpointName(node.id), method);
    return { method, progress };
  } catch (e) {
    method.dispose();
    throw e;
  }
}

/** Fixed validation batches (the first images of the architecture half, no augmentation). */
export function validationData(c: SearchConfig, data: SearchData): () => Iterable<{ x: Float32Array; y: Float32Array; n: number }> {
  const all = data.split.arch;
  const indices = c.valBatches === null ? all : all.subarray(0, Math.min(all.length, c.valBatches * c.batchSize));
  return () => evalBatches(data.train, c.batchSize, { indices });
}

/**
 * Train `method` (the node's) from `progress.epochsDone` to `node.toEpoch`, saving a checkpoint and
 * the progress after every epoch through `onEpochSaved`.
 */
export async function trainNodeEpochs(
  c: SearchConfig, method: BaseMethod, data: SearchData, node: NodeSchedule, progress: NodeProgress,
  o: { store: RunStore; onEpochSaved: (p: NodeProgress) => Promise<void>; onProgress?: ProgressListener; phase: 'warmup' | 'leaf' },
): Promise<void> {
  const steps = stepsPerEpoch(c, data);
  const archFrom = archFromEpoch(c);
  for (let epoch = Math.max(progress.epochsDone, node.fromEpoch); epoch < node.toEpoch; epoch++) {
    const t0 = Date.now();
    if (node.restartedAt !== null) {
      const local = epoch - node.restartedAt;
      const lrTotal = c.fixSchedule ? c.totalEpochs - node.restartedAt : c.totalEpochs;
      method.setEpoch(local, lrTotal, { epoch: local, totalEpochs: c.totalEpochs - node.restartedAt });
    } else {
      method.setEpoch(epoch, c.totalEpochs);
    }
    const updateArch = epoch >= archFrom;
    // a sampler per (node, epoch): a resumed run draws exactly the batches the killed one would have
    const train = new BatchSampler(data.train, {
      batchSize: c.batchSize, seed: hashSeed(c.seed, node.id, epoch, 1), sampling: 'independent', augment: data.augment ?? true, indices: data.split.weights,
    });
    const valid = new BatchSampler(data.train, {
      batchSize: c.batchSize, seed: hashSeed(c.seed, node.id, epoch, 2), sampling: 'independent', augment: data.augment ?? true, indices: data.split.arch,
    });
    const label = `node ${node.id} epoch ${epoch + 1}/${c.totalEpochs}`;
    const m = await method.trainEpoch({
      steps, train, valid, updateArch,
      onStep: (done) => o.onProgress?.({ phase: o.phase, node: node.id, label, done, total: steps }),
    });
    const rec: EpochRecord = {
      epoch, lr: method.lr, tau: Number.isNaN(method.tau) ? null : method.tau, updateArch,
      trainLoss: m.loss, trainAccuracy: m.accuracy, seconds: (Date.now() - t0) / 1000,
    };
    if (!Number.isFinite(m.loss)) {
      throw new Error(`node ${node.id} (mask ${method.space.maskToString(node.mask)}): training loss became ${m.loss} in epoch ${epoch}; ` +
        'lower the learning rate or check the data');
    }
    progress = { epochsDone: epoch + 1, history: [...progress.history, rec] };
    await o.store.saveCheckpoint(checkpointName(node.id), method, progress);
    await o.onEpochSaved(progress);
    o.onProgress?.({ phase: o.phase, node: node.id, label, done: steps, total: steps, loss: m.loss, accuracy: m.accuracy });
  }
}

export interface LeafResult {
  node: number;
  mask: string;
  genotype: string;
  /** the derived genotype run as a single path in the leaf supernet on the validation batches (after
   *  config.pathTuneSteps steps of training that path alone, when > 0) */
  val: { accuracy: number; loss: number };
  /** with config.pathTuneSteps > 0: the same score before that training */
  valUntuned?: { accuracy: number; loss: number };
  /** the leaf supernet itself under the method's own sample (DARTS: θ = masked softmax α) on the same
   *  batches — the reference's per-leaf `valid_acc` (GM's projection step, spec §3.7); absent in
   *  results of runs made before it existed */
  supernetVal?: { accuracy: number; loss: number };
  /** argmax methods: α at the end, row-major [6,5] */
  alpha?: number[];
  /** --derive perturbation: what argmax α would have chosen, the mixture's accuracy and each op's
   *  accuracy drop when removed (row-major like α; null where not measured) */
  perturbation?: { alphaGenotype: string; baseAccuracy: number; drops: (number | null)[] };
  /** RSPS: the scored random candidates */
  candidates?: { genotype: string; accuracy: number; loss: number }[];
  /** spaces with a cost model: parameters and multiply-adds of `genotype` at the search resolution */
  cost?: GenotypeCost;
  /** with a budget (--max-flops / --max-params): the method's own pick when it was over budget and
   *  `genotype` is the nearest one within it (src/nas/budget.ts) */
  unconstrained?: { genotype: string; cost: GenotypeCost };
  /** with a budget: no genotype of this leaf's mask could be brought within it (never selected) */
  overBudget?: boolean;
  history: EpochRecord[];
  seconds: number;
}

const PATH_TUNE_STREAM = 0x7a7e;

/** Derive the leaf's genotype and score it on the validation half (after `c.pathTuneSteps` steps of
 *  training the derived path alone, when set). BN mode as the reference's
 *  projection step: training mode (batch statistics) for DARTS, eval mode for SNAS, RSPS and GDAS
 *  (spec §2.3, §3.7); the search cells' BNs are not affine either way. With `c.pathBnRecalibrate` K > 0
 *  the path (not the supernet) is scored in eval mode after BN recalibration on K training batches. */
export async function finishLeaf(c: SearchConfig, method: BaseMethod, data: SearchData, node: NodeSchedule, history: EpochRecord[], seconds: number): Promise<LeafResult> {
  const val = validationData(c, data);
  let perturbation: LeafResult['perturbation'];
  let derived: { genotype: Genotype; genotypeString: string; alpha?: number[]; candidates?: LeafResult['candidates'] };
  if (c.derive === 'perturbation') {
    const weights = await method.mixtureWeights();
    if (!weights) throw new Error(`--derive perturbation: base method ${c.base} has no α mixture`);
    const p = await deriveByPerturbation(method, val, { weights, bn: leafBnMode(c) });
    const alpha = await method.derive();
    derived = { genotype: p.genotype, genotypeString: p.genotypeString, alpha: alpha.alpha };
    perturbation = { alphaGenotype: alpha.genotypeString, baseAccuracy: p.baseAccuracy, drops: p.drops.map((d) => (Number.isFinite(d) ? d : null)) };
  } else {
    derived = await method.derive({ valid: val, candidates: c.rspsCandidates });
  }
  const space = method.space;
  let genotype = derived.genotype;
  let costs: Pick<LeafResult, 'cost' | 'unconstrained' | 'overBudget'> = {};
  if (space.cost) {
    const cost = costFunction(space, method.sizes, data.imageShape[1]);
    const budget = configBudget(c);
    costs = { cost: cost(genotype) };
    if (budget && !withinBudget(costs.cost!, budget)) {
      const fitted = fitToBudget(space, genotype, method.mask, derived.alpha ?? null, cost, budget);
      costs = fitted
        ? { cost: cost(fitted), unconstrained: { genotype: derived.genotypeString, cost: costs.cost! } }
        : { ...costs, overBudget: true };
      if (fitted) genotype = fitted;
    }
  }
  const sm = await method.evaluate(val, { arch: 'method', bn: leafBnMode(c) });
  // --path-bn-recalibrate K: the path is scored in eval mode with running statistics re-estimated for
  // it alone on K fixed training batches (the supernet's describe the mixture; src/nas/bn-recalibrate.ts)
  const recal = c.pathBnRecalibrate ?? 0;
  const recalBatches = recal > 0 ? recalibrationBatches(c, data, recal).map((b) => {
    const d = uploadBatch(method.backend, b, data.imageShape);
    keep(d.x); keep(d.y);
    return d;
  }) : [];
  const scorePath = async (): Promise<{ accuracy: number; loss: number }> => {
    if (!recal) return method.evaluate(val, { arch: genotype, bn: leafBnMode(c) });
    recalibrateBatchNorm(method, genotype, recalBatches);
    return method.evaluate(val, { arch: genotype, bn: 'eval' });
  };
  let m: { accuracy: number; loss: number };
  let untuned: { accuracy: number; loss: number } | undefined;
  try {
    m = await scorePath();
    if (c.pathTuneSteps > 0) {
      // the derived path alone, trained a few steps on the weights half before it is scored: closes most
      // of the gap between the mixed supernet and its single path (docs/quality.md)
      untuned = { accuracy: m.accuracy, loss: m.loss };
      const batches = new BatchSampler(data.train, {
        batchSize: c.batchSize, seed: hashSeed(c.seed, PATH_TUNE_STREAM, node.id), sampling: 'independent', augment: true, indices: data.split.weights,
      });
      await method.tunePath(genotype, batches, { steps: c.pathTuneSteps, lr: c.lr ?? method.hyper.lr });
      m = await scorePath();
    }
  } finally {
    for (const b of recalBatches) { b.x.dispose(); b.y.dispose(); }
  }
  return {
    node: node.id, mask: method.space.maskToString(node.mask), genotype: genotype === derived.genotype ? derived.genotypeString : space.formatGenotype(genotype),
    val: { accuracy: m.accuracy, loss: m.loss },
    ...(untuned ? { valUntuned: untuned } : {}),
    supernetVal: { accuracy: sm.accuracy, loss: sm.loss },
    ...(derived.alpha ? { alpha: derived.alpha } : {}),
    ...(derived.candidates ? { candidates: derived.candidates } : {}),
    ...(perturbation ? { perturbation } : {}),
    ...costs,
    history, seconds,
  };
}

/** One leaf from its checkpoint to a result: what the worker pool runs. */
export async function runLeafJob(
  c: SearchConfig, backend: Backend, data: SearchData, store: RunStore, node: NodeSchedule, progress: NodeProgress,
  o: { onEpochSaved: (p: NodeProgress) => Promise<void>; onProgress?: ProgressListener },
): Promise<LeafResult> {
  const t0 = Date.now();
  const { method, progress: saved } = await materializeNode(c, backend, data, store, node, progress);
  try {
    let last = saved;
    await trainNodeEpochs(c, method, data, node, saved, {
      store, phase: 'leaf', onProgress: o.onProgress,
      onEpochSaved: async (p) => { last = p; await o.onEpochSaved(p); },
    });
    return await finishLeaf(c, method, data, node, last.history, (Date.now() - t0) / 1000);
  } finally {
    method.dispose();
  }
}

export function leafBnMode(c: SearchConfig): 'train' | 'eval' {
  return c.base === 'darts' || c.base === 'darts2' ? 'train' : 'eval';
}
