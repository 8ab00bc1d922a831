// Optimizers that update parameters on the device, with PyTorch semantics. Parameters whose grad
// is null (ops masked away in a sub-supernet, unused paths) are skipped entirely — no weight decay
// and no momentum update — exactly as torch.optim does for p.grad is None.
import { SharedStorage, Tensor, keep } from '../tensor.js';
import { SEGMENT_FRESH_MOMENTUM, type Backend, type SgdItem, type Storage } from '../backend.js';
import { ParamArena, arenaOf } from './arena.js';
import { switches } from '../switches.js';

export interface SgdOptions {
  lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number;
  /** pack the parameters into an arena and update them with one launch (with momentum only;
   *  default: switches.fusion and .flatOptimizer; see optim/arena.ts — the parameters' memory
   *  moves there) */
  flat?: boolean;
}

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

/** One optimizer state entry to import: host values (from a checkpoint) or a tensor (copied on the device). */
export type StateValue = Float32Array | Tensor;

/** A state buffer for parameter `p` holding `value` (copied; the caller keeps `value`). */
function importBuffer(p: Tensor, value: StateValue, what: string): Tensor {
  const n = value instanceof Tensor ? value.size : value.length;
  if (n !== p.size) throw new Error(`${what}: ${n} values for parameter ${p.name ?? '#' + p.id} of ${p.size}`);
  if (value instanceof Tensor) {
    const t = keep(Tensor.empty(p.backend, p.shape));
    p.backend.copy(value.storage, t.storage, p.size);
    return t;
  }
  return keep(Tensor.fromArray(p.backend, value, p.shape));
}

/** Parse the keys of `stateTensors()` (`<param index>.<what>`), checking index and name. */
function groupStateEntries(
  entries: Iterable<readonly [string, StateValue]>, nParams: number, known: readonly string[], who: string,
): Map<number, Map<string, StateValue>> {
  const out = new Map<number, Map<string, StateValue>>();
  for (const [key, value] of entries) {
    const dot = key.indexOf('.');
    const index = dot > 0 ? Number(key.slice(0, dot)) : NaN;
    const what = key.slice(dot + 1);
    if (!Number.isInteger(index) || index < 0 || index >= nParams || String(index) !== key.slice(0, dot)) {
      throw new Error(`${who}.loadStateTensors: key '${key}' does not name a parameter index in 0..${nParams - 1}`);
    }
    if (!known.includes(what)) throw new Error(`${who}.loadStateTensors: key '${key}': unknown state '${what}' (known: ${known.join(', ')})`);
    let m = out.get(index);
    if (!m) out.set(index, m = new Map());
    if (m.has(what)) throw new Error(`${who}.loadStateTensors: key '${key}' given twice`);
    m.set(what, value);
  }
  return out;
}

export class SGD extends Optimizer {
  readonly momentum: number; readonly dampening: number; readonly nesterov: boolean; readonly weightDecay: number;
  private readonly buffers = new Map<Tensor, Tensor>();
  /** the parameters' arena (flat mode) and the momentum arena at the same offsets */
  readonly arena: ParamArena | null = null;
  private readonly momenta: SharedStorage | null = null;
  /** steps taken by the flat launch and by the per-tensor path (tests, benchmarks) */
  readonly stepsBy = { flat: 0, multi: 0 };
  constructor(params: Tensor[], o: SgdOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.weightDecay = o.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
    }
    if ((o.flat ?? (switches.fusion && switches.flatOptimizer)) && this.momentum > 0) {
      // one extra arena: the momentum buffers (a new buffer's first update ignores what its place
      // held, flag SEGMENT_FRESH_MOMENTUM)
      this.arena = ParamArena.create(params, 1);
      this.momenta = this.arena?.extras[0] ?? null;
    }
  }

  /** A momentum buffer for parameter i: its place in the momentum arena in flat mode. */
  private newBuffer(p: Tensor): Tensor {
    const i = this.arena ? this.arena.params.indexOf(p) : -1;
    if (i < 0) return stateBuffer(p.backend, p);
    return keep(new Tensor(SharedStorage.view(this.momenta!, this.arena!.offsets[i], p.size), p.shape));
  }

  /** Put `t`'s values in p's buffer slot (the arena's place in flat mode); takes ownership of t. */
  private adoptBuffer(p: Tensor, t: Tensor): Tensor {
    if (!this.arena) return t;
    const b = this.newBuffer(p);
    p.backend.copy(t.storage, b.storage, p.size);
    t.dispose();
    return b;
  }

  step(): void {
    if (this.momentum > 0 && switches.fusion) {
      if (this.arena && this.stepFlat()) { this.stepsBy.flat++; return; }
      this.stepsBy.multi++;
      this.stepMulti();
      return;
    }
    for (const p of this.params) {
      if (!p.grad) continue;
      const be = p.backend;
      let buf: Storage | null = null;
      if (this.momentum > 0) {
        let b = this.buffers.get(p);
        if (!b) {
          b = this.zeroedBuffer(p);
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
  /** The same update as one launch over the arenas; false (nothing done) when the arena cannot
   *  be used this step (ParamArena.gather). */
  private stepFlat(): boolean {
    const arena = this.arena!;
    if (!arena.gather()) return false;
    const fresh = arena.params.map((p) => !!p.grad && !this.buffers.has(p));
    const { table, nseg } = arena.segments((i) => (fresh[i] ? SEGMENT_FRESH_MOMENTUM : 0));
    arena.params.forEach((p, i) => { if (fresh[i]) this.buffers.set(p, this.newBuffer(p)); });
    if (nseg === 0) return true;
    arena.backend.sgdStepFlat(arena.values.storage, arena.grads.storage, this.momenta!.storage, table, nseg, {
      lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay,
    });
    return true;
  }

  /** The same update as the per-parameter loop, with multi-tensor launches (a few for all
   *  parameters): parameters getting their first buffer in one set (dampening 0, see below), the
   *  others in another. */
  private stepMulti(): void {
    const fresh: SgdItem[] = [], old: SgdItem[] = [];
    let be: Backend | null = null;
    for (const p of this.params) {
      if (!p.grad) continue;
      be ??= p.backend;
      let b = this.buffers.get(p);
      const list = b ? old : fresh;
      if (!b) { b = this.zeroedBuffer(p); this.buffers.set(p, b); }
      list.push({ param: p.storage, grad: p.grad.storage, momBuf: b.storage, n: p.size });
    }
    if (!be) return;
    const hp = { lr: this.lr, momentum: this.momentum, nesterov: this.nesterov, weightDecay: this.weightDecay };
    // a zero buffer's first update with dampening 0 gives PyTorch's buf = d
    if (fresh.length) be.sgdStepMulti(fresh, { ...hp, dampening: 0 });
    if (old.length) be.sgdStepMulti(old, { ...hp, dampening: this.dampening });
  }

  /** A new buffer holding zeros (the per-tensor kernels add into it). */
  private zeroedBuffer(p: Tensor): Tensor {
    const b = this.newBuffer(p);
    if (this.arena) p.backend.fill(b.storage, 0, p.size);
    return b;
  }

  stateTensors(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    this.params.forEach((p, i) => { const b = this.buffers.get(p); if (b) m.set(`${i}.momentum_buffer`, b); });
    return m;
  }

  override dispose(): void {
    super.dispose();
    this.buffers.clear();
    this.arena?.dispose();
  }
  /**
   * The inverse of `stateTensors()`: replace the whole state with `entries` (`<param index>.momentum_buffer`
   * → values). Parameters without an entry get no buffer, exactly as before their first step (the
   * first step then starts the buffer at the gradient, as PyTorch). Values are copied. Everything is
   * checked before anything changes.
   */
  loadStateTensors(entries: Iterable<readonly [string, StateValue]>): void {
    const grouped = groupStateEntries(entries, this.params.length, ['momentum_buffer'], 'SGD');
    if (grouped.size > 0 && !(this.momentum > 0)) throw new Error('SGD.loadStateTensors: momentum buffers given to an SGD without momentum');
    const fresh = new Map<Tensor, Tensor>();
    try {
      for (const [i, m] of grouped) fresh.set(this.params[i], importBuffer(this.params[i], m.get('momentum_buffer')!, `SGD.loadStateTensors: ${i}.momentum_buffer`));
    } catch (e) {
      for (const t of fresh.values()) t.dispose();
      throw e;
    }
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const [p, b] of fresh) this.buffers.set(p, this.adoptBuffer(p, b));
  }

  /** Copy momentum buffers from another optimizer over the same parameter list (inheritance at a split). */
  loadStateFrom(other: SGD, map: (p: Tensor) => Tensor | undefined): void {
    for (const p of this.params) {
      const src = map(p);
      const b = src && other.buffers.get(src);
      if (!b) continue;
      const nb = this.newBuffer(p);
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

  /**
   * The inverse of `stateTensors()` + `stepCounts()`: replace the whole state. `entries` holds
   * `<param index>.exp_avg` and `<param index>.exp_avg_sq` (both or neither per parameter), `steps` one
   * count per parameter: > 0 exactly for the parameters with moments (a parameter with step 0 has no
   * state, as before its first update). Values are copied; everything is checked before anything changes.
   */
  loadStateTensors(entries: Iterable<readonly [string, StateValue]>, steps: readonly number[]): void {
    const grouped = groupStateEntries(entries, this.params.length, ['exp_avg', 'exp_avg_sq'], 'Adam');
    if (!Array.isArray(steps) || steps.length !== this.params.length) {
      throw new Error(`Adam.loadStateTensors: need ${this.params.length} step counts, got ${Array.isArray(steps) ? steps.length : typeof steps}`);
    }
    steps.forEach((s, i) => {
      if (!Number.isSafeInteger(s) || s < 0) throw new Error(`Adam.loadStateTensors: step count ${s} of parameter ${i} is not a non-negative integer`);
      const m = grouped.get(i);
      if (s > 0 && (!m || m.size !== 2)) throw new Error(`Adam.loadStateTensors: parameter ${i} has step ${s} but not both exp_avg and exp_avg_sq`);
      if (s === 0 && m) throw new Error(`Adam.loadStateTensors: parameter ${i} has moments but step count 0`);
    });
    const fresh = new Map<Tensor, { m: Tensor; v: Tensor; step: number }>();
    try {
      for (const [i, g] of grouped) {
        const p = this.params[i];
        const m = importBuffer(p, g.get('exp_avg')!, `Adam.loadStateTensors: ${i}.exp_avg`);
        let v: Tensor;
        try { v = importBuffer(p, g.get('exp_avg_sq')!, `Adam.loadStateTensors: ${i}.exp_avg_sq`); } catch (e) { m.dispose(); throw e; }
        fresh.set(p, { m, v, step: steps[i] });
      }
    } catch (e) {
      for (const s of fresh.values()) { s.m.dispose(); s.v.dispose(); }
      throw e;
    }
    for (const s of this.state.values()) { s.m.dispose(); s.v.dispose(); }
    this.state.clear();
    for (const [p, s] of fresh) this.state.set(p, s);
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)), the norm
 * taken over all of them together. Runs on the device: no read-back.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): void {
  const withGrad = params.filter((p) => p.grad);
  if (withGrad.length === 0) return;
  const be = withGrad[0].backend;
  const arena = switches.fusion ? arenaOf(params) : null;
  if (arena?.gather()) {
    // the gradients are one arena: two launches for all of them
    const { table, nseg } = arena.segments();
    be.clipGradNormFlat(arena.grads.storage, table, nseg, maxNorm);
    return;
  }
  if (switches.fusion) {
    // multi-tensor: a few launches for all gradients
    const refs = withGrad.map((p) => ({ s: p.grad!.storage, n: p.size }));
    const total = be.alloc(1), factor = be.alloc(1);
    be.sumSquaresMulti(refs, total);
    be.clipFactor(total, 1, maxNorm, factor);
    be.scaleInPlaceByElementMulti(refs, factor, 0);
    be.release(total);
    be.release(factor);
    return;
  }
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
