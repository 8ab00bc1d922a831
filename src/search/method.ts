// The common machinery of the one-shot base methods over a (masked) supernet of any search space: α and its Adam,
// the weight SGD with per-epoch cosine LR and gradient clipping, the weight step, the first-order
// architecture step, evaluation, derivation, spawning children at a split, and checkpoint state.
// Subclasses (darts.ts, snas.ts, rsps.ts, gdas.ts) say how an architecture sample is drawn, how α is
// updated, and how a genotype is derived.
//
// Host round trips: none per step for DARTS (1st order), SNAS and RSPS — loss and accuracy are summed
// on the device (MetricAccumulator) and read when asked. DARTS 2nd order reads one number per step
// (‖v‖, for the finite-difference step r/‖v‖); GDAS reads α (30 values) per step to pick its ops,
// as ADL's GDAS does (`.item()` per edge).
//
// Every tensor a step creates lives inside a tidy scope; samples returned by `sampleArch` belong to
// the caller's scope.
import {
  Tensor, tidy, keep, noGrad, backward, crossEntropy, clipGradNorm, SGD, Adam, Rng as EngineRng, tuneKernels,
} from '../engine/index.js';
import type { Backend } from '../engine/index.js';
import { Rng, hashSeed, type RngState } from '../data/rng.js';
import { moduleStateTensors, loadModuleState } from '../engine/index.js';
import { getSpace } from '../spaces/registry.js';
import type { SearchSpace, SpaceSupernet, ArchSample, OpMask, Genotype } from '../spaces/space.js';
import type { SafetensorsInput, DecodedTensor } from '../io/safetensors.js';
import { MetricAccumulator, type MetricTotals } from './metrics.js';
import { uploadBatch, isDeviceBatch, iterateEvalData, type DeviceBatch, type BatchSource, type EvalData, type ImageShape, type HostBatch } from './batch.js';
import { maskBias, maskedSoftmax } from './relax.js';
import { StepReplayer } from './replay.js';
import { resolveHyper, epochLr, epochTau, type BaseMethodHyper, type BaseMethodName } from './presets.js';

/** The network sizes a method's supernet is built with. */
export interface MacroSizes { C: number; N: number; inputChannels: number; numClasses: number }

export interface BaseMethodOptions {
  backend: Backend;
  /** the search space (default: the registry's default space) */
  space?: SearchSpace;
  sizes: MacroSizes;
  /** [C, H, W] of the training images (for uploading host batches) */
  imageShape: ImageShape;
  /** ops this (sub-)supernet may use; default all */
  mask?: OpMask;
  /** seeds weight initialisation, α initialisation and the method's sampling stream */
  seed: number;
  /** overrides of the method's preset (spec §2) */
  hyper?: Partial<BaseMethodHyper>;
  /** replay recorded weight steps where the method allows it (default true; see replay.ts) */
  replay?: boolean;
}

export interface TrainEpochOptions {
  /** steps (batches) in this epoch; GM: ceil(25000 / 48) = 521 */
  steps: number;
  /** weight-half batches */
  train: BatchSource;
  /** architecture-half batches; needed when `updateArch` and the method has an α step */
  valid?: BatchSource;
  /** update α this epoch (false while GM splits: α frozen) */
  updateArch: boolean;
  /** wait for the device every this many steps, bounding queued work (default 8; CPU ignores it) */
  syncEvery?: number;
  /** called after each step with the number of steps done */
  onStep?: (done: number) => void;
}

export interface EvaluateOptions {
  /** what to run: a fixed sample, a genotype (single path), or the method's own sample per batch (default) */
  arch?: ArchSample | Genotype | 'method';
  /** BN mode: 'train' (batch statistics, running stats updated, as GM's infer(eval=False)) or 'eval' */
  bn?: 'train' | 'eval';
}

export interface DeriveOptions {
  /** RSPS: the architecture half to score candidates on */
  valid?: EvalData;
  /** RSPS: number of unique random architectures (default: the preset's 200, capped at what the mask admits) */
  candidates?: number;
}

export interface DeriveResult {
  genotype: Genotype;
  genotypeString: string;
  /** α at derivation time, row-major [rows, cols] (argmax methods) */
  alpha?: number[];
  /** RSPS: every candidate with its validation score, in sampling order */
  candidates?: { genotype: string; accuracy: number; loss: number }[];
}

/** Host-side state that goes with the tensors of a method checkpoint. */
export interface MethodStateMeta {
  method: BaseMethodName;
  mask: string;
  lr: number;
  tau: number;
  rng: RngState;
  adamSteps: number[];
  /** names of parameters treated as "once had a gradient" (torch1ZeroGrad) */
  everUsed: string[];
  /** true when the tensors hold the optimizers' complete state (every SGD momentum buffer and α's Adam
   *  moments that exist), so none of them is a sign of "no state yet"; written by `exportState` */
  optimizerState?: boolean;
}

const ALPHA_STREAM = 0xa1fa;
const SAMPLE_STREAM = 0x5a3b;

export abstract class BaseMethod {
  abstract readonly name: BaseMethodName;
  readonly backend: Backend;
  readonly hyper: BaseMethodHyper;
  readonly sizes: MacroSizes;
  readonly imageShape: ImageShape;
  readonly seed: number;
  readonly space: SearchSpace;
  readonly supernet: SpaceSupernet;
  /** architecture parameters [rows, cols] (a leaf with gradients; unused by RSPS) */
  readonly alpha: Tensor;
  readonly weightOptimizer: SGD;
  readonly archOptimizer: Adam;
  /** the method's sampling stream (Gumbel noise, random paths); its state is checkpointed */
  readonly rng: Rng;
  /** loss/accuracy of the weight steps since the last `trainMetrics.reset()` */
  readonly trainMetrics: MetricAccumulator;
  /** current weight learning rate (set per epoch) */
  lr: number;
  /** current Gumbel temperature (SNAS, GDAS; NaN otherwise) */
  tau: number;
  protected readonly bias: Tensor;
  protected readonly weightParams: Tensor[];
  private readonly everUsed = new Set<Tensor>();

  constructor(name: BaseMethodName, o: BaseMethodOptions) {
    this.backend = o.backend;
    this.hyper = resolveHyper(name, o.hyper);
    this.sizes = { ...o.sizes };
    this.imageShape = [...o.imageShape] as unknown as ImageShape;
    if (this.imageShape.length !== 3 || this.imageShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${name}: imageShape must be [C, H, W] positive integers, got [${o.imageShape.join(', ')}]`);
    }
    if (this.imageShape[0] !== o.sizes.inputChannels) {
      throw new Error(`${name}: imageShape has ${this.imageShape[0]} channels but the supernet takes ${o.sizes.inputChannels}`);
    }
    if (!Number.isSafeInteger(o.seed)) throw new Error(`${name}: seed must be a safe integer, got ${o.seed}`);
    this.seed = o.seed;
    const space = this.space = o.space ?? getSpace();
    const mask = o.mask ?? space.fullMask();
    space.assertMask(mask, `${name} mask`);
    this.supernet = space.buildSupernet(o.backend, new EngineRng(o.seed), { ...o.sizes, trackCellStats: this.hyper.trackCellStats, mask });
    const alphaRng = new Rng(hashSeed(o.seed, ALPHA_STREAM));
    const a = new Float32Array(space.rows * space.cols).map(() => alphaRng.normal(this.hyper.alphaInitMean, this.hyper.alphaInitStd));
    this.alpha = keep(Tensor.fromArray(o.backend, a, [space.rows, space.cols])).param('arch_parameters');
    this.weightParams = this.supernet.parameters();
    this.weightOptimizer = new SGD(this.weightParams, {
      lr: this.hyper.lr, momentum: this.hyper.momentum, nesterov: this.hyper.nesterov, weightDecay: this.hyper.weightDecay,
    });
    this.archOptimizer = new Adam([this.alpha], { lr: this.hyper.archLr, betas: this.hyper.archBetas, weightDecay: this.hyper.archWeightDecay });
    this.rng = new Rng(hashSeed(o.seed, SAMPLE_STREAM));
    this.trainMetrics = new MetricAccumulator(o.backend);
    this.bias = keep(maskBias(o.backend, mask, space));
    this.lr = this.hyper.lr;
    this.tau = epochTau(name, this.hyper, 0, this.hyper.epochs);
    this.replayOption = o.replay ?? true;
  }

  /** BaseMethodOptions.replay */
  protected readonly replayOption: boolean;

  get mask(): OpMask { return this.supernet.mask; }

  /** Set the learning rate (cosine, epoch `epoch` of `totalEpochs`) and the temperature (its own
   *  epoch count when a restarted leaf's τ schedule differs from the LR's, spec §2.3). */
  setEpoch(epoch: number, totalEpochs: number, tauSchedule?: { epoch: number; totalEpochs: number }): void {
    this.lr = epochLr(this.hyper, epoch, totalEpochs);
    const t = tauSchedule ?? { epoch, totalEpochs };
    this.tau = epochTau(this.name, this.hyper, t.epoch, t.totalEpochs);
  }

  // ---- what subclasses define --------------------------------------------------------------------

  /**
   * The base method's architecture sample for one forward pass (spec §3.3's θ): DARTS the masked
   * softmax, SNAS one soft Gumbel sample, RSPS one connected single path, GDAS one hard Gumbel path.
   * `withGrad`: whether the weights carry gradients to α (GM's split gradients do not need them).
   * Call inside tidy: the sample's tensors belong to the caller's scope. GDAS needs `alphaHost`
   * (α read back), see `prepareStep`.
   */
  abstract sampleArch(o?: { withGrad?: boolean; rng?: Rng; alphaHost?: Float32Array }): ArchSample;

  /** Whether this method updates α at all (RSPS does not). */
  get hasArchStep(): boolean { return true; }

  /** Host data a step needs before it can build samples (GDAS: α values). */
  protected async prepareStep(): Promise<Float32Array | undefined> { return undefined; }

  /** Leave the architecture gradient in `alpha.grad`; default: first order, ∇α L_valid under a
   *  fresh sample (DARTS 1st order, SNAS, GDAS — spec §2.2–2.5). */
  protected computeArchGrad(_train: DeviceBatch, valid: DeviceBatch, alphaHost: Float32Array | undefined): void | Promise<void> {
    this.archOptimizer.zeroGrad();
    tidy(() => {
      const sample = this.sampleArch({ withGrad: true, alphaHost });
      this.withFrozenWeights(() => backward(crossEntropy(this.supernet.forward(valid.x, sample), valid.y)));
    });
  }

  /** The α update: the method's gradient, then Adam. */
  protected async archStep(train: DeviceBatch, valid: DeviceBatch, alphaHost: Float32Array | undefined): Promise<void> {
    await this.computeArchGrad(train, valid, alphaHost);
    this.archOptimizer.step();
  }

  /** The gradient an α step would apply, without applying it (diagnostics and tests). BN running
   *  statistics move as in a real step. */
  async architectureGradient(train: DeviceBatch, valid: DeviceBatch): Promise<Float32Array> {
    if (!this.hasArchStep) throw new Error(`${this.name} has no architecture gradient`);
    await this.computeArchGrad(train, valid, await this.prepareStep());
    const g = this.alpha.grad ? await this.alpha.grad.data() : new Float32Array(this.alpha.size);
    this.archOptimizer.zeroGrad();
    return g;
  }

  /** Whether the weight step comes before the α step (ADL's GDAS order) instead of after (GM). */
  protected get weightStepFirst(): boolean { return false; }

  /** The mixture the weights are trained under, as host values: masked softmax(α) (DARTS' θ; for SNAS
   *  and GDAS the mean of their samples' relaxation before noise). Null for methods without α (RSPS). */
  async mixtureWeights(): Promise<Float32Array | null> {
    if (!this.hasArchStep) return null;
    const t = tidy(() => noGrad(() => maskedSoftmax(this.alpha, this.bias)));
    try { return await t.data(); } finally { t.dispose(); }
  }

  /** The genotype this method derives (default: argmax of masked α, 'none' included). */
  async derive(_o: DeriveOptions = {}): Promise<DeriveResult> {
    const alpha = await this.alpha.data();
    const genotype = this.space.derive(alpha, this.mask);
    return { genotype, genotypeString: this.space.formatGenotype(genotype), alpha: Array.from(alpha) };
  }

  /** A fresh method of the same kind (used by `spawn`). */
  protected abstract create(o: BaseMethodOptions): BaseMethod;

  // ---- steps ---------------------------------------------------------------------------------------

  /** One iteration: α step on (train, valid) if `updateArch`, and the weight step on train
   *  (GM's order, spec §2.1; GDAS: weights first, as ADL). Adds the weight step's loss and accuracy to
   *  `trainMetrics`. */
  async trainStep(train: DeviceBatch, valid: DeviceBatch | null, o: { updateArch: boolean }): Promise<void> {
    const doArch = o.updateArch && this.hasArchStep;
    if (doArch && !valid) throw new Error(`${this.name}: an architecture step needs a validation batch`);
    const alphaHost = await this.prepareStep();
    if (doArch && !this.weightStepFirst) await this.archStep(train, valid!, alphaHost);
    this.weightStep(train, alphaHost);
    if (doArch && this.weightStepFirst) await this.archStep(train, valid!, alphaHost);
  }

  /** Whether the weight step's host code is the same every step (no host-drawn samples, no host
   *  reads), so that trainEpoch may record it once and replay it (replay.ts). */
  protected get weightStepReplayable(): boolean { return false; }

  /** the weight step's replayer while trainEpoch runs (null: every step through the ops) */
  private replayer: StepReplayer | null = null;
  private weightStepsThisEpoch = 0;

  /** SGD step of the supernet weights on one batch under the method's sample (α gets no gradient). */
  protected weightStep(train: DeviceBatch, alphaHost: Float32Array | undefined): void {
    if (this.replayer) {
      // recorded from the second step of the epoch on (the optimizer's first-step path has run)
      this.replayer.run(train, this.weightStepsThisEpoch++ > 0);
      return;
    }
    this.weightStepOps(train, alphaHost);
  }

  /** The weight step through the ops. */
  private weightStepOps(train: DeviceBatch, alphaHost: Float32Array | undefined): void {
    const opt = this.weightOptimizer;
    opt.lr = this.lr;
    tidy(() => {
      opt.zeroGrad();
      const sample = this.sampleArch({ withGrad: false, alphaHost });
      const logits = this.supernet.forward(train.x, sample);
      const loss = crossEntropy(logits, train.y, this.hyper.labelSmoothing);
      backward(loss);
      this.applyZeroGradSemantics();
      clipGradNorm(this.weightParams, this.hyper.gradClip);
      opt.step();
      this.trainMetrics.add(loss, logits, train.y);
    });
  }

  /** torch < 2.0: parameters used before get zero gradients instead of none (see presets.ts). */
  private applyZeroGradSemantics(): void {
    if (!this.hyper.torch1ZeroGrad) return;
    for (const p of this.weightParams) {
      if (p.grad) this.everUsed.add(p);
      else if (this.everUsed.has(p)) p.grad = keep(Tensor.zeros(p.backend, p.shape));
    }
  }

  /** Run fn with the supernet's parameters not requiring gradients (α steps: only α's gradient is
   *  wanted; skipping the weight gradients saves a third of the backward work). */
  protected withFrozenWeights<T>(fn: () => T): T {
    for (const p of this.weightParams) p.requiresGrad = false;
    try {
      return fn();
    } finally {
      for (const p of this.weightParams) p.requiresGrad = true;
    }
  }

  /** Train one epoch of `steps` steps; returns the weight steps' mean loss and accuracy (one read). */
  async trainEpoch(o: TrainEpochOptions): Promise<MetricTotals> {
    if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`${this.name}.trainEpoch: steps must be a positive integer, got ${o.steps}`);
    const needValid = o.updateArch && this.hasArchStep;
    if (needValid && !o.valid) throw new Error(`${this.name}.trainEpoch: updateArch needs a 'valid' batch source`);
    const syncEvery = o.syncEvery ?? 8;
    this.supernet.train();
    this.trainMetrics.reset();
    // one recording per epoch at most: the learning rate is baked into the recorded SGD kernels
    this.replayer = this.weightStepReplayable && this.replayOption
      ? new StepReplayer(this.backend, (b) => this.weightStepOps(b, undefined), { enabled: true, module: this.supernet, metrics: this.trainMetrics })
      : null;
    this.weightStepsThisEpoch = 0;
    try {
      return await this.trainEpochSteps(o, needValid, syncEvery);
    } finally {
      this.replayer?.dispose();
      this.replayer = null;
    }
  }

  private async trainEpochSteps(o: TrainEpochOptions, needValid: boolean, syncEvery: number): Promise<MetricTotals> {
    for (let s = 0; s < o.steps; s++) {
      const train = uploadBatch(this.backend, o.train.next(), this.imageShape);
      const valid = needValid ? uploadBatch(this.backend, o.valid!.next(), this.imageShape) : null;
      try {
        await this.trainStep(train, valid, { updateArch: o.updateArch });
      } finally {
        for (const t of [train.x, train.y, valid?.x, valid?.y]) t?.dispose();
      }
      // after the first step every kernel shape of a step is known: autotune them (a no-op when the
      // backend cannot, tuning is off, or an earlier epoch already did)
      if (s === 0) await tuneKernels(this.backend);
      if ((s + 1) % syncEvery === 0) await this.backend.sync();
      o.onStep?.(s + 1);
    }
    return this.trainMetrics.read();
  }

  // ---- evaluation --------------------------------------------------------------------------------

  /** Mean loss and accuracy (%) over `data` without gradients. */
  async evaluate(data: EvalData, o: EvaluateOptions = {}): Promise<MetricTotals> {
    const acc = new MetricAccumulator(this.backend);
    const wasTraining = this.supernet.training;
    this.supernet.train((o.bn ?? 'train') === 'train');
    try {
      const arch = o.arch ?? 'method';
      const alphaHost = arch === 'method' ? await this.prepareStep() : undefined;
      for (const b of iterateEvalData(data)) {
        tidy(() => noGrad(() => {
          const batch = isDeviceBatch(b) ? b : uploadBatch(this.backend, b as HostBatch, this.imageShape);
          const sample = arch === 'method' ? this.sampleArch({ withGrad: false, alphaHost })
            : Array.isArray(arch) ? this.space.singlePathSample(arch as Genotype) : arch as ArchSample;
          const logits = this.supernet.forward(batch.x, sample);
          acc.add(crossEntropy(logits, batch.y), logits, batch.y);
        }));
      }
      return await acc.read();
    } finally {
      this.supernet.train(wasTraining);
      acc.dispose();
    }
  }

  /**
   * Train the supernet's weights with `genotype` alone as a single path for `steps` SGD steps (a
   * fresh nesterov SGD at `lr`, momentum 0.9, the method's weight decay and clipping; α untouched).
   * Used before scoring a leaf's derived genotype: a short budget leaves weights co-adapted to the
   * mixture of all ops, so the path alone scores far below the supernet (docs/quality.md). Changes the
   * weights; callers run it after the leaf's last checkpoint.
   */
  async tunePath(genotype: Genotype, train: BatchSource, o: { steps: number; lr: number }): Promise<MetricTotals> {
    if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`${this.name}.tunePath: steps must be a positive integer, got ${o.steps}`);
    const opt = new SGD(this.weightParams, { lr: o.lr, momentum: 0.9, nesterov: true, weightDecay: this.hyper.weightDecay });
    const metrics = new MetricAccumulator(this.backend);
    const wasTraining = this.supernet.training;
    this.supernet.train(true);
    try {
      for (let s = 0; s < o.steps; s++) {
        const batch = uploadBatch(this.backend, train.next(), this.imageShape);
        try {
          tidy(() => {
            opt.zeroGrad();
            const logits = this.supernet.forward(batch.x, this.space.singlePathSample(genotype));
            const loss = crossEntropy(logits, batch.y);
            backward(loss);
            clipGradNorm(this.weightParams, this.hyper.gradClip);
            opt.step();
            metrics.add(loss, logits, batch.y);
          });
        } finally {
          batch.x.dispose(); batch.y.dispose();
        }
        if ((s + 1) % 8 === 0) await this.backend.sync();
      }
      return await metrics.read();
    } finally {
      opt.zeroGrad();
      this.supernet.train(wasTraining);
      opt.dispose();
      metrics.dispose();
    }
  }

  /** α as host values (one read). */
  async alphaValues(): Promise<Float32Array> { return this.alpha.data(); }

  // ---- splitting -----------------------------------------------------------------------------------

  /**
   * A child for a split: a method of the same kind on a supernet with `mask`.
   *  - inherit: weights, BN statistics, α, SGD momentum, α's Adam moments and step count, lr, τ, the
   *    zero-grad bookkeeping and a copy of the sampling stream are copied (GM's inner splits, spec §3.1);
   *  - otherwise: everything is fresh from `seed` (GM's `--restart final`).
   */
  spawn(mask: OpMask, o: { inherit: boolean; seed: number }): BaseMethod {
    const child = this.create({ backend: this.backend, space: this.space, sizes: this.sizes, imageShape: this.imageShape, mask, seed: o.seed, hyper: this.hyper, replay: this.replayOption });
    if (!o.inherit) return child;
    child.supernet.copyStateFrom(this.supernet);
    noGrad(() => this.backend.copy(this.alpha.storage, child.alpha.storage, this.alpha.size));
    const index = new Map(this.weightParams.map((p, i) => [p, i]));
    const childIndex = new Map(child.weightParams.map((p, i) => [p, i]));
    child.weightOptimizer.loadStateFrom(this.weightOptimizer, (p) => this.weightParams[childIndex.get(p)!]);
    // α's Adam (one parameter, α itself, in both): moments and step count.
    child.archOptimizer.loadStateTensors(this.archOptimizer.stateTensors(), this.archOptimizer.stepCounts());
    for (const p of this.everUsed) child.everUsed.add(child.weightParams[index.get(p)!]);
    child.lr = this.lr;
    child.tau = this.tau;
    child.rng.restore(this.rng.state());
    return child;
  }

  // ---- checkpoints ---------------------------------------------------------------------------------

  /** Everything needed to continue: supernet state (its own names), `arch_parameters`, SGD momentum
   *  buffers (`optimizer.sgd.<param>.momentum_buffer`), Adam moments (`optimizer.adam.exp_avg`,
   *  `…exp_avg_sq`) and host state. */
  async exportState(): Promise<{ tensors: SafetensorsInput[]; meta: MethodStateMeta }> {
    const tensors = await moduleStateTensors(this.supernet);
    tensors.push({ name: 'arch_parameters', shape: [this.space.rows, this.space.cols], data: await this.alpha.data() });
    const names = this.supernet.namedParameters().map(([n]) => n);
    for (const [key, t] of this.weightOptimizer.stateTensors()) {
      const [i, what] = splitStateKey(key);
      tensors.push({ name: `optimizer.sgd.${names[i]}.${what}`, shape: [...t.shape], data: await t.data() });
    }
    for (const [key, t] of this.archOptimizer.stateTensors()) {
      const [, what] = splitStateKey(key);
      tensors.push({ name: `optimizer.adam.${what}`, shape: [...t.shape], data: await t.data() });
    }
    const byTensor = new Map(this.supernet.namedParameters().map(([n, t]) => [t, n]));
    return {
      tensors,
      meta: {
        method: this.name, mask: this.space.maskToString(this.mask), lr: this.lr, tau: this.tau, rng: this.rng.state(),
        adamSteps: this.archOptimizer.stepCounts(), everUsed: [...this.everUsed].map((t) => byTensor.get(t)!),
        optimizerState: true,
      },
    };
  }

  /**
   * Restore what `exportState` wrote — supernet state, α, SGD momentum buffers, α's Adam moments and
   * step counts, lr, τ, the sampling stream, the zero-grad bookkeeping — so training continues exactly
   * as if never interrupted. A checkpoint that lacks optimizer state the run needs (no
   * `optimizer.sgd.*` entries and no `optimizerState` mark, e.g. from another writer; or `adamSteps`
   * > 0 without `optimizer.adam.*`) is refused unless `allowOptimizerReset`: then the missing moments
   * restart from zero (and Adam's step count from 0). `source` names the file in errors. A failed
   * import may leave the method partly restored: discard it.
   */
  importState(tensors: ReadonlyMap<string, DecodedTensor>, meta: MethodStateMeta, source: string, o: { allowOptimizerReset?: boolean } = {}): void {
    if (meta.method !== this.name) throw new Error(`${source}: state of method '${meta.method}', this is '${this.name}'`);
    if (meta.mask !== this.space.maskToString(this.mask)) throw new Error(`${source}: state has mask ${meta.mask}, this supernet ${this.space.maskToString(this.mask)}`);
    const own = new Map<string, DecodedTensor>();
    const paramIndex = new Map(this.supernet.namedParameters().map(([n], i) => [n, i]));
    const sgd: [string, Float32Array][] = [];
    const adam: [string, Float32Array][] = [];
    for (const [n, t] of tensors) {
      if (n.startsWith('optimizer.sgd.')) {
        const rest = n.slice('optimizer.sgd.'.length), dot = rest.lastIndexOf('.');
        const i = dot > 0 ? paramIndex.get(rest.slice(0, dot)) : undefined;
        if (i === undefined) throw new Error(`${source}: '${n}' names no parameter of this supernet`);
        sgd.push([`${i}.${rest.slice(dot + 1)}`, t.data]);
      } else if (n.startsWith('optimizer.adam.')) {
        adam.push([`0.${n.slice('optimizer.adam.'.length)}`, t.data]);
      } else if (n.startsWith('optimizer.')) {
        throw new Error(`${source}: unknown optimizer entry '${n}' (expected optimizer.sgd.<param>.<state> or optimizer.adam.<state>)`);
      } else if (n !== 'arch_parameters') {
        own.set(n, t);
      }
    }
    const nAdam = this.archOptimizer.params.length;
    if (meta.adamSteps !== undefined && (!Array.isArray(meta.adamSteps) || meta.adamSteps.length !== nAdam)) {
      throw new Error(`${source}: method_state.adamSteps must list ${nAdam} step count(s), got ${JSON.stringify(meta.adamSteps)}`);
    }
    const adamSteps = meta.adamSteps ?? new Array<number>(nAdam).fill(0);
    const sgdKnown = sgd.length > 0 || meta.optimizerState === true || !(this.weightOptimizer.momentum > 0);
    // Moments without step counts cannot continue Adam's bias correction exactly.
    const adamKnown = adam.length > 0 ? meta.adamSteps !== undefined : !adamSteps.some((s) => s > 0);
    const missing = [...(sgdKnown ? [] : ['SGD momentum buffers']), ...(adamKnown ? [] : [`α's Adam moments (adamSteps ${JSON.stringify(adamSteps)})`])];
    if (missing.length && !o.allowOptimizerReset) {
      throw new Error(`${source}: lacks optimizer state (${missing.join(', ')}), so training cannot continue exactly; ` +
        'pass allowOptimizerReset to restart the missing moments from zero');
    }
    const a = tensors.get('arch_parameters');
    if (!a || a.data.length !== this.space.rows * this.space.cols) throw new Error(`${source}: missing arch_parameters [${this.space.rows}, ${this.space.cols}]`);
    const byName = new Map(this.supernet.namedParameters());
    for (const n of meta.everUsed) {
      if (!byName.has(n)) throw new Error(`${source}: everUsed names unknown parameter '${n}'`);
    }
    const sgdEntries = sgdKnown ? sgd : [];
    for (const [key, data] of sgdEntries) {
      const [i, what] = splitStateKey(key);
      const p = this.weightParams[i];
      if (what !== 'momentum_buffer' || data.length !== p.size) {
        throw new Error(`${source}: 'optimizer.sgd.${this.supernet.namedParameters()[i][0]}.${what}' ` +
          (what !== 'momentum_buffer' ? 'is not a momentum_buffer' : `has ${data.length} values, the parameter ${p.size}`));
      }
    }
    try {
      // Adam checks everything before it changes; SGD's entries were checked above.
      this.archOptimizer.loadStateTensors(adamKnown ? adam : [], adamKnown ? adamSteps : adamSteps.map(() => 0));
      this.weightOptimizer.loadStateTensors(sgdEntries);
    } catch (e) {
      throw new Error(`${source}: optimizer state: ${(e as Error).message}`);
    }
    loadModuleState(this.supernet, own, source);
    this.backend.write(this.alpha.storage, a.data);
    this.lr = meta.lr;
    this.tau = meta.tau;
    this.rng.restore(meta.rng);
    this.everUsed.clear();
    for (const n of meta.everUsed) this.everUsed.add(byName.get(n)!);
  }

  dispose(): void {
    this.weightOptimizer.dispose();
    this.archOptimizer.dispose();
    this.trainMetrics.dispose();
    this.supernet.dispose();
    this.alpha.grad?.dispose();
    this.alpha.dispose();
    this.bias.dispose();
  }
}

function splitStateKey(key: string): [number, string] {
  const dot = key.indexOf('.');
  return [Number(key.slice(0, dot)), key.slice(dot + 1)];
}
