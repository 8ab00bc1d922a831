// Hyper-parameters of the one-shot base methods on NB201, to the constant of spec §2 (GM-NAS's
// `train_search.py` with `--fs_opt 1`; GDAS from AutoDL-Projects, spec §2.5), and their per-epoch
// schedules (cosine learning rate stepped once per epoch; linear temperature).
import { cosineLr } from '../engine/index.js';

export const BASE_METHOD_NAMES = ['darts', 'darts2', 'snas', 'rsps', 'gdas', 'proxyless'] as const;
export type BaseMethodName = (typeof BASE_METHOD_NAMES)[number];

export interface BaseMethodHyper {
  /** images per step (train and valid batches alike) */
  batchSize: number;
  /** total epochs of GM's schedule for this base method (splitting + leaf training; spec §3.1) */
  epochs: number;
  /** weight SGD: lr cosine-annealed from `lr` to `lrMin` over the schedule's epochs */
  lr: number;
  lrMin: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** clip_grad_norm_ of the weight gradients */
  gradClip: number;
  /** architecture Adam */
  archLr: number;
  archBetas: [number, number];
  archWeightDecay: number;
  /** α ~ N(mean, std²) at initialisation */
  alphaInitMean: number;
  alphaInitStd: number;
  /** Gumbel temperature schedule (SNAS, GDAS): linear from tauMax to tauMin */
  tauMax: number;
  tauMin: number;
  /** search-cell BN tracks running statistics (false only for RSPS, spec §1.2) */
  trackCellStats: boolean;
  /** DARTS 2nd order: the finite-difference step is r/‖v‖ with r = 0.01 */
  unrolledR: number;
  /** RSPS selection: unique random architectures scored on the validation half */
  selectionCandidates: number;
  /**
   * Emulate torch < 2.0's `zero_grad()` (what GM ran on): a parameter that once had a gradient keeps
   * a zero gradient in later steps where it is not used, so SGD's momentum and weight decay keep
   * moving it (single-path methods: RSPS, GDAS). false: such parameters are left alone (torch ≥ 2.0).
   */
  torch1ZeroGrad: boolean;
  /** label smoothing of the weight step's cross-entropy (0: none; ProxylessNAS 0.1) */
  labelSmoothing: number;
  /** ProxylessNAS's hardware loss on α with the expected multiply-adds as the hardware value
   *  (`--target_hardware flops`): the reference value in multiply-adds per image; 0: none (proxyless only,
   *  on spaces with `opMacs`; src/search/flops-loss.ts) */
  flopsTarget: number;
  /** 'mul#log': α·CE·(log E / log target)^β (the reference's default, α 0.2, β 0.3); 'add#linear':
   *  CE + λ·(E − target)/target (λ 0.1) */
  flopsLoss: 'mul#log' | 'add#linear';
  flopsAlpha: number;
  flopsBeta: number;
  flopsLambda: number;
  /** ProxylessNAS's hardware loss with the expected latency from a measured lookup table as the
   *  hardware value (`--latency-target`): the reference value in ms; 0: none. The same loss forms and
   *  constants as the FLOPs loss (flopsLoss, flopsAlpha, …); not together with flopsTarget */
  latencyTarget: number;
  /** the lookup table in ms (src/nas/latency-table.ts latencyCosts: fixed + ops[rows][cols], NaN where
   *  a decision cannot take the column); needed when latencyTarget > 0 */
  latencyTable: { fixed: number; ops: number[][] } | null;
  /** proxyless: weight steps for which a decision without a no-op (MobileNet: the blocks without a
   *  shortcut) keeps its drawn op before the next draw (1: a fresh draw every step, as ProxylessNAS) */
  holdSteps: number;
  /** proxyless: a decision without a no-op runs ProxylessNAS's 'full' mode in the weight step and in
   *  GM's θ samples (every enabled op, output Σ softmax(α)_j·op_j(x)) instead of one drawn op */
  fullNoOpFree: boolean;
}

const GM_COMMON = {
  batchSize: 48, lr: 0.025, lrMin: 0.001, momentum: 0.9, nesterov: true, weightDecay: 5e-4, gradClip: 5,
  archLr: 3e-4, archBetas: [0.5, 0.999] as [number, number], archWeightDecay: 1e-3,
  alphaInitMean: 0, alphaInitStd: 1e-3, tauMax: 1, tauMin: 0.1, trackCellStats: true, unrolledR: 0.01,
  selectionCandidates: 200, torch1ZeroGrad: true, labelSmoothing: 0,
  flopsTarget: 0, flopsLoss: 'mul#log' as const, flopsAlpha: 0.2, flopsBeta: 0.3, flopsLambda: 0.1, latencyTarget: 0, latencyTable: null, holdSteps: 1, fullNoOpFree: false,
};

export const BASE_METHOD_PRESETS: Readonly<Record<BaseMethodName, Readonly<BaseMethodHyper>>> = Object.freeze({
  // spec §2.2: `ws` (1st order) and `ws-so` (2nd order); 60 epochs = 15/30 splits + 30
  darts: { ...GM_COMMON, epochs: 60 },
  darts2: { ...GM_COMMON, epochs: 60 },
  // spec §2.3: soft Gumbel-softmax, α ~ N(1, 0.01), τ 1 → 0.1
  snas: { ...GM_COMMON, epochs: 60, alphaInitMean: 1, alphaInitStd: 0.01 },
  // spec §2.4: weight decay 1e-4, non-tracking cell BN, 90 epochs = 20/40 splits + 50
  rsps: { ...GM_COMMON, epochs: 90, weightDecay: 1e-4, trackCellStats: false },
  // spec §2.5 (ADL GDAS.config): 250 epochs, batch 64, τ 10 → 0.1
  gdas: { ...GM_COMMON, epochs: 250, batchSize: 64, tauMax: 10, tauMin: 0.1 },
  // spec §5.2 (ProxylessNAS-GM): SGD 0.025 cosine, wd 4e-5, label smoothing 0.1; α Adam 1e-3, betas
  // (0, 0.999), no decay; α ~ N(0, 1e-3²); warmup 40 + 120 epochs (splits at 40 and 80)
  proxyless: {
    ...GM_COMMON, epochs: 160, weightDecay: 4e-5, labelSmoothing: 0.1,
    archLr: 1e-3, archBetas: [0, 0.999], archWeightDecay: 0, alphaInitMean: 0, alphaInitStd: 1e-3,
  },
});

export function isBaseMethodName(s: string): s is BaseMethodName {
  return (BASE_METHOD_NAMES as readonly string[]).includes(s);
}

/** A preset with overrides, validated. */
export function resolveHyper(name: BaseMethodName, overrides: Partial<BaseMethodHyper> = {}): BaseMethodHyper {
  if (!isBaseMethodName(name)) throw new Error(`unknown base method '${name}' (known: ${BASE_METHOD_NAMES.join(', ')})`);
  const h: BaseMethodHyper = { ...BASE_METHOD_PRESETS[name], ...overrides, archBetas: [...(overrides.archBetas ?? BASE_METHOD_PRESETS[name].archBetas)] as [number, number] };
  const positive: (keyof BaseMethodHyper)[] = ['batchSize', 'epochs', 'lr', 'gradClip', 'tauMax', 'tauMin', 'unrolledR', 'selectionCandidates'];
  for (const k of positive) {
    const v = h[k] as number;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new Error(`${name}: ${k} must be a positive number, got ${v}`);
  }
  for (const k of ['batchSize', 'epochs', 'selectionCandidates', 'holdSteps'] as const) {
    if (!Number.isInteger(h[k])) throw new Error(`${name}: ${k} must be an integer, got ${h[k]}`);
  }
  for (const k of ['lrMin', 'momentum', 'weightDecay', 'archLr', 'archWeightDecay', 'alphaInitStd', 'labelSmoothing'] as const) {
    if (!(h[k] >= 0 && Number.isFinite(h[k]))) throw new Error(`${name}: ${k} must be a non-negative number, got ${h[k]}`);
  }
  for (const k of ['flopsTarget', 'flopsAlpha', 'flopsBeta', 'flopsLambda', 'latencyTarget'] as const) {
    if (!(h[k] >= 0 && Number.isFinite(h[k]))) throw new Error(`${name}: ${k} must be a non-negative number, got ${h[k]}`);
  }
  if (h.flopsLoss !== 'mul#log' && h.flopsLoss !== 'add#linear') throw new Error(`${name}: flopsLoss must be 'mul#log' or 'add#linear', got ${String(h.flopsLoss)}`);
  if (!(h.holdSteps >= 1)) throw new Error(`${name}: holdSteps must be an integer ≥ 1, got ${h.holdSteps}`);
  if (h.fullNoOpFree && name !== 'proxyless') throw new Error(`${name}: fullNoOpFree (ProxylessNAS's full mode) is a proxyless option; use --base proxyless`);
  if (h.holdSteps > 1 && name !== 'proxyless') throw new Error(`${name}: holdSteps (held single paths) is a proxyless option; use --base proxyless`);
  if (h.flopsTarget > 0 && name !== 'proxyless') throw new Error(`${name}: the expected-FLOPs loss (flopsTarget) is ProxylessNAS's; use --base proxyless`);
  if (h.latencyTarget > 0 && name !== 'proxyless') throw new Error(`${name}: the latency loss (latencyTarget) is ProxylessNAS's; use --base proxyless`);
  if (h.latencyTarget > 0 && h.flopsTarget > 0) throw new Error(`${name}: one hardware loss at a time: flopsTarget or latencyTarget`);
  if (h.latencyTarget > 0 && !h.latencyTable) throw new Error(`${name}: latencyTarget needs a measured latencyTable (src/nas/latency-table.ts)`);
  if (!(h.labelSmoothing < 1)) throw new Error(`${name}: labelSmoothing must be in [0, 1), got ${h.labelSmoothing}`);
  if (h.tauMin > h.tauMax) throw new Error(`${name}: tauMin ${h.tauMin} exceeds tauMax ${h.tauMax}`);
  if (h.nesterov && h.momentum <= 0) throw new Error(`${name}: nesterov needs momentum > 0`);
  return h;
}

/** The weight learning rate of epoch `epoch` (0-based) of a `totalEpochs`-epoch cosine schedule
 *  (torch CosineAnnealingLR(T_max = totalEpochs, eta_min = lrMin), stepped once per epoch). */
export function epochLr(h: BaseMethodHyper, epoch: number, totalEpochs: number): number {
  return cosineLr(epoch, totalEpochs, h.lr, h.lrMin);
}

/**
 * The Gumbel temperature of epoch `epoch` of a `totalEpochs`-epoch schedule.
 *  - SNAS (GM's TempScheduler, spec §2.3): τ = τmax − (τmax − τmin)·e/T, clipped at τmin.
 *  - GDAS (ADL, spec §2.5): τ = τmax − (τmax − τmin)·e/(T − 1), so the last epoch reaches τmin.
 * Other methods have no temperature (returns NaN).
 */
export function epochTau(name: BaseMethodName, h: BaseMethodHyper, epoch: number, totalEpochs: number): number {
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`epochTau: epoch must be a non-negative integer, got ${epoch}`);
  if (!Number.isInteger(totalEpochs) || totalEpochs < 1) throw new Error(`epochTau: totalEpochs must be a positive integer, got ${totalEpochs}`);
  if (name === 'snas') return Math.max(h.tauMin, h.tauMax - ((h.tauMax - h.tauMin) * epoch) / totalEpochs);
  if (name === 'gdas') return totalEpochs === 1 ? h.tauMax : Math.max(h.tauMin, h.tauMax - ((h.tauMax - h.tauMin) * epoch) / (totalEpochs - 1));
  return NaN;
}
