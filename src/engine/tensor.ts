// Tensors, their device memory lifetime, and the recording half of autograd.
//
// Memory: device buffers are not garbage collected in any useful time frame, so lifetimes are
// explicit. A tensor holds a reference-counted `SharedStorage`; views (reshape) share it. A storage
// goes back to the backend's pool when its last holder lets go. Holders are tensors (until
// `dispose()`) and autograd nodes that saved it for backward (until backward has used it).
// `tidy(fn)` disposes every tensor created inside fn except what fn returns — the usual shape of a
// training step is `tidy(() => { forward; backward(loss); return stats })`.
//
// Autograd recording: an op whose inputs need gradients attaches a `GradNode` to its output: the
// input tensors, the storages it saved, and a closure mapping the output gradient to input
// gradients. src/engine/autograd.ts walks these nodes in reverse topological order.
import type { Backend, Storage } from './backend.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The recipe of a storage whose contents were fused away (a BN output only a weighted sum reads, a
 * gradient that is another one times a weight): `run(out)` encodes the kernel that computes them.
 * `inputs` are the storages it reads, retained until it has run or been dropped. Consumers that
 * know the kind read the inputs directly and never make the storage real.
 */
export interface Deferred {
  readonly kind: string;
  readonly inputs: readonly SharedStorage[];
  run(out: Storage): void;
}

/** A storage plus a reference count; released to the backend pool when the count reaches 0. A
 *  deferred storage allocates and computes its contents on first access to `storage`. Its inputs
 *  are private to the fused op that made it (never written in place), so computing late gives the
 *  values computing early would have. */
export class SharedStorage {
  private refs = 1;
  private real: Storage | null;
  private recipe: Deferred | null;
  /** the storage a view's memory belongs to, held until the view is released */
  private base: SharedStorage | null = null;
  readonly length: number;
  constructor(readonly backend: Backend, storage: Storage | null, deferred?: { recipe: Deferred; length: number }) {
    this.real = storage;
    this.recipe = storage ? null : deferred?.recipe ?? null;
    if (!storage && !this.recipe) throw new Error('internal: a SharedStorage needs a storage or a recipe');
    this.length = storage ? storage.length : deferred!.length;
  }
  get storage(): Storage {
    if (!this.real) {
      if (this.refs <= 0) throw new Error('internal: materialising a released storage');
      const recipe = this.recipe!;
      const s = this.backend.alloc(this.length);
      recipe.run(s);
      this.real = s;
      this.recipe = null;
      for (const i of recipe.inputs) i.release();
    }
    return this.real;
  }
  /** `n` values of `base` from `offset` on (Backend.view): shares base's memory, keeps base alive. */
  static view(base: SharedStorage, offset: number, n: number): SharedStorage {
    const v = new SharedStorage(base.backend, base.backend.view(base.storage, offset, n));
    v.base = base.retain();
    return v;
  }

  /** Move the contents into a view of `base` at `offset` (copied; the old memory is released):
   *  every tensor sharing this storage sees the move. Used to pack parameters into an arena. */
  moveInto(base: SharedStorage, offset: number): void {
    if (this.refs <= 0) throw new Error('internal: moving a released storage');
    const old = this.storage;
    const v = this.backend.view(base.storage, offset, this.length);
    this.backend.copy(old, v, this.length);
    this.backend.release(old);
    this.real = v;
    this.base?.release();
    this.base = base.retain();
  }

  /** The storage whose memory this one views (SharedStorage.view, moveInto), else null. */
  get viewBase(): SharedStorage | null { return this.base; }

  /** The recipe while the contents are still deferred, else null. */
  get deferred(): Deferred | null { return this.recipe; }
  retain(): this {
    if (this.refs <= 0) throw new Error('internal: retain of a released storage');
    this.refs++;
    return this;
  }
  release(): void {
    if (this.refs <= 0) throw new Error('internal: storage released twice');
    if (--this.refs === 0) {
      if (this.real) this.backend.release(this.real);
      else for (const i of this.recipe!.inputs) i.release();
      this.recipe = null;
      this.base?.release();
      this.base = null;
    }
  }
  get alive(): boolean { return this.refs > 0; }
  get refCount(): number { return this.refs; }
}

/**
 * Where a rule may accumulate an input's gradient in place: `target(i)` is the gradient input i has
 * collected so far when the rule may add to it in place (a real storage owned by that gradient
 * alone), else null. A rule that adds its contribution into it returns that very tensor for input i.
 */
export type GradTargets = (i: number) => Tensor | null;

/**
 * Where a rule may write an input's gradient instead of a new tensor: `fresh(i)` is an empty
 * tensor of input i's shape (a leaf's place in its optimizer's gradient arena, optim/arena.ts) or
 * null. A rule that takes it must overwrite all of it and return that very tensor for input i.
 */
export type FreshGrad = (i: number) => Tensor | null;

/** Gradient rule of one recorded op: output gradient → one gradient (or null) per input. */
export type BackwardFn = (dy: Tensor, targets: GradTargets, fresh: FreshGrad) => (Tensor | null)[];

/** A leaf's place for its gradient (optim/arena.ts): backward offers it to the rule that makes the
 *  leaf's first gradient of a pass (FreshGrad). */
export interface GradHome {
  /** a tensor over the place, or null while the tensor handed out last is still alive */
  take(): Tensor | null;
}

export class GradNode {
  constructor(
    readonly op: string,
    readonly inputs: Tensor[],
    private saved: SharedStorage[],
    private readonly fn: BackwardFn,
  ) {}
  /** Run the rule once, then let go of everything saved (backward never revisits a node). */
  run(dy: Tensor, targets: GradTargets = () => null, fresh: FreshGrad = () => null): (Tensor | null)[] {
    if (this.used) throw new Error(`autograd: backward through '${this.op}' a second time; ` +
      'the saved tensors were already released (run the forward pass again)');
    this.used = true;
    try {
      return this.fn(dy, targets, fresh);
    } finally {
      this.releaseSaved();
    }
  }
  releaseSaved(): void {
    for (const s of this.saved) s.release();
    this.saved = [];
  }
  private used = false;
}

// ---- scopes ---------------------------------------------------------------------------------

const scopeStack: Set<Tensor>[] = [];

function track(t: Tensor): void {
  const top = scopeStack[scopeStack.length - 1];
  if (top) top.add(t);
}

type Kept = Tensor | Kept[] | { [k: string]: Kept } | number | string | boolean | null | undefined | void;

function collect(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

/** Run fn; dispose every tensor created inside it except those reachable from its result
 *  (tensors, arrays and plain objects are searched), which move to the enclosing scope. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopeStack.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopeStack.pop();
  }
  if (result instanceof Promise) throw new Error('tidy: fn must be synchronous (await outside of tidy)');
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) {
    if (keep.has(t)) track(t);
    else t.dispose();
  }
  return result;
}

/** Exclude t from automatic disposal by the enclosing tidy scopes. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopeStack) s.delete(t);
  return t;
}

// ---- grad mode ------------------------------------------------------------------------------

let gradEnabled = true;

/** Run fn without recording autograd nodes (evaluation, optimizer updates, weight surgery). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean { return gradEnabled; }

// ---- the tensor -----------------------------------------------------------------------------

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  /** Leaf tensors with requiresGrad collect gradients in `grad`; op outputs get `node`. */
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** set when backward consumed this tensor's node: graphs recorded earlier can no longer reach its inputs */
  graphReleased = false;
  /** optional name, used in error messages and checkpoints */
  name?: string;
  /** a leaf's gradient place in its optimizer's arena (optim/arena.ts), offered to gradient rules */
  gradHome: GradHome | null = null;
  private disposed = false;

  constructor(readonly shared: SharedStorage, readonly shape: Shape, requiresGrad = false) {
    this.size = shapeSize(shape);
    if (shared.length < this.size) {
      throw new Error(`internal: storage of ${shared.length} values for shape ${shapeStr(shape)}`);
    }
    this.requiresGrad = requiresGrad;
    track(this);
  }

  get backend(): Backend { return this.shared.backend; }
  get storage(): Storage {
    if (this.disposed) throw new Error(`tensor ${this.name ?? '#' + this.id} ${shapeStr(this.shape)} used after dispose()`);
    return this.shared.storage;
  }
  get isDisposed(): boolean { return this.disposed; }
  /** The recipe of a fused-away storage not computed yet (see Deferred), else null. */
  get deferred(): Deferred | null { return this.disposed ? null : this.shared.deferred; }
  get rank(): number { return this.shape.length; }

  /** A new tensor of the given shape with unspecified contents. */
  static empty(backend: Backend, shape: Shape): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape ${shapeStr(shape)}`);
    }
    return new Tensor(new SharedStorage(backend, backend.alloc(shapeSize(shape))), shape);
  }

  /** A tensor whose contents are computed by `recipe` when first read (fused consumers may read
   *  the recipe's inputs instead). The recipe's inputs must be retained for it by the caller. */
  static deferred(backend: Backend, shape: Shape, recipe: Deferred): Tensor {
    return new Tensor(new SharedStorage(backend, null, { recipe, length: shapeSize(shape) }), shape);
  }

  static zeros(backend: Backend, shape: Shape): Tensor { return Tensor.full(backend, shape, 0); }

  static full(backend: Backend, shape: Shape, value: number): Tensor {
    const t = Tensor.empty(backend, shape);
    backend.fill(t.storage, value, t.size);
    return t;
  }

  static fromArray(backend: Backend, data: ArrayLike<number>, shape?: Shape): Tensor {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    const sh = shape ?? [arr.length];
    if (shapeSize(sh) !== arr.length) {
      throw new Error(`fromArray: ${arr.length} values do not fill shape ${shapeStr(sh)}`);
    }
    return new Tensor(new SharedStorage(backend, backend.upload(arr)), sh);
  }

  /** Copy to the host. */
  async data(): Promise<Float32Array> {
    return this.backend.read(this.storage, this.size);
  }

  /** Mark as a trainable leaf. */
  param(name?: string): this {
    this.requiresGrad = true;
    if (name) this.name = name;
    return this;
  }

  /** Same storage, new shape (no copy); gradients flow through. */
  reshape(shape: Shape): Tensor {
    const resolved = resolveShape(shape, this.size, this.shape);
    const out = new Tensor(this.shared.retain(), resolved);
    if (needsGrad(this)) {
      const inShape = this.shape;
      record(out, 'reshape', [this], [], (dy) => [dy.reshape(inShape)]);
    }
    return out;
  }

  /** A detached copy-free view: same storage, no autograd history. */
  detach(): Tensor {
    return new Tensor(this.shared.retain(), this.shape);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.shared.release();
    // The node (if any) still holds what it saved; drop it so an abandoned graph frees memory.
    if (this.node) { this.node.releaseSaved(); this.node = null; }
    for (const s of scopeStack) s.delete(this);
  }

  toString(): string {
    return `Tensor(${shapeStr(this.shape)}${this.name ? ' ' + this.name : ''})`;
  }
}

function resolveShape(shape: Shape, size: number, from: Shape): number[] {
  const out = [...shape];
  const free = out.indexOf(-1);
  if (free >= 0) {
    const rest = shapeSize(out.filter((_, i) => i !== free));
    if (rest === 0 || size % rest !== 0) {
      throw new Error(`reshape: cannot view ${shapeStr(from)} as ${shapeStr(shape)}`);
    }
    out[free] = size / rest;
  }
  if (shapeSize(out) !== size) throw new Error(`reshape: cannot view ${shapeStr(from)} as ${shapeStr(shape)}`);
  return out;
}

/** Whether an op on these inputs must record a gradient node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && (t.requiresGrad || t.node)) return true;
  return false;
}

/** Attach a gradient rule to `out`. `save` lists the tensors whose storage backward reads: they
 *  are retained until the rule has run, even if the tensors themselves are disposed meanwhile. */
export function record(out: Tensor, op: string, inputs: Tensor[], save: (Tensor | SharedStorage)[], fn: BackwardFn): void {
  out.node = new GradNode(op, inputs, save.map((t) => (t instanceof Tensor ? t.shared : t).retain()), fn);
}

/** Copy several tensors (one backend) to the host in one device round trip (Backend.readMany). */
export async function readTensors(ts: readonly Tensor[]): Promise<Float32Array[]> {
  if (ts.length === 0) return [];
  const backend = assertSameBackend('readTensors', ...ts);
  return backend.readMany(ts.map((t) => ({ s: t.storage, n: t.size })));
}

/** Allocate an output tensor that must survive scopes (gradients, optimizer state). */
export function untracked(backend: Backend, shape: Shape): Tensor {
  return keep(Tensor.empty(backend, shape));
}

export function assertSameBackend(op: string, ...ts: (Tensor | null | undefined)[]): Backend {
  const first = ts.find((t) => t) as Tensor;
  for (const t of ts) {
    if (t && t.backend !== first.backend) throw new Error(`${op}: tensors live on different backends`);
  }
  return first.backend;
}
