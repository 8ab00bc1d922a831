// Optimizers that update parameters on the device, with PyTorch semantics. Parameters whose grad
// is null (ops masked away in a sub-supernet, unused paths) are skipped entirely — no weight decay
// and no momentum update — exactly as torch.optim does for p.grad is None.
import { Tensor, keep } from '../tensor.js';
import type { Backend, Storage } from '../backend.js';

export interface SgdOptions { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }

export abstract class Optimizer {
  constructor(readonly params: Tensor[], public lr: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: learning rate ${lr} must be >= 0`);
    const seen = new Set<Tensor>();
    for (const p of params) {
      if (seen.has(p)) throw new Error(`optimizer: parameter ${p.name ?? '#' + p.id} listed twice`);
      seen.add(p);
    }
  }
  abstract step(): void;
  zeroGrad(): void {
    for (const p of this.params) { p.grad?.dispose(); p.grad = null; }
  }
  /** Optimizer state tensors by parameter index, for checkpoints. */
  abstract stateTensors(): Map<string, Tensor>;
  dispose(): void { for (const t of this.stateTensors().values()) t.dispose(); }
}

function stateBuffer(be: Backend, like: Tensor): Tensor {
  const t = keep(Tensor.zeros(be, like.shape));
  return t;
}

export class SGD extends Optimizer {
  readonly momentum: number; readonly dampening: number; readonly nesterov: boolean; readonly weightDecay: number;
  private readonly buffers = new Map<Tensor, Tensor>();
  constructor(params: Tensor[], o: SgdOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.weightDecay = o.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }
  step(): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      const be = p.backend;
      let buf: Storage | null = null;
      if (this.momentum > 0) {
        let b = this.buffers.get(p);
        if (!b) {
          b = stateBuffer(be, p);
          this.buffers.set(p, b);
          // PyTorch starts the buffer at d (not (1-dampening)·d); with a zero buffer the kernel's
          // first update gives (1-dampening)·d, so undo the dampening for the first step.
          be.sgdStep(p.storage, p.grad.storage, b.storage, p.size, {
            lr: this.lr, momentum: this.momentum, dampening: 0, nesterov: this.nesterov, weightDecay: this.weightDecay,
          });
          continue;
        }
        buf = b.storage;
      }
      be.sgdStep(p.storage, p.grad.storage, buf, p.size, {
        lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay,
      });
    }
  }
  stateTensors(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    this.params.forEach((p, i) => { const b = this.buffers.get(p); if (b) m.set(`${i}.momentum_buffer`, b); });
    return m;
  }
  /** Copy momentum buffers from another optimizer over the same parameter list (inheritance at a split). */
  loadStateFrom(other: SGD, map: (p: Tensor) => Tensor | undefined): void {
    for (const p of this.params) {
      const src = map(p);
      const b = src && other.buffers.get(src);
      if (!b) continue;
      const nb = stateBuffer(p.backend, p);
      p.backend.copy(b.storage, nb.storage, p.size);
      this.buffers.get(p)?.dispose();
      this.buffers.set(p, nb);
    }
  }
}

export interface AdamOptions { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number }

export class Adam extends Optimizer {
  readonly beta1: number; readonly beta2: number; readonly eps: number; readonly weightDecay: number;
  private readonly state = new Map<Tensor, { m: Tensor; v: Tensor; step: number }>();
  constructor(params: Tensor[], o: AdamOptions) {
    super(params, o.lr);
    [this.beta1, this.beta2] = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    for (const b of [this.beta1, this.beta2]) if (!(b >= 0 && b < 1)) throw new Error(`Adam: beta ${b} must be in [0, 1)`);
  }
  step(): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      let s = this.state.get(p);
      if (!s) { s = { m: stateBuffer(p.backend, p), v: stateBuffer(p.backend, p), step: 0 }; this.state.set(p, s); }
      s.step++;
      p.backend.adamStep(p.storage, p.grad.storage, s.m.storage, s.v.storage, p.size, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: s.step,
      });
    }
  }
  stateTensors(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    this.params.forEach((p, i) => { const s = this.state.get(p); if (s) { m.set(`${i}.exp_avg`, s.m); m.set(`${i}.exp_avg_sq`, s.v); } });
    return m;
  }
  stepCounts(): number[] { return this.params.map((p) => this.state.get(p)?.step ?? 0); }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)), the norm
 * taken over all of them together. Runs on the device: no read-back.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): void {
  const withGrad = params.filter((p) => p.grad);
  if (withGrad.length === 0) return;
  const be = withGrad[0].backend;
  const sq = be.alloc(withGrad.length), factor = be.alloc(1);
  withGrad.forEach((p, i) => be.sumSquares(p.grad!.storage, sq, i, p.size));
  be.clipFactor(sq, withGrad.length, maxNorm, factor);
  for (const p of withGrad) be.scaleInPlaceByElement(p.grad!.storage, factor, 0, p.size);
  be.release(sq);
  be.release(factor);
}

/** Global L2 norm of the gradients (one read). */
export async function gradNorm(params: Tensor[]): Promise<number> {
  const withGrad = params.filter((p) => p.grad);
  if (withGrad.length === 0) return 0;
  const be = withGrad[0].backend;
  const sq = be.alloc(withGrad.length);
  withGrad.forEach((p, i) => be.sumSquares(p.grad!.storage, sq, i, p.size));
  const v = await be.read(sq, withGrad.length);
  be.release(sq);
  return Math.sqrt(v.reduce((s, x) => s + x, 0));
}

/** Cosine annealing (torch CosineAnnealingLR closed form): lr at epoch e of T. */
export function cosineLr(epoch: number, totalEpochs: number, baseLr: number, minLr = 0): number {
  if (totalEpochs <= 0) return baseLr;
  return minLr + (baseLr - minLr) * (1 + Math.cos(Math.PI * Math.min(epoch, totalEpochs) / totalEpochs)) / 2;
}
