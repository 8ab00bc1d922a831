// Training one genotype of a search space from scratch (`run.js train`). The default preset is
// NAS-Bench-201's stand-alone setting: AutoDL-Projects' `configs/nas-benchmark/hyper-opts/200E.config` — 200 epochs, batch
// 256, SGD lr 0.1 with nesterov momentum 0.9 and weight decay 5e-4, cosine annealing to 0 stepped per
// epoch, plain cross-entropy, no gradient clipping; random crop + flip come from the sampler.
// Loss and accuracy accumulate on the device; one read per epoch.
import { Rng as EngineRng, SGD, tidy, noGrad, backward, crossEntropy, clipGradNorm, cosineLr, tuneKernels, Tensor } from '../engine/index.js';
import type { Backend } from '../engine/index.js';
import { StepReplayer } from './replay.js';
import { getSpace } from '../spaces/registry.js';
import type { SearchSpace, SpaceNetwork, NetworkBuildOptions } from '../spaces/space.js';
import { MetricAccumulator, type MetricTotals } from './metrics.js';
import { uploadBatch, isDeviceBatch, iterateEvalData, type BatchSource, type EvalData, type ImageShape, type HostBatch } from './batch.js';

export interface StandaloneHyper {
  epochs: number;
  batchSize: number;
  lr: number;
  lrMin: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** 0 = no clipping (the NB201 setting) */
  gradClip: number;
}

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
  onStep?: (epoch: number, done: number) => void;
  /** wait for the device every this many steps (default 8) */
  syncEvery?: number;
  /** record one training step per epoch and replay it for the others (default true; WebGPU only —
   *  see the loop below); false runs every step through the ops, as the CPU backend always does */
  replay?: boolean;
}

export function resolveStandaloneHyper(o: Partial<StandaloneHyper> = {}): StandaloneHyper {
  const h = { ...DEFAULT_STANDALONE_PRESET, ...o };
  for (const k of ['epochs', 'batchSize'] as const) {
    if (!Number.isInteger(h[k]) || h[k] < 1) throw new Error(`stand-alone training: ${k} must be a positive integer, got ${h[k]}`);
  }
  for (const k of ['lr', 'lrMin', 'momentum', 'weightDecay', 'gradClip'] as const) {
    if (!(h[k] >= 0 && Number.isFinite(h[k]))) throw new Error(`stand-alone training: ${k} must be a non-negative number, got ${h[k]}`);
  }
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
  const net = (o.space ?? getSpace()).buildNetwork(o.backend, new EngineRng(o.seed), o.network);
  const params = net.parameters();
  const opt = new SGD(params, { lr: h.lr, momentum: h.momentum, nesterov: h.nesterov, weightDecay: h.weightDecay });
  const metrics = new MetricAccumulator(o.backend);
  const history: StandaloneEpoch[] = [];
  const syncEvery = o.syncEvery ?? 8;
  const trainStep = (x: Tensor, y: Tensor): void => tidy(() => {
    opt.zeroGrad();
    const logits = net.forward(x);
    const loss = crossEntropy(logits, y);
    backward(loss);
    if (h.gradClip > 0) clipGradNorm(params, h.gradClip);
    opt.step();
    metrics.add(loss, logits, y);
  });
  const replayer = new StepReplayer(o.backend, (b) => trainStep(b.x, b.y), { enabled: o.replay ?? true, module: net, metrics });
  try {
    for (let epoch = 0; epoch < h.epochs; epoch++) {
      const t0 = Date.now();
      opt.lr = cosineLr(epoch, h.epochs, h.lr, h.lrMin);
      net.train();
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
