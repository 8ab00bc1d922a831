// Training one genotype of a search space from scratch (`run.js train`). The default preset is
// NAS-Bench-201's stand-alone setting: AutoDL-Projects' `configs/nas-benchmark/hyper-opts/200E.config` — 200 epochs, batch
// 256, SGD lr 0.1 with nesterov momentum 0.9 and weight decay 5e-4, cosine annealing to 0 stepped per
// epoch, plain cross-entropy, no gradient clipping; random crop + flip come from the sampler.
// Loss and accuracy accumulate on the device; one read per epoch.
import { Rng as EngineRng, SGD, tidy, noGrad, backward, crossEntropy, clipGradNorm, cosineLr, tuneKernels, Tensor, add, mul, mulScalar } from '../engine/index.js';
import { Rng, hashSeed } from '../data/rng.js';
import type { Backend } from '../engine/index.js';
import { StepReplayer } from './replay.js';
import { getSpace } from '../spaces/registry.js';
import type { SearchSpace, SpaceNetwork, NetworkBuildOptions, TrainingHyper } from '../spaces/space.js';
import { MetricAccumulator, type MetricTotals } from './metrics.js';
import { uploadBatch, isDeviceBatch, iterateEvalData, type BatchSource, type EvalData, type ImageShape, type HostBatch } from './batch.js';

/** The hyper-parameters (src/spaces/space.ts TrainingHyper): SGD, cosine, clipping, and the DARTS
 *  protocol's optional auxiliary loss, drop-path and cutout. */
export type StandaloneHyper = TrainingHyper;

/** NAS-Bench-201's 200E config (the default stand-alone preset). */
export const DEFAULT_STANDALONE_PRESET: Readonly<StandaloneHyper> = Object.freeze({
  epochs: 200, batchSize: 256, lr: 0.1, lrMin: 0, momentum: 0.9, nesterov: true, weightDecay: 5e-4, gradClip: 0,
});

export interface StandaloneEpoch {
  epoch: number;
  lr: number;
  train: MetricTotals;
  /** when `evaluate` data was given */
  eval?: MetricTotals;
  seconds: number;
}

export interface TrainStandaloneOptions {
  backend: Backend;
  /** the space whose network is trained (default: the registry's default space) */
  space?: SearchSpace;
  network: NetworkBuildOptions;
  seed: number;
  imageShape: ImageShape;
  /** training batches (a BatchSampler with augmentation) */
  train: BatchSource;
  /** steps per epoch (BatchSampler.batchesPerEpoch) */
  stepsPerEpoch: number;
  hyper?: Partial<StandaloneHyper>;
  /** evaluated after every `evalEvery` epochs and after the last (eval-mode BN) */
  evaluate?: EvalData;
  evalEvery?: number;
  onEpoch?: (e: StandaloneEpoch) => void;
  /** awaited after every epoch (after onEpoch); false stops the training there (the network and the
   *  history so far are returned) — successive halving pauses a run in it and stops the losers */
  afterEpoch?: (e: StandaloneEpoch) => Promise<boolean> | boolean;
  onStep?: (epoch: number, done: number) => void;
  /** wait for the device every this many steps (default 8) */
  syncEvery?: number;
  /** record one training step per epoch and replay it for the others (default true; WebGPU only —
   *  see the loop below); false runs every step through the ops, as the CPU backend always does */
  replay?: boolean;
}

const CUTOUT_STREAM = 0xc07;
const DROP_PATH_STREAM = 0xd9a7;

/**
 * Cutout (DeVries & Taylor; the DARTS protocol's `--cutout_length 16`): per image one square of side
 * `length` centred at a uniform pixel, clipped to the image, set to 0 (after normalisation, as the
 * reference applies it after ToTensor and Normalize). Returns the multiplicative mask.
 */
export function cutoutMask(rng: { next(): number }, shape: readonly [number, number, number, number], length: number): Float32Array {
  const [N, C, H, W] = shape;
  const m = new Float32Array(N * C * H * W).fill(1);
  for (let n = 0; n < N; n++) {
    const cy = Math.floor(rng.next() * H), cx = Math.floor(rng.next() * W);
    const y0 = Math.max(0, cy - Math.floor(length / 2)), y1 = Math.min(H, cy + Math.floor(length / 2));
    const x0 = Math.max(0, cx - Math.floor(length / 2)), x1 = Math.min(W, cx + Math.floor(length / 2));
    for (let c = 0; c < C; c++) {
      for (let y = y0; y < y1; y++) m.fill(0, ((n * C + c) * H + y) * W + x0, ((n * C + c) * H + y) * W + x1);
    }
  }
  return m;
}

export function resolveStandaloneHyper(o: Partial<StandaloneHyper> = {}): StandaloneHyper {
  const h = { ...DEFAULT_STANDALONE_PRESET, ...o };
  for (const k of ['epochs', 'batchSize'] as const) {
    if (!Number.isInteger(h[k]) || h[k] < 1) throw new Error(`stand-alone training: ${k} must be a positive integer, got ${h[k]}`);
  }
  for (const k of ['lr', 'lrMin', 'momentum', 'weightDecay', 'gradClip'] as const) {
    if (!(h[k] >= 0 && Number.isFinite(h[k]))) throw new Error(`stand-alone training: ${k} must be a non-negative number, got ${h[k]}`);
  }
  for (const k of ['auxWeight', 'cutout'] as const) {
    const v = h[k];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) throw new Error(`stand-alone training: ${k} must be a non-negative number, got ${v}`);
  }
  if (h.dropPathProb !== undefined && !(h.dropPathProb >= 0 && h.dropPathProb < 1)) throw new Error(`stand-alone training: dropPathProb must be in [0, 1), got ${h.dropPathProb}`);
  return h;
}

/** Mean loss and accuracy (%) of a network on `data`, eval-mode BN, no gradients. */
export async function evaluateNetwork(net: SpaceNetwork, data: EvalData, imageShape: ImageShape): Promise<MetricTotals> {
  const acc = new MetricAccumulator(net.backend);
  const wasTraining = net.training;
  net.eval();
  try {
    for (const b of iterateEvalData(data)) {
      tidy(() => noGrad(() => {
        const batch = isDeviceBatch(b) ? b : uploadBatch(net.backend, b as HostBatch, imageShape);
        const logits = net.forward(batch.x);
        acc.add(crossEntropy(logits, batch.y), logits, batch.y);
      }));
    }
    return await acc.read();
  } finally {
    net.train(wasTraining);
    acc.dispose();
  }
}

/** Build the network of `o.network` (seeded) and train it; the caller owns (and disposes) it. */
export async function trainStandalone(o: TrainStandaloneOptions): Promise<{ network: SpaceNetwork; history: StandaloneEpoch[]; hyper: StandaloneHyper; replayedSteps: number }> {
  const h = resolveStandaloneHyper(o.hyper);
  if (!Number.isInteger(o.stepsPerEpoch) || o.stepsPerEpoch < 1) throw new Error(`stand-alone training: stepsPerEpoch must be a positive integer, got ${o.stepsPerEpoch}`);
  const auxWeight = h.auxWeight ?? 0, dropPathProb = h.dropPathProb ?? 0, cutout = h.cutout ?? 0;
  const net = (o.space ?? getSpace()).buildNetwork(o.backend, new EngineRng(o.seed), { ...o.network, ...(auxWeight > 0 ? { auxiliary: true } : {}) });
  if ((auxWeight > 0 || dropPathProb > 0) && !net.forwardTrain) {
    net.dispose();
    throw new Error('stand-alone training: auxWeight / dropPathProb need a network with an auxiliary head and drop-path (the DARTS space)');
  }
  const cutoutRng = new Rng(hashSeed(o.seed, CUTOUT_STREAM));
  const params = net.parameters();
  const opt = new SGD(params, { lr: h.lr, momentum: h.momentum, nesterov: h.nesterov, weightDecay: h.weightDecay });
  const metrics = new MetricAccumulator(o.backend);
  const history: StandaloneEpoch[] = [];
  const syncEvery = o.syncEvery ?? 8;
  const trainStep = (x: Tensor, y: Tensor): void => tidy(() => {
    opt.zeroGrad();
    if (cutout > 0) x = mul(x, Tensor.fromArray(o.backend, cutoutMask(cutoutRng, x.shape as [number, number, number, number], cutout), x.shape));
    const out = net.forwardTrain ? net.forwardTrain(x) : { logits: net.forward(x), aux: null };
    const logits = out.logits;
    const main = crossEntropy(logits, y);
    // the reference's loss + auxiliary_weight · loss_aux; metrics report the main loss
    const loss = out.aux && auxWeight > 0 ? add(main, mulScalar(crossEntropy(out.aux, y), auxWeight)) : main;
    backward(loss);
    if (h.gradClip > 0) clipGradNorm(params, h.gradClip);
    opt.step();
    metrics.add(main, logits, y);
  });
  // host-drawn cutout masks and drop-path seeds change every step: no recorded replay then
  const replayable = cutout === 0 && dropPathProb === 0;
  const replayer = new StepReplayer(o.backend, (b) => trainStep(b.x, b.y), { enabled: (o.replay ?? true) && replayable, module: net, metrics });
  try {
    for (let epoch = 0; epoch < h.epochs; epoch++) {
      const t0 = Date.now();
      opt.lr = cosineLr(epoch, h.epochs, h.lr, h.lrMin);
      net.train();
      if (net.dropPathProb !== undefined) {
        // the reference raises it linearly: drop_path_prob · epoch / epochs
        net.dropPathProb = (dropPathProb * epoch) / h.epochs;
        net.setDropPathSeed?.(hashSeed(o.seed, DROP_PATH_STREAM, epoch));
      }
      metrics.reset();
      for (let s = 0; s < o.stepsPerEpoch; s++) {
        const host = o.train.next();
        tidy(() => replayer.run(uploadBatch(o.backend, host, o.imageShape), epoch > 0 || s > 0));
        // after the first step every kernel shape of a step has been dispatched: autotune them
        // (WebGPU; nothing when tuning is off) before the next step is recorded for replay
        if (epoch === 0 && s === 0) await tuneKernels(o.backend);
        if ((s + 1) % syncEvery === 0) await o.backend.sync();
        o.onStep?.(epoch, s + 1);
      }
      // the learning rate is baked into the recorded optimizer kernels: record again next epoch
      replayer.reset();
      const record: StandaloneEpoch = { epoch, lr: opt.lr, train: await metrics.read(), seconds: 0 };
      const last = epoch === h.epochs - 1;
      if (o.evaluate && (last || (o.evalEvery && (epoch + 1) % o.evalEvery === 0))) {
        record.eval = await evaluateNetwork(net, o.evaluate, o.imageShape);
      }
      record.seconds = (Date.now() - t0) / 1000;
      history.push(record);
      o.onEpoch?.(record);
      if (o.afterEpoch && !(await o.afterEpoch(record))) break;
    }
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    replayer.dispose();
    opt.dispose();
    metrics.dispose();
  }
  return { network: net, history, hyper: h, replayedSteps: replayer.replays };
}
