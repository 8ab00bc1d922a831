// DARTS on the masked NB201 supernet (spec §2.2): θ = softmax of α over the enabled ops of each edge,
// every enabled op runs on every edge. First order: ∇α L_valid(w, α). Second order (`ws-so`, what
// GM uses): the unrolled gradient with a finite-difference Hessian-vector product,
//   w' = w − η(μ·momentum + ∇w L_train(w, α) + wd·w)            (nesterov ignored, as the reference)
//   g  = ∇α L_valid(w', α) − η·[∇α L_train(w⁺, α) − ∇α L_train(w⁻, α)] / (2R),
//   v = ∇w' L_valid(w', α), R = 0.01/‖v‖, w± = w ± R·v,
// η being the current epoch's learning rate (the reference passes scheduler.get_lr(), which PyTorch
// ≥ 1.4 makes slightly smaller after epoch 0; spec §2.2 allows the true lr). Parameters that do not
// take part (masked ops) are left out of w': they do not affect any of these losses.
// BN: the reference computes L_valid(w') on a copy of the model, so that forward leaves the real
// running statistics alone; we snapshot and restore them around it.
import { Tensor, tidy, keep, noGrad, backward, crossEntropy, gradNorm, BatchNorm2d } from '../engine/index.js';
import type { ArchSample } from '../spaces/space.js';
import { BaseMethod, type BaseMethodOptions } from './method.js';
import { maskedSoftmax } from './relax.js';
import type { DeviceBatch } from './batch.js';
import type { Rng } from '../data/rng.js';

export class Darts extends BaseMethod {
  readonly name: 'darts' | 'darts2';
  constructor(o: BaseMethodOptions, readonly secondOrder: boolean) {
    super(secondOrder ? 'darts2' : 'darts', o);
    this.name = secondOrder ? 'darts2' : 'darts';
  }

  protected create(o: BaseMethodOptions): Darts { return new Darts(o, this.secondOrder); }

  /** First order: θ is computed on the device from α, so the weight step's host code never changes
   *  and it replays. Second order: its α step rewrites the weight gradients, so it runs the ops. */
  protected override get weightStepReplayable(): boolean { return !this.secondOrder; }

  sampleArch(o: { withGrad?: boolean; rng?: Rng } = {}): ArchSample {
    const theta = o.withGrad ? maskedSoftmax(this.alpha, this.bias) : noGrad(() => maskedSoftmax(this.alpha, this.bias));
    return this.space.mixedSample(this.mask, theta);
  }

  /** θ = masked softmax(α) as host values (for logs and GM reports). */
  async theta(): Promise<Float32Array> {
    const t = tidy(() => noGrad(() => maskedSoftmax(this.alpha, this.bias)));
    try { return await t.data(); } finally { t.dispose(); }
  }

  protected override async computeArchGrad(train: DeviceBatch, valid: DeviceBatch, alphaHost: Float32Array | undefined): Promise<void> {
    if (!this.secondOrder) return super.computeArchGrad(train, valid, alphaHost);
    const be = this.backend;
    const eta = this.lr, { momentum, weightDecay, unrolledR } = this.hyper;
    const params = this.weightParams;

    // ∇w L_train(w, α) with θ held fixed
    clearGrads(params);
    tidy(() => backward(crossEntropy(this.supernet.forward(train.x, this.sampleArch()), train.y)));
    const used = params.filter((p) => p.grad);
    const momenta = this.momentumBuffers();

    // w ← w' (keeping w)
    const saved: Tensor[] = [];
    noGrad(() => {
      for (const p of used) {
        const w = keep(Tensor.empty(be, p.shape));
        be.copy(p.storage, w.storage, p.size);
        saved.push(w);
        be.addInPlace(p.storage, p.grad!.storage, p.size, -eta);
        if (weightDecay) be.addInPlace(p.storage, w.storage, p.size, -eta * weightDecay);
        const m = momenta.get(p);
        if (m && momentum) be.addInPlace(p.storage, m.storage, p.size, -eta * momentum);
      }
    });
    clearGrads(params);

    // ∇α and ∇w' of L_valid(w', α), BN running statistics untouched
    const restoreBn = this.snapshotBatchNorm();
    this.archOptimizer.zeroGrad();
    tidy(() => backward(crossEntropy(this.supernet.forward(valid.x, this.sampleArch({ withGrad: true })), valid.y)));
    restoreBn();
    const dAlpha = this.takeAlphaGrad();
    const v = used.map((p) => p.grad);
    const norm = await gradNorm(params);
    for (const p of params) p.grad = null; // v keeps the tensors
    const restoreW = (): void => noGrad(() => used.forEach((p, i) => be.copy(saved[i].storage, p.storage, p.size)));
    restoreW();

    if (norm > 0 && dAlpha) {
      const R = unrolledR / norm;
      const shift = (scale: number): void => noGrad(() => used.forEach((p, i) => { if (v[i]) be.addInPlace(p.storage, v[i]!.storage, p.size, scale); }));
      shift(R);
      const gPlus = this.trainAlphaGrad(train);
      shift(-2 * R);
      const gMinus = this.trainAlphaGrad(train);
      restoreW();
      if (gPlus) be.addInPlace(dAlpha.storage, gPlus.storage, dAlpha.size, -eta / (2 * R));
      if (gMinus) be.addInPlace(dAlpha.storage, gMinus.storage, dAlpha.size, eta / (2 * R));
      gPlus?.dispose();
      gMinus?.dispose();
    }
    for (const t of [...saved, ...v]) t?.dispose();
    this.alpha.grad = dAlpha;
  }

  /** ∇α L_train at the current weights (weights frozen). */
  private trainAlphaGrad(train: DeviceBatch): Tensor | null {
    this.archOptimizer.zeroGrad();
    tidy(() => this.withFrozenWeights(() => backward(crossEntropy(this.supernet.forward(train.x, this.sampleArch({ withGrad: true })), train.y))));
    return this.takeAlphaGrad();
  }

  private takeAlphaGrad(): Tensor | null {
    const g = this.alpha.grad;
    this.alpha.grad = null;
    return g;
  }

  /** SGD momentum buffer per parameter (absent before the parameter's first step). */
  private momentumBuffers(): Map<Tensor, Tensor> {
    const out = new Map<Tensor, Tensor>();
    for (const [key, t] of this.weightOptimizer.stateTensors()) {
      const dot = key.indexOf('.');
      if (key.slice(dot + 1) === 'momentum_buffer') out.set(this.weightOptimizer.params[Number(key.slice(0, dot))], t);
    }
    return out;
  }

  /** Copy every BN's running statistics and batch count; the returned function puts them back. */
  private snapshotBatchNorm(): () => void {
    const be = this.backend;
    const saved: { bn: BatchNorm2d; mean: Tensor; var: Tensor; count: number }[] = [];
    for (const [, m] of this.supernet.namedModules()) {
      if (!(m instanceof BatchNorm2d) || !m.runningMean || !m.runningVar) continue;
      const mean = keep(Tensor.empty(be, m.runningMean.shape)), vr = keep(Tensor.empty(be, m.runningVar.shape));
      be.copy(m.runningMean.storage, mean.storage, mean.size);
      be.copy(m.runningVar.storage, vr.storage, vr.size);
      saved.push({ bn: m, mean, var: vr, count: m.numBatchesTracked });
    }
    return () => {
      for (const s of saved) {
        be.copy(s.mean.storage, s.bn.runningMean!.storage, s.mean.size);
        be.copy(s.var.storage, s.bn.runningVar!.storage, s.var.size);
        s.bn.numBatchesTracked = s.count;
        s.mean.dispose();
        s.var.dispose();
      }
    };
  }
}

function clearGrads(params: Tensor[]): void {
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
}
