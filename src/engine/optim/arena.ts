// Parameter arenas: every parameter of an optimizer in one device buffer, every gradient in a
// second one at the same offsets, so that SGD and gradient clipping each run as one launch over
// all parameters (Backend.sgdStepFlat / clipGradNormFlat) instead of one per few tensors.
//
// Packing: the parameters' contents move into views of the parameter arena (Backend.view; a
// parameter tensor keeps its identity, only its memory moves). Gradients get there without copies:
// every parameter has a GradHome, its place in the gradient arena, which backward offers to the
// rule producing the parameter's first gradient of a pass (FreshGrad: conv, linear and BN rules
// write their weight gradients straight into it). A gradient that arrives elsewhere anyway (a rule
// that does not take the offer, gradients accumulated over two passes, a gradient set by hand) is
// copied into its home by `gather()` before the flat launch.
//
// Which parameters a launch updates is a segment table (start, length, flags): the parameters that
// have a gradient this step, adjacent ones merged — one segment when all have one (DARTS), a few
// dozen for a sampled path (RSPS, GDAS), so parameters without a gradient are skipped exactly as
// torch.optim skips p.grad None. Tables are uploaded when the pattern changes and cached.
import { SharedStorage, Tensor, keep, type GradHome } from '../tensor.js';
import { flatSegments, type Backend, type Storage } from '../backend.js';

/** One parameter's place in the gradient arena. */
class ArenaGradHome implements GradHome {
  /** the storage handed out last (busy while alive) */
  private handed: SharedStorage | null = null;
  constructor(readonly arena: ParamArena, readonly index: number) {}
  take(): Tensor | null {
    if (this.handed?.alive || this.arena.disposed) return null;
    const p = this.arena.params[this.index];
    this.handed = SharedStorage.view(this.arena.grads, this.arena.offsets[this.index], p.size);
    return new Tensor(this.handed, p.shape);
  }
  /** Whether `t` is (a view of) the tensor handed out last. */
  holds(t: Tensor): boolean { return this.handed !== null && t.shared === this.handed; }
}

export interface SegmentTable { table: Storage; nseg: number }

/** Cached segment tables at most (a sampled path changes the pattern every step). */
const MAX_TABLES = 8;

export class ParamArena {
  /** offset of each parameter in every arena (a multiple of the backend's view alignment) */
  readonly offsets: number[];
  /** values per arena (each parameter's size rounded up to the alignment, summed) */
  readonly total: number;
  /** the parameter arena (the parameters' storages are views of it) */
  readonly values: SharedStorage;
  /** the gradient arena (the homes' views) */
  readonly grads: SharedStorage;
  disposed = false;
  /** gradients copied into their homes by gather() since creation (0 when every rule writes in place) */
  strayCopies = 0;
  private readonly homes: ArenaGradHome[];
  private readonly tables = new Map<string, SegmentTable>();

  /** further arenas at the same offsets (an optimizer's state: SGD's momenta), zero-filled */
  readonly extras: SharedStorage[];

  private constructor(readonly backend: Backend, readonly params: readonly Tensor[], offsets: number[], total: number,
    arenas: SharedStorage[]) {
    this.offsets = offsets;
    this.total = total;
    [this.values, this.grads, ...this.extras] = arenas;
    // zero-filled: the padding between parameters stays zero and is never in a segment
    for (const a of arenas) backend.fill(a.storage, 0, total);
    params.forEach((p, i) => p.shared.moveInto(this.values, this.offsets[i]));
    this.homes = params.map((p, i) => {
      const h = new ArenaGradHome(this, i);
      p.gradHome = h;
      return h;
    });
  }

  /**
   * Pack `params` into a new arena with `extra` further arenas, or null when they cannot share
   * one: none, different backends, an empty tensor, a storage two of them share, one whose
   * contents are still deferred, or an arena larger than the device can bind (then nothing moved).
   */
  static create(params: readonly Tensor[], extra = 0): ParamArena | null {
    if (params.length === 0) return null;
    const backend = params[0].backend;
    const storages = new Set<SharedStorage>();
    for (const p of params) {
      if (p.backend !== backend || p.size === 0 || p.isDisposed || p.deferred || storages.has(p.shared)) return null;
      storages.add(p.shared);
    }
    const align = backend.viewAlignment;
    const offsets: number[] = [];
    let total = 0;
    for (const p of params) {
      offsets.push(total);
      total += Math.ceil(p.size / align) * align;
    }
    const arenas: SharedStorage[] = [];
    try {
      for (let k = 0; k < 2 + extra; k++) arenas.push(new SharedStorage(backend, backend.alloc(total)));
    } catch {
      // beyond maxStorageBufferBindingSize / maxBufferSize: the per-tensor path serves
      for (const a of arenas) a.release();
      return null;
    }
    return new ParamArena(backend, params, offsets, total, arenas);
  }

  /** Whether every parameter still lives here (none was packed into another arena since). */
  get intact(): boolean {
    return !this.disposed && this.params.every((p, i) => p.shared.viewBase === this.values && p.gradHome === this.homes[i]);
  }

  /**
   * Make every parameter's gradient live in its home (copying those that arrived elsewhere);
   * false when that is impossible (the arena is no longer intact, or a home is still held by a
   * gradient of an earlier step that someone kept) — then use the per-tensor path.
   */
  gather(): boolean {
    if (!this.intact) return false;
    const be = this.backend;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      if (!p.grad || this.homes[i].holds(p.grad)) continue;
      const home = this.homes[i].take();
      if (!home) return false;
      be.copy(p.grad.storage, home.storage, p.size);
      p.grad.dispose();
      p.grad = keep(home);
      this.strayCopies++;
    }
    return true;
  }

  /** The segment table of the parameters that have a gradient, with per-parameter flags (adjacent
   *  parameters merge when their flags agree and no padding separates them). */
  segments(flagsOf: (i: number) => number = () => 0): SegmentTable {
    const segs: { start: number; length: number; flags: number }[] = [];
    let key = '';
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      const flags = flagsOf(i), start = this.offsets[i];
      const last = segs[segs.length - 1];
      if (last && last.flags === flags && last.start + last.length === start) last.length += p.size;
      else segs.push({ start, length: p.size, flags });
      key += `${i}:${flags},`;
    });
    let t = this.tables.get(key);
    if (t) {
      this.tables.delete(key); // most recently used last
      this.tables.set(key, t);
      return t;
    }
    t = { table: this.backend.upload(flatSegments(segs)), nseg: segs.length };
    this.tables.set(key, t);
    if (this.tables.size > MAX_TABLES) {
      const [oldKey, old] = this.tables.entries().next().value!;
      this.backend.release(old.table);
      this.tables.delete(oldKey);
    }
    return t;
  }

  /** Let go of the arenas (parameter views keep theirs alive until the parameters are disposed). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tables.values()) this.backend.release(t.table);
    this.tables.clear();
    this.params.forEach((p, i) => { if (p.gradHome === this.homes[i]) p.gradHome = null; });
    this.values.release();
    this.grads.release();
    for (const a of this.extras) a.release();
  }
}

/** The arena `params` fill exactly (every one of its parameters, in any order), else null. */
export function arenaOf(params: readonly Tensor[]): ParamArena | null {
  const first = params[0]?.gradHome;
  if (!(first instanceof ArenaGradHome)) return null;
  const arena = first.arena;
  if (arena.params.length !== params.length) return null;
  const seen = new Set<number>();
  for (const p of params) {
    const h = p.gradHome;
    if (!(h instanceof ArenaGradHome) || h.arena !== arena || seen.has(h.index)) return null;
    seen.add(h.index);
  }
  return arena;
}
