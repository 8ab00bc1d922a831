// The WebGPU runtime under every WGSL kernel: command batching, pipeline and bind-group caches,
// uniform parameters, a size-bucketed buffer pool, uploads and readback, and error reporting.
//
// Ordering model (why the hazards below are handled the way they are):
//   - Dispatches are encoded into ONE open command encoder, inside one open compute pass (measured on
//     lavapipe: one pass ~18 µs per tiny dispatch vs ~22 µs with a pass per dispatch), and submitted
//     every `batchSize` dispatches or on read/flush/sync. WebGPU keeps dispatch order within and
//     across command buffers, so a storage released right after encoding a dispatch that reads it can
//     be handed to a later dispatch that writes it.
//   - `queue.writeBuffer` executes BEFORE command buffers submitted after it. A write into a buffer
//     that unsubmitted commands still use would therefore travel back in time; `write` flushes first
//     when the target buffer was used in the open batch (tracked per buffer by submit epoch).
//   - Buffers are destroyed only right after a submit (pool trimming, dispose), never while the open
//     encoder may reference them.
//
// Uniforms and bind groups: creating a bind group costs ~55 µs on lavapipe and a buffer ~65 µs,
// against ~3.5 µs for a small writeBuffer. A training step repeats the same (pipeline, buffers,
// params) tuples, so bind groups are cached by (pipeline, buffer ids) with a few "variants" per key,
// each owning a 256-byte uniform slot: same params → reuse as is; new params → rewrite the slot of a
// variant not used in the open batch (safe: its earlier users are already submitted, and queue order
// puts the write after them); otherwise a new variant. Slots are recycled only after a submit.
//
// Errors: every batch runs inside validation and out-of-memory error scopes; the popped errors (and
// device loss, and uncaptured errors) are recorded with the labels of the batch's dispatches, and the
// next runtime call — or the pending read/sync — throws a GpuError carrying the message. A validation
// error is reported once; device loss is permanent.
import type { Storage, MemoryStats } from '../backend.js';
import { GpuError, requestGpuDevice, type AdapterDescription, type RequestDeviceOptions } from './device.js';
import { SHADERS } from './shaders.generated.js';

export interface GpuStorage extends Storage {
  readonly buffer: GPUBuffer;
  readonly length: number;
}

/** Uniform parameters. The WGSL struct declares ALL u32 fields first (in this order), then all i32
 *  fields, then all f32 fields; each 4 bytes; the runtime pads the block to a multiple of 16 bytes. */
export interface ParamBlock { u?: number[]; i?: number[]; f?: number[] }

export interface DispatchSpec {
  /** key of SHADERS (shaders/<key>.wgsl) */
  shader: string;
  /** entry point, default 'main' */
  entry?: string;
  /** bound at @group(0) @binding(0..k-1) in this order. With layout 'auto' an entry point's layout
   *  holds exactly the bindings it statically uses, so pass exactly those. The same buffer must not
   *  appear twice in one dispatch. */
  bindings: GpuStorage[];
  /** bindings [0, readOnly) are read-only in the shader and may repeat a buffer (WebGPU allows one
   *  buffer in several read-only storage bindings); default 0: no buffer may appear twice */
  readOnly?: number;
  /** if given: var<uniform> at @group(0) @binding(k), k = bindings.length */
  params?: ParamBlock;
  /** WGSL `override` values; part of the pipeline cache key */
  constants?: Record<string, number>;
  workgroups: [number, number, number];
}

export interface RuntimeOptions extends RequestDeviceOptions {
  /** Dispatches per submitted command buffer (default 32). */
  batchSize?: number;
  /** Bytes the pool may hold for reuse before released buffers are destroyed instead (default 1 GiB). */
  maxPooledBytes?: number;
  /** Cached (pipeline, buffers) bind-group keys kept before the least recently used go (default 4096). */
  maxBindGroupKeys?: number;
}

/** One device buffer owned by the pool. */
interface PoolBuffer {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly id: number;
  /** submit epoch of the last encoded command that used it (== runtime.epoch: still unsubmitted) */
  lastUseEpoch: number;
  /** live captures whose dispatch list uses it: while > 0 the pool never hands it out */
  pins?: number;
}

/** The handle a kernel sees. `slot` is the pooled buffer; `released` guards use after release. A
 *  view (GpuRuntime.view) is a range of another storage's buffer: `offset` values in, `span` values
 *  bound (its length rounded up to the view alignment); it owns nothing — releasing it only ends
 *  the handle. A plain storage has offset 0 and spans its whole buffer. */
class PooledStorage implements GpuStorage {
  released = false;
  constructor(readonly slot: PoolBuffer, readonly length: number, readonly owner: GpuRuntime,
    readonly offset = 0, readonly span = slot.bytes / 4, readonly isView = false) {}
  get buffer(): GPUBuffer { return this.slot.buffer; }
}

/** Whether two storages can touch the same bytes (same buffer, overlapping ranges). */
function overlaps(a: PooledStorage, b: PooledStorage): boolean {
  return a.slot === b.slot && a.offset < b.offset + b.span && b.offset < a.offset + a.span;
}

/** A storage's binding: the whole buffer, or a view's range. */
function bufferBinding(s: PooledStorage): GPUBufferBinding {
  return s.isView ? { buffer: s.slot.buffer, offset: s.offset * 4, size: s.span * 4 } : { buffer: s.slot.buffer };
}

interface UniformSlot { buffer: GPUBuffer; offset: number }

/** Device time of one pipeline label over a profiling window. */
export interface ProfileEntry { label: string; count: number; ns: number }

/** One recorded command of a capture (see GpuRuntime.beginCapture). */
type CapturedOp =
  | { kind: 'dispatch'; pipe: PipelineEntry; bindGroup: GPUBindGroup; words: Uint32Array | null; slots: PoolBuffer[];
    resources: GPUBufferBinding[]; x: number; y: number; z: number }
  | { kind: 'copy'; a: PoolBuffer; b: PoolBuffer; srcByte: number; dstByte: number; bytes: number }
  | { kind: 'write'; slot: PoolBuffer; byteOffset: number; data: Float32Array };

/**
 * A recorded command list (a training step), replayed with `replay()` — no op code, autograd or
 * cache lookups run, the bind groups and uniforms of the recording are reused as they are. Every
 * buffer the recording touches is pinned: the pool hands none of them out again until `dispose()`,
 * so a replay cannot clobber another tensor's data even after the tensors of the recorded step are
 * gone. What a replay does NOT repeat is host-side state (counters, optimizer step numbers, values
 * baked into uniforms such as a learning rate): the caller captures a step whose host-side effects it
 * repeats itself, and records again when a baked value changes.
 */
export class GpuCapture {
  disposed = false;
  /** @internal */ readonly touched: Set<PoolBuffer>;
  constructor(private readonly rt: GpuRuntime, /** @internal */ readonly ops: CapturedOp[], touched: Set<PoolBuffer>,
    /** @internal */ readonly uniforms: GPUBuffer | null) {
    this.touched = touched;
  }
  /** Kernel dispatches and in-stream copies one replay encodes. */
  get dispatches(): number { return this.ops.reduce((n, o) => n + (o.kind === 'write' ? 0 : 1), 0); }
  /** Encode the recorded commands again (submitted in batches like any other work). */
  replay(): void { this.rt.replay(this); }
  /** Unpin the buffers (they go back to the pool if nobody else holds them) and free the uniforms. */
  dispose(): void { this.rt.releaseCapture(this); }
}

interface CaptureRecorder { ops: CapturedOp[]; touched: Set<PoolBuffer> }

/**
 * A kind of launch the runtime may hold back and merge with others of its kind (`GpuRuntime.defer`):
 * `run` encodes the held items, in the order they were deferred, as few launches as it can.
 */
export interface DeferredFamily<T> {
  readonly name: string;
  /** families run in ascending `order` at a flush (default 1): producers first — a family whose
   *  held items read what another family's held items write must run after it */
  readonly order?: number;
  run(rt: GpuRuntime, items: T[]): void;
}

/** A family's place in a flush (DeferredFamily.order, default 1). */
function orderOf(f: DeferredFamily<unknown>): number { return f.order ?? 1; }

interface Profiler {
  querySet: GPUQuerySet;
  capacity: number;
  /** queries written in the open batch */
  used: number;
  /** label of each dispatch of the open batch (queries 2i, 2i+1) */
  labels: string[];
  reads: Promise<void>[];
  totals: Map<string, { count: number; ns: number }>;
}

interface BindVariant {
  bindGroup: GPUBindGroup;
  uniform: UniformSlot | null;
  /** the params' words (empty without params) */
  words: Uint32Array;
  epoch: number;
}

interface BindEntry { variants: BindVariant[]; bufferIds: number[] }

/** `layout`: the pipeline's bind group layout, asked for on the first bind group and kept (each
 *  getBindGroupLayout call is a native call that makes a new wrapper; a bind group is made per cache
 *  miss) */
interface PipelineEntry { pipeline: GPUComputePipeline; id: number; label: string; layout: GPUBindGroupLayout | null }

const STORAGE_USAGE = 0x0080 | 0x0004 | 0x0008; // STORAGE | COPY_SRC | COPY_DST (globals may load late)
const STAGING_USAGE = 0x0001 | 0x0008;          // MAP_READ | COPY_DST
const UNIFORM_USAGE = 0x0040 | 0x0008;          // UNIFORM | COPY_DST
const MAP_READ = 0x0001;
const UNIFORM_SLOT_BYTES = 256;                 // >= minUniformBufferOffsetAlignment everywhere
const UNIFORM_BLOCK_BYTES = 64 * 1024;
const MAX_VARIANTS_PER_KEY = 64;
const MIN_BUFFER_BYTES = 256;
/** readMany copies two ranges of one buffer as one when at most this many bytes lie between them */
const READ_MERGE_GAP_BYTES = 4096;

/** Pool bucket for a byte size: four steps per octave (<= 25% waste), 256 B minimum; above 64 MiB
 *  whole MiB, so a big tensor does not overshoot maxStorageBufferBindingSize by a bucket step. */
export function bucketBytes(bytes: number): number {
  if (bytes <= MIN_BUFFER_BYTES) return MIN_BUFFER_BYTES;
  const MiB = 1 << 20;
  if (bytes > 64 * MiB) return Math.ceil(bytes / MiB) * MiB;
  const octave = 2 ** Math.floor(Math.log2(bytes));
  const step = octave / 4;
  return Math.ceil(bytes / step) * step;
}

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly hasSubgroups: boolean;
  readonly hasTimestamps: boolean;
  readonly info: AdapterDescription;
  /** Whether the adapter is a CPU rasteriser (lavapipe, SwiftShader, WARP): few large workgroups
   *  beat many small ones there (each workgroup has a fixed cost of ~1 µs, measured on lavapipe). */
  readonly software: boolean;
  readonly limits: GPUSupportedLimits;

  private readonly batchSize: number;
  private readonly maxPooledBytes: number;
  private readonly maxBindGroupKeys: number;

  // ---- command state
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** the pipeline last set on the open pass (setPipeline is skipped when it repeats) */
  private passPipeline: PipelineEntry | null = null;
  /** increments on every submit; a buffer with lastUseEpoch === epoch is used by unsubmitted work */
  private epoch = 1;
  private batchDispatches = 0;
  private batchLabels: string[] = [];
  private dispatches = 0;
  private submits = 0;

  // ---- caches
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly generated = new Map<string, string>();
  private readonly pipelines = new Map<string, PipelineEntry>();
  private readonly bindGroups = new Map<string, BindEntry>();
  private readonly uniformBlocks: GPUBuffer[] = [];
  private readonly freeUniformSlots: UniformSlot[] = [];
  private readonly paramWords = new Uint32Array(UNIFORM_SLOT_BYTES / 4);
  private readonly paramInts = new Int32Array(this.paramWords.buffer);
  private readonly paramFloats = new Float32Array(this.paramWords.buffer);

  // ---- memory
  private nextBufferId = 1;
  private readonly freeBuffers = new Map<number, PoolBuffer[]>();
  private readonly freeStaging = new Map<number, GPUBuffer[]>();
  private readonly liveSlots = new Set<PoolBuffer>();
  private destroyAfterSubmit: PoolBuffer[] = [];
  private liveBytes = 0;
  private pooledBytes = 0;
  private peakBytes = 0;
  private created = 0;

  // ---- profiling (see startProfile)
  private profiler: Profiler | null = null;

  // ---- capture / replay (see beginCapture)
  private recorder: CaptureRecorder | null = null;
  /** the params words of the bind group chosen last (encode copies them into a recording) */
  private lastWords = 0;
  /** pinned buffers that no tensor owns any more (released while pinned, or free when pinned) */
  private readonly pinnedIdle = new Set<PoolBuffer>();
  private destroyUniformsAfterSubmit: GPUBuffer[] = [];

  // ---- errors
  private pendingError: GpuError | null = null;
  private fatalError: GpuError | null = null;
  private errorChecks: Promise<void>[] = [];
  private disposed = false;
  // held-back launches (defer): items per family in deferral order, the buffers they touch, and the
  // storages to release once they are encoded
  private deferred = new Map<DeferredFamily<unknown>, unknown[]>();
  private readonly deferredSlots = new Map<PoolBuffer, { range: PooledStorage; family: DeferredFamily<unknown> }[]>();
  private deferredRelease: GpuStorage[] = [];
  /** set while flushDeferred encodes held launches */
  private flushingDeferred = false;

  private constructor(device: GPUDevice, info: AdapterDescription, hasSubgroups: boolean, hasTimestamps: boolean,
    opts: RuntimeOptions) {
    this.device = device;
    this.info = info;
    this.hasSubgroups = hasSubgroups;
    this.hasTimestamps = hasTimestamps;
    this.software = info.isFallbackAdapter || /software|cpu|llvmpipe|lavapipe|swiftshader|warp/i.test(
      `${info.architecture} ${info.device} ${info.description}`);
    this.limits = device.limits;
    this.batchSize = opts.batchSize ?? 32;
    this.maxPooledBytes = opts.maxPooledBytes ?? 2 ** 30;
    this.maxBindGroupKeys = opts.maxBindGroupKeys ?? 4096;
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.recordError(`WebGPU error outside a batch: ${ev.error.message}`);
    };
    void device.lost.then((info) => {
      if (this.disposed) return;
      this.fatalError = new GpuError(`WebGPU device lost (${info.reason}): ${info.message || 'no message'}`);
    });
    this.pushErrorScopes();
  }

  static async create(opts: RuntimeOptions = {}): Promise<GpuRuntime> {
    const h = await requestGpuDevice(opts);
    return new GpuRuntime(h.device, h.info, h.hasSubgroups, h.hasTimestamps, opts);
  }

  // ---- dispatch -------------------------------------------------------------------------------

  /** Encode one dispatch (submitted with its batch). */
  dispatch(spec: DispatchSpec): void {
    const [x, y, z] = spec.workgroups;
    this.encode(spec.shader, spec.entry ?? 'main', spec.bindings, spec.params, spec.constants, 0, x, y, z, spec.readOnly ?? 0);
  }

  /**
   * Hold a launch back so that it can be merged with others of its family (the split-K sums of a
   * backward pass, kernels/split-sum.ts; non-affine BN statistics, kernels/mixed.ts; convolution
   * pairs, kernels/conv-pair.ts). `touches`: every storage it reads or writes. The held launches are
   * encoded (flushDeferred) before anything else binds, copies, writes or reads one of those
   * storages, and at sync, capture boundaries, profiling stops and trims — so results are those of
   * launching at once, given that a family's items only read what families of lower `order` (or
   * earlier, already encoded launches) wrote. Releasing a touched storage returns it to the pool
   * only after the launch is encoded. `releaseAfter`: storages to release once encoded (its scratch
   * inputs).
   */
  defer<T>(family: DeferredFamily<T>, item: T, touches: GpuStorage[], releaseAfter: GpuStorage[] = []): void {
    this.throwIfFailed();
    const fam = family as DeferredFamily<unknown>;
    for (const t of touches) {
      const slot = this.slotOf(t, `defer ${family.name}`);
      let held = this.deferredSlots.get(slot);
      if (!held) this.deferredSlots.set(slot, (held = []));
      held.push({ range: t as PooledStorage, family: fam });
    }
    let items = this.deferred.get(fam);
    if (!items) this.deferred.set(fam, (items = []));
    items.push(item);
    this.deferredRelease.push(...releaseAfter);
  }

  /**
   * Encode held-back launches now (see defer): all of them, or — given the buffers about to be
   * used — the families that touch them and every family that runs before those (lower `order`:
   * producers of what they read); later families stay held and keep merging. A family's run may
   * hold new launches back (a convolution pair's split-K sums): those of the flushed orders are
   * encoded too before this returns, the others join the held ones.
   */
  flushDeferred(touching: GpuStorage[] | null = null): void {
    if (this.deferred.size === 0 || this.disposed) return;
    for (;;) {
      // recomputed each round: a run may hold new launches that touch the same buffers (a weight
      // gradient's split-K sum writes the gradient the caller is about to read)
      let upTo = touching ? -Infinity : Infinity;
      if (touching) for (const f of this.familiesTouching(touching)) upTo = Math.max(upTo, orderOf(f));
      const due = [...this.deferred.keys()].filter((f) => orderOf(f) <= upTo).sort((a, b) => orderOf(a) - orderOf(b));
      if (due.length === 0 || this.disposed) break;
      const runs = due.map((f) => [f, this.deferred.get(f)!] as const);
      for (const f of due) this.deferred.delete(f);
      for (const [slot, held] of this.deferredSlots) {
        const left = held.filter((h) => !due.includes(h.family));
        if (left.length === 0) this.deferredSlots.delete(slot);
        else this.deferredSlots.set(slot, left);
      }
      // the launches being encoded touch buffers that held items of later families read (a
      // convolution's output, read by held BN statistics): no nested flush may run those first
      this.flushingDeferred = true;
      try {
        for (const [family, items] of runs) family.run(this, items);
      } finally {
        this.flushingDeferred = false;
      }
    }
    // postponed releases whose buffers no held launch touches any more
    const release = this.deferredRelease;
    this.deferredRelease = [];
    for (const r of release) {
      if (r instanceof PooledStorage && this.touchesDeferred([r])) this.deferredRelease.push(r);
      else this.release(r);
    }
  }

  /** Whether a held-back launch of a family other than `family` touches any of these storages
   *  (a family that checks hazards among its own items flushes the others' first). */
  touchesOtherDeferred(family: DeferredFamily<unknown>, storages: GpuStorage[]): boolean {
    for (const f of this.familiesTouching(storages)) if (f !== family) return true;
    return false;
  }

  /** The families with a held launch touching one of these storages (ranges of one buffer that do
   *  not overlap, e.g. two views of a gradient arena, do not touch each other). */
  private familiesTouching(storages: GpuStorage[]): Set<DeferredFamily<unknown>> {
    const out = new Set<DeferredFamily<unknown>>();
    for (const st of storages) {
      if (!(st instanceof PooledStorage)) continue;
      const held = this.deferredSlots.get(st.slot);
      if (held) for (const h of held) if (overlaps(h.range, st)) out.add(h.family);
    }
    return out;
  }

  /** Whether any of these storages is touched by a held-back launch. */
  private touchesDeferred(storages: GpuStorage[]): boolean {
    for (const st of storages) {
      if (!(st instanceof PooledStorage)) continue;
      const held = this.deferredSlots.get(st.slot);
      if (held && held.some((h) => overlaps(h.range, st))) return true;
    }
    return false;
  }

  /** Give grid-stride kernels few workgroups on CPU rasterisers (default true; false: one item per
   *  lane everywhere, as before — benchmarks use it for the in-process baseline). */
  fewWorkgroups = true;

  /** Workgroup count for a grid-stride kernel over `items` work items with `wg` lanes: one item per
   *  lane on GPUs (capped at 65535 groups), at most 128 groups on CPU rasterisers. */
  strideGroups(items: number, wg: number): number {
    const groups = Math.max(1, Math.ceil(items / wg));
    return Math.min(groups, this.software && this.fewWorkgroups ? 128 : this.limits.maxComputeWorkgroupsPerDimension);
  }

  /** Grid for a grid-stride kernel over `items` items with `wg` lanes: the full (folded) grid on
   *  GPUs, at most 128 workgroups on CPU rasterisers. */
  strideGrid(items: number, wg: number): [number, number, number] {
    if (this.software && this.fewWorkgroups) return [this.strideGroups(items, wg), 1, 1];
    return this.grid1D(Math.max(1, items), wg);
  }

  /** WGSL generated at run time (from a template in shaders/), usable as a `shader` key. */
  defineShader(key: string, code: string): void {
    if (SHADERS[key] !== undefined) throw new GpuError(`defineShader: '${key}' is a shaders/*.wgsl file`);
    const have = this.generated.get(key);
    if (have !== undefined && have !== code) throw new GpuError(`defineShader: '${key}' defined twice with different code`);
    this.generated.set(key, code);
  }

  hasShader(key: string): boolean {
    return SHADERS[key] !== undefined || this.generated.has(key);
  }

  /** 1-D helper: enough workgroups of `workgroupSize` (default 256, passed as override constant WG)
   *  to cover `threads`; beyond maxComputeWorkgroupsPerDimension the grid is folded into x*y. Shaders
   *  compute the linear index as gid.x + gid.y * (nwg.x * WG) and bounds-check it. */
  dispatch1D(spec: Omit<DispatchSpec, 'workgroups'> & { threads: number; workgroupSize?: number }): void {
    const wg = spec.workgroupSize ?? 256;
    if (!Number.isInteger(spec.threads) || spec.threads < 0) {
      throw new GpuError(`${spec.shader}:${spec.entry ?? 'main'}: threads must be a non-negative integer, got ${spec.threads}`);
    }
    if (!Number.isInteger(wg) || wg < 1) throw new GpuError(`${spec.shader}: workgroupSize ${wg} must be a positive integer`);
    const groups = Math.ceil(spec.threads / wg);
    const maxPerDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxPerDim) {
      this.encode(spec.shader, spec.entry ?? 'main', spec.bindings, spec.params, spec.constants, wg, groups, 1, 1);
    } else {
      const gy = Math.ceil(groups / maxPerDim);
      this.encode(spec.shader, spec.entry ?? 'main', spec.bindings, spec.params, spec.constants, wg,
        Math.ceil(groups / gy), gy, 1);
    }
  }

  /** The hot path shared by dispatch and dispatch1D (no per-call spec objects: less GC). `wg` > 0
   *  adds the override constant WG. */
  private encode(shader: string, entry: string, bindings: GpuStorage[], params: ParamBlock | undefined,
    constants: Record<string, number> | undefined, wg: number, x: number, y: number, z: number, readOnly = 0): void {
    this.throwIfFailed();
    const maxPerDim = this.limits.maxComputeWorkgroupsPerDimension;
    for (const d of [x, y, z]) {
      if (!Number.isInteger(d) || d < 0 || d > maxPerDim) {
        throw new GpuError(`${shader}:${entry}: workgroup count ${d} must be an integer in [0, ${maxPerDim}] ` +
          `(workgroups [${x}, ${y}, ${z}])`);
      }
    }
    if (x * y * z === 0) return;
    if (this.deferredSlots.size && !this.flushingDeferred && this.touchesDeferred(bindings)) this.flushDeferred(bindings);
    const pipe = this.pipeline(shader, entry, constants, wg);
    const slots = this.checkBindings(bindings, pipe.label, readOnly);
    const prof = this.profiler;
    // (before the bind group: a flush after it could let a later dispatch rewrite its uniforms)
    if (prof && prof.used + 2 > prof.capacity) this.flush();
    const bindGroup = this.bindGroup(pipe, bindings as PooledStorage[], slots, params);
    const pass = this.passFor(pipe);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.recorder) {
      this.recorder.ops.push({ kind: 'dispatch', pipe, bindGroup, words: params ? this.paramWords.slice(0, this.lastWords) : null,
        slots: slots.slice(), resources: (bindings as PooledStorage[]).map(bufferBinding), x, y, z });
      for (const s of slots) this.recorder.touched.add(s);
    }
    for (const s of slots) s.lastUseEpoch = this.epoch;
    this.batchLabels.push(pipe.label);
    this.dispatches++;
    if (prof) this.endPass();
    if (++this.batchDispatches >= this.batchSize) this.flush();
  }

  /** Workgroup grid covering `threads` threads in workgroups of `wg`, folded into x*y when needed. */
  grid1D(threads: number, wg: number): [number, number, number] {
    const groups = Math.ceil(threads / wg);
    const maxPerDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxPerDim) return [groups, 1, 1];
    const gy = Math.ceil(groups / maxPerDim);
    return [Math.ceil(groups / gy), gy, 1];
  }

  /** Copy n floats between storages inside the command stream (ordered with dispatches). */
  copyBuffer(src: GpuStorage, srcOffset: number, dst: GpuStorage, dstOffset: number, n: number): void {
    this.throwIfFailed();
    const a = this.slotOf(src, 'copy source');
    const b = this.slotOf(dst, 'copy destination');
    if (srcOffset < 0 || srcOffset + n > src.length || dstOffset < 0 || dstOffset + n > dst.length) {
      throw new GpuError(`copy: range out of bounds (src length ${src.length} offset ${srcOffset}, ` +
        `dst length ${dst.length} offset ${dstOffset}, n ${n})`);
    }
    if (n === 0) return;
    if (a === b) {
      // two views of one arena: a copy command cannot stay inside a buffer, and a kernel may not
      // read and write one buffer either (WebGPU usage scopes are per buffer): through a temporary
      const t = this.alloc(n);
      this.copyBuffer(src, srcOffset, t, 0, n);
      this.copyBuffer(t, 0, dst, dstOffset, n);
      this.release(t);
      return;
    }
    if (this.deferredSlots.size && this.touchesDeferred([src, dst])) this.flushDeferred([src, dst]);
    const srcByte = ((src as PooledStorage).offset + srcOffset) * 4, dstByte = ((dst as PooledStorage).offset + dstOffset) * 4;
    const enc = this.openEncoder();
    this.endPass();
    enc.copyBufferToBuffer(a.buffer, srcByte, b.buffer, dstByte, n * 4);
    if (this.recorder) {
      this.recorder.ops.push({ kind: 'copy', a, b, srcByte, dstByte, bytes: n * 4 });
      this.recorder.touched.add(a).add(b);
    }
    a.lastUseEpoch = b.lastUseEpoch = this.epoch;
    this.dispatches++;
    if (++this.batchDispatches >= this.batchSize) this.flush();
  }

  /** The open compute pass with `pipe` set, for the next dispatch; in profiling mode a pass of its
   *  own whose start and end timestamps bracket that dispatch. */
  private passFor(pipe: PipelineEntry): GPUComputePassEncoder {
    const prof = this.profiler;
    if (prof) {
      this.endPass();
      const at = prof.used;
      prof.used += 2;
      prof.labels.push(pipe.label);
      this.pass = this.openEncoder().beginComputePass({
        timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 },
      });
      this.passPipeline = null;
    } else if (!this.pass) {
      this.pass = this.openEncoder().beginComputePass();
      this.passPipeline = null;
    }
    if (this.passPipeline !== pipe) {
      this.pass.setPipeline(pipe.pipeline);
      this.passPipeline = pipe;
    }
    return this.pass;
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private pipeline(shader: string, entry: string, constants: Record<string, number> | undefined, wg: number): PipelineEntry {
    let key = shader + '|' + entry;
    if (wg > 0) key += '|WG=' + wg;
    if (constants) {
      const names = Object.keys(constants);
      if (names.length > 1) names.sort();
      for (const n of names) if (n !== 'WG' || wg === 0) key += '|' + n + '=' + constants[n];
    }
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    let module = this.modules.get(shader);
    if (!module) {
      const code = SHADERS[shader] ?? this.generated.get(shader);
      if (code === undefined) {
        throw new GpuError(`unknown shader "${shader}" (known: ${Object.keys(SHADERS).sort().join(', ') || 'none'}; ` +
          'run node scripts/build.mjs after adding shaders/*.wgsl)');
      }
      module = this.device.createShaderModule({ code, label: shader });
      this.modules.set(shader, module);
    }
    const all: Record<string, number> = { ...constants };
    if (wg > 0) all.WG = wg;
    const names = Object.keys(all);
    const label = names.length ? `${shader}:${entry}{${names.map((k) => `${k}=${all[k]}`).join(',')}}` : `${shader}:${entry}`;
    const pipeline = this.device.createComputePipeline({
      label, layout: 'auto', compute: { module, entryPoint: entry, constants: all },
    });
    const e: PipelineEntry = { pipeline, id: this.pipelines.size + 1, label, layout: null };
    this.pipelines.set(key, e);
    return e;
  }

  private checkBindings(bindings: GpuStorage[], label: string, readOnly: number): PoolBuffer[] {
    const max = this.limits.maxStorageBuffersPerShaderStage;
    if (bindings.length > max) {
      throw new GpuError(`${label}: ${bindings.length} storage bindings exceed maxStorageBuffersPerShaderStage (${max})`);
    }
    const slots: PoolBuffer[] = new Array(bindings.length);
    for (let i = 0; i < bindings.length; i++) {
      const s = this.slotOf(bindings[i], `${label} binding ${i}`);
      // Views of one buffer may share a dispatch when their ranges are disjoint and they are all
      // read or all written: WebGPU's usage scopes are per buffer, so a buffer read through one
      // binding and written through another is a validation error whatever the ranges (Dawn
      // reports it, naming the kernel, at the next sync). Caught here: overlapping ranges, and a
      // buffer in the read-only prefix again among the others.
      if (i >= readOnly) {
        for (let j = 0; j < i; j++) {
          if (slots[j] === s && (j < readOnly || overlaps(bindings[i] as PooledStorage, bindings[j] as PooledStorage))) {
            throw new GpuError(`${label}: bindings ${j} and ${i} are the same buffer (WebGPU forbids aliasing ` +
              'within one dispatch; use the in-place form of the kernel)');
          }
        }
      }
      slots[i] = s;
    }
    return slots;
  }

  private slotOf(s: GpuStorage, what: string): PoolBuffer {
    if (!(s instanceof PooledStorage) || s.owner !== this) {
      throw new GpuError(`${what}: not a storage of this WebGPU backend`);
    }
    if (s.released) throw new GpuError(`${what}: storage used after release`);
    return s.slot;
  }

  /** Pack params into paramWords; returns the word count (a multiple of 4). */
  private packParams(p: ParamBlock, label: string): number {
    const u = p.u ?? [], i = p.i ?? [], f = p.f ?? [];
    const words = u.length + i.length + f.length;
    const padded = Math.max(4, Math.ceil(words / 4) * 4);
    if (padded > this.paramWords.length) {
      throw new GpuError(`${label}: ${words} parameter words exceed the ${this.paramWords.length}-word uniform block`);
    }
    let k = 0;
    for (const v of u) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new GpuError(`${label}: u32 parameter ${k} is ${v}`);
      this.paramWords[k++] = v;
    }
    for (const v of i) {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new GpuError(`${label}: i32 parameter ${k} is ${v}`);
      this.paramInts[k++] = v;
    }
    for (const v of f) this.paramFloats[k++] = v;
    while (k < padded) this.paramWords[k++] = 0;
    return padded;
  }

  private bindGroup(pipe: PipelineEntry, bindings: PooledStorage[], slots: PoolBuffer[], params?: ParamBlock): GPUBindGroup {
    let key = String(pipe.id);
    for (const b of bindings) key += b.isView ? `,${b.slot.id}@${b.offset}+${b.span}` : ',' + b.slot.id;
    const words = params ? this.packParams(params, pipe.label) : 0;
    this.lastWords = words;
    let entry = this.bindGroups.get(key);
    if (entry) {
      // refresh LRU position
      this.bindGroups.delete(key);
      this.bindGroups.set(key, entry);
    } else {
      entry = { variants: [], bufferIds: slots.map((s) => s.id) };
      this.bindGroups.set(key, entry);
    }
    let reusable: BindVariant | null = null;
    for (const v of entry.variants) {
      if (this.sameWords(v.words, words)) {
        v.epoch = this.epoch;
        return v.bindGroup;
      }
      if (!reusable && v.epoch < this.epoch) reusable = v;
    }
    if (reusable && reusable.uniform) {
      // Its last users are submitted; a queue write now lands after them and before this batch.
      this.device.queue.writeBuffer(reusable.uniform.buffer, reusable.uniform.offset, this.paramWords, 0, words);
      reusable.words.set(this.paramWords.subarray(0, words));
      reusable.epoch = this.epoch;
      return reusable.bindGroup;
    }
    if (entry.variants.length >= MAX_VARIANTS_PER_KEY) {
      // every variant is in use by the open batch with other params: submit, then any can be rewritten
      this.flush();
      return this.bindGroup(pipe, bindings, slots, params);
    }
    const entries: GPUBindGroupEntry[] = bindings.map((s, b) => ({ binding: b, resource: bufferBinding(s) }));
    let uniform: UniformSlot | null = null;
    if (params) {
      uniform = this.takeUniformSlot();
      this.device.queue.writeBuffer(uniform.buffer, uniform.offset, this.paramWords, 0, words);
      entries.push({ binding: slots.length, resource: { buffer: uniform.buffer, offset: uniform.offset, size: words * 4 } });
    }
    const bindGroup = this.device.createBindGroup({ label: pipe.label, layout: (pipe.layout ??= pipe.pipeline.getBindGroupLayout(0)), entries });
    entry.variants.push({ bindGroup, uniform, words: this.paramWords.slice(0, words), epoch: this.epoch });
    return bindGroup;
  }

  /** Whether a variant's params equal the first `count` packed words. */
  private sameWords(a: Uint32Array, count: number): boolean {
    if (a.length !== count) return false;
    const w = this.paramWords;
    for (let i = 0; i < count; i++) if (a[i] !== w[i]) return false;
    return true;
  }

  private takeUniformSlot(): UniformSlot {
    const free = this.freeUniformSlots.pop();
    if (free) return free;
    const buffer = this.device.createBuffer({ size: UNIFORM_BLOCK_BYTES, usage: UNIFORM_USAGE, label: 'uniforms' });
    this.created++;
    this.uniformBlocks.push(buffer);
    for (let off = UNIFORM_BLOCK_BYTES - UNIFORM_SLOT_BYTES; off > 0; off -= UNIFORM_SLOT_BYTES) {
      this.freeUniformSlots.push({ buffer, offset: off });
    }
    return { buffer, offset: 0 };
  }

  // ---- submit and sync --------------------------------------------------------------------------

  /** Submit the open batch (no-op when nothing is pending). */
  flush(): void {
    if (this.disposed || !this.encoder) return;
    this.endPass();
    if (this.profiler && this.profiler.used > 0) this.resolveTimestamps(this.encoder, this.profiler);
    const labels = this.batchLabels;
    this.device.queue.submit([this.encoder.finish()]);
    this.submits++;
    this.encoder = null;
    this.epoch++;
    this.batchDispatches = 0;
    this.batchLabels = [];
    this.checkErrorScopes(labels);
    this.afterSubmit();
  }

  /** Resolve when all submitted work has finished; throws a GpuError recorded by then. */
  async sync(): Promise<void> {
    this.throwIfFailed();
    this.flushDeferred();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settleErrors();
  }

  private afterSubmit(): void {
    for (const u of this.destroyUniformsAfterSubmit) u.destroy();
    this.destroyUniformsAfterSubmit = [];
    for (const s of this.destroyAfterSubmit) s.buffer.destroy();
    if (this.destroyAfterSubmit.length) this.forgetBindGroupsOf(new Set(this.destroyAfterSubmit.map((s) => s.id)));
    this.destroyAfterSubmit = [];
    if (this.bindGroups.size > this.maxBindGroupKeys) {
      const target = Math.floor(this.maxBindGroupKeys * 0.75);
      for (const [key, entry] of this.bindGroups) {
        if (this.bindGroups.size <= target) break;
        this.dropBindEntry(key, entry);
      }
    }
  }

  private dropBindEntry(key: string, entry: BindEntry): void {
    for (const v of entry.variants) if (v.uniform) this.freeUniformSlots.push(v.uniform);
    this.bindGroups.delete(key);
  }

  private forgetBindGroupsOf(ids: Set<number>): void {
    for (const [key, entry] of this.bindGroups) {
      if (entry.bufferIds.some((id) => ids.has(id))) this.dropBindEntry(key, entry);
    }
  }

  // ---- capture / replay -----------------------------------------------------------------------------

  /**
   * Start recording: every dispatch, in-stream copy and write encoded until `endCapture` is also
   * appended to a command list that `GpuCapture.replay` encodes again later. The recorded work runs
   * normally as it is recorded. Reads are refused while recording (a step that waits on the device
   * cannot be replayed). One recording at a time; not while profiling.
   */
  beginCapture(): void {
    this.throwIfFailed();
    if (this.recorder) throw new GpuError('beginCapture: a capture is already recording');
    if (this.profiler) throw new GpuError('beginCapture: not while profiling');
    this.flushDeferred(); // held-back work of before belongs to no recording
    this.recorder = { ops: [], touched: new Set() };
  }

  /** Stop recording; pin what the recording touched and give it bind groups and uniforms of its own. */
  endCapture(): GpuCapture {
    const rec = this.recorder;
    if (!rec) throw new GpuError('endCapture: no capture is recording');
    this.flushDeferred(); // the recorded step's held-back launches are part of it
    this.recorder = null;
    this.throwIfFailed();
    // Own uniforms: the bind-group cache may rewrite a cached variant's uniform slot for other
    // params later, so every recorded dispatch with params gets a slot in one buffer of the capture.
    const withParams = rec.ops.filter((o): o is Extract<CapturedOp, { kind: 'dispatch' }> => o.kind === 'dispatch' && o.words !== null);
    let uniforms: GPUBuffer | null = null;
    if (withParams.length) {
      uniforms = this.device.createBuffer({ size: withParams.length * UNIFORM_SLOT_BYTES, usage: UNIFORM_USAGE, label: 'capture-uniforms' });
      this.created++;
      const all = new Uint32Array(withParams.length * UNIFORM_SLOT_BYTES / 4);
      withParams.forEach((o, k) => {
        all.set(o.words!, k * UNIFORM_SLOT_BYTES / 4);
        const entries: GPUBindGroupEntry[] = o.resources.map((r, b) => ({ binding: b, resource: r }));
        entries.push({ binding: o.slots.length, resource: { buffer: uniforms!, offset: k * UNIFORM_SLOT_BYTES, size: o.words!.length * 4 } });
        o.bindGroup = this.device.createBindGroup({ label: `${o.pipe.label} (captured)`, layout: (o.pipe.layout ??= o.pipe.pipeline.getBindGroupLayout(0)), entries });
      });
      this.device.queue.writeBuffer(uniforms, 0, all.buffer, 0, all.byteLength);
    }
    // Pin: buffers already back in the pool (intermediates of the recorded step) leave it until dispose.
    for (const slot of rec.touched) {
      slot.pins = (slot.pins ?? 0) + 1;
      if (!this.liveSlots.has(slot) && !this.pinnedIdle.has(slot)) {
        const list = this.freeBuffers.get(slot.bytes);
        const at = list ? list.indexOf(slot) : -1;
        if (at < 0) throw new GpuError('endCapture: a recorded buffer is neither live nor pooled (destroyed while recording?)');
        list!.splice(at, 1);
        this.pooledBytes -= slot.bytes;
        this.liveSlots.add(slot);
        this.liveBytes += slot.bytes;
        this.pinnedIdle.add(slot);
      }
    }
    return new GpuCapture(this, rec.ops, rec.touched, uniforms);
  }

  /** Stop recording and drop the list (after a failure inside the recorded function). */
  abortCapture(): void {
    this.recorder = null;
  }

  /** @internal GpuCapture.replay */
  replay(cap: GpuCapture): void {
    this.throwIfFailed();
    if (cap.disposed) throw new GpuError('replay: the capture was disposed');
    if (this.recorder) throw new GpuError('replay: not while a capture is recording');
    this.flushDeferred();
    for (const o of cap.ops) {
      if (o.kind === 'write') {
        if (o.slot.lastUseEpoch === this.epoch && this.encoder) this.flush();
        this.device.queue.writeBuffer(o.slot.buffer, o.byteOffset, o.data.buffer, o.data.byteOffset, o.data.byteLength);
        continue;
      }
      if (o.kind === 'copy') {
        const enc = this.openEncoder();
        this.endPass();
        enc.copyBufferToBuffer(o.a.buffer, o.srcByte, o.b.buffer, o.dstByte, o.bytes);
        o.a.lastUseEpoch = o.b.lastUseEpoch = this.epoch;
        this.batchLabels.push('copy (replay)');
      } else {
        if (this.profiler && this.profiler.used + 2 > this.profiler.capacity) this.flush();
        const pass = this.passFor(o.pipe);
        pass.setBindGroup(0, o.bindGroup);
        pass.dispatchWorkgroups(o.x, o.y, o.z);
        for (const sl of o.slots) sl.lastUseEpoch = this.epoch;
        this.batchLabels.push(o.pipe.label);
        if (this.profiler) this.endPass();
      }
      this.dispatches++;
      if (++this.batchDispatches >= this.batchSize) this.flush();
    }
  }

  /** @internal GpuCapture.dispose */
  releaseCapture(cap: GpuCapture): void {
    if (cap.disposed) return;
    cap.disposed = true;
    if (this.disposed) return;
    // the uniforms may still be read by unsubmitted replays: destroy after the next submit
    if (cap.uniforms) {
      const u = cap.uniforms;
      if (this.encoder) this.destroyUniformsAfterSubmit.push(u);
      else u.destroy();
    }
    for (const slot of cap.touched) {
      slot.pins = (slot.pins ?? 1) - 1;
      if (slot.pins === 0 && this.pinnedIdle.delete(slot)) {
        // nobody owns it any more: into the pool (dispatch order keeps pending replays safe)
        this.liveSlots.delete(slot);
        this.liveBytes -= slot.bytes;
        this.poolSlot(slot);
        this.pooledBytes += slot.bytes;
      }
    }
  }

  // ---- profiling --------------------------------------------------------------------------------

  /**
   * Profiling mode: from now on every dispatch gets its own compute pass whose start and end
   * timestamps (feature `timestamp-query`) bracket it, and device time is summed per pipeline label
   * until `stopProfile`. Passes per dispatch cost a little host time; the device times are exact up
   * to the adapter's timestamp resolution (Dawn quantises timestamps unless the GPU object was
   * created with 'disable-dawn-features=timestamp_quantization'). Throws without the feature.
   */
  startProfile(): void {
    this.throwIfFailed();
    if (!this.hasTimestamps) throw new GpuError('profiling needs the timestamp-query feature, which this adapter lacks');
    if (this.profiler) return;
    this.flush();
    const capacity = 2 * Math.max(this.batchSize, 64);
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: capacity, label: 'profile' }),
      capacity, used: 0, labels: [], reads: [], totals: new Map(),
    };
  }

  /** End profiling mode; device nanoseconds and dispatch counts per pipeline label, largest first. */
  async stopProfile(): Promise<ProfileEntry[]> {
    const prof = this.profiler;
    if (!prof) return [];
    this.flushDeferred();
    this.flush();
    this.profiler = null;
    await Promise.all(prof.reads);
    prof.querySet.destroy();
    return [...prof.totals.entries()].map(([label, t]) => ({ label, count: t.count, ns: t.ns }))
      .sort((a, b) => b.ns - a.ns);
  }

  /** Resolve the batch's timestamps into a buffer read back asynchronously (profiling mode). */
  private resolveTimestamps(enc: GPUCommandEncoder, prof: Profiler): void {
    const bytes = prof.used * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: 0x0200 | 0x0004, label: 'profile-resolve' }); // QUERY_RESOLVE | COPY_SRC
    const staging = this.device.createBuffer({ size: bytes, usage: STAGING_USAGE, label: 'profile-read' });
    enc.resolveQuerySet(prof.querySet, 0, prof.used, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    const labels = prof.labels;
    prof.labels = [];
    prof.used = 0;
    prof.reads.push((async () => {
      // mapAsync waits for the submit that follows this call
      await new Promise<void>((r) => setImmediate(r));
      await staging.mapAsync(MAP_READ);
      const t = new BigInt64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      resolve.destroy();
      labels.forEach((label, i) => {
        const ns = Math.max(0, Number(t[2 * i + 1] - t[2 * i]));
        const e = prof.totals.get(label);
        if (e) { e.count++; e.ns += ns; } else prof.totals.set(label, { count: 1, ns });
      });
    })());
  }

  // ---- errors -----------------------------------------------------------------------------------

  private pushErrorScopes(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  /** Close the current error scopes (they covered everything since the previous check). */
  private checkErrorScopes(labels: string[]): void {
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.pushErrorScopes();
    const context = labels.length
      ? `in a batch of ${labels.length} dispatches (last dispatch: ${labels[labels.length - 1]}; ` +
        `kernels in the batch: ${[...new Set(labels)].join(', ')})`
      : 'outside any dispatch';
    const check = Promise.all([validation, oom]).then(([v, o]) => {
      if (v) this.recordError(`WebGPU validation error ${context}: ${v.message}`);
      if (o) this.recordError(`WebGPU out of memory ${context}: ${o.message}`);
    }, (e: Error) => {
      if (!this.disposed) this.recordError(`WebGPU error scope failed ${context}: ${e.message}`);
    });
    this.errorChecks.push(check);
  }

  private recordError(message: string): void {
    if (this.disposed) return;
    if (!this.pendingError) this.pendingError = new GpuError(message);
  }

  /** Throw the recorded error, if any (a validation error once; device loss and dispose forever). */
  throwIfFailed(): void {
    if (this.disposed) throw new GpuError('the WebGPU backend was disposed');
    if (this.fatalError) throw this.fatalError;
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
  }

  /** Wait for every error scope popped so far, then throw what they reported. */
  private async settleErrors(): Promise<void> {
    // anything done since the last submit (writes, pipeline creation) gets checked too
    if (!this.disposed && !this.encoder) this.checkErrorScopes([]);
    const checks = this.errorChecks;
    this.errorChecks = [];
    await Promise.all(checks);
    this.throwIfFailed();
  }

  // ---- memory -----------------------------------------------------------------------------------

  /** Pooled, size-bucketed storage for n floats; contents unspecified. n may be 0. */
  alloc(n: number): GpuStorage {
    this.throwIfFailed();
    if (!Number.isInteger(n) || n < 0) throw new GpuError(`alloc: n must be a non-negative integer, got ${n}`);
    const bytes = bucketBytes(n * 4);
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > max) {
      throw new GpuError(`alloc: ${n} floats (${n * 4} bytes) exceed the device's maxStorageBufferBindingSize ` +
        `/ maxBufferSize (${max} bytes)`);
    }
    let slot = this.freeBuffers.get(bytes)?.pop();
    if (slot) {
      this.pooledBytes -= bytes;
    } else {
      const buffer = this.device.createBuffer({ size: bytes, usage: STORAGE_USAGE });
      this.created++;
      slot = { buffer, bytes, id: this.nextBufferId++, lastUseEpoch: 0 };
    }
    this.liveSlots.add(slot);
    this.liveBytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.pooledBytes);
    return new PooledStorage(slot, n, this);
  }

  /** Back to the pool; safe right after encoding work that uses s (dispatch order is kept). */
  release(s: GpuStorage): void {
    if (this.disposed) return;
    if (!(s instanceof PooledStorage) || s.owner !== this) throw new GpuError('release: not a storage of this WebGPU backend');
    if (s.released || this.deferredRelease.includes(s)) throw new GpuError('release: storage released twice');
    if (this.deferredSlots.size && this.touchesDeferred([s])) {
      // a held-back launch still uses it: it goes back to the pool once that launch is encoded
      // (flushing here would cut the merges short: a backward rule releases its dy right away)
      this.deferredRelease.push(s);
      return;
    }
    s.released = true;
    if (s.isView) return; // the buffer belongs to the viewed storage
    const slot = s.slot;
    if (slot.pins) {
      // a capture still replays into it: it stays out of the pool until the capture is disposed
      this.pinnedIdle.add(slot);
      return;
    }
    this.liveSlots.delete(slot);
    this.liveBytes -= slot.bytes;
    if (this.pooledBytes + slot.bytes > this.maxPooledBytes && !this.recorder) {
      // over the cap: destroy instead of pooling, but only once nothing unsubmitted can use it
      if (slot.lastUseEpoch === this.epoch && this.encoder) this.destroyAfterSubmit.push(slot);
      else {
        slot.buffer.destroy();
        this.forgetBindGroupsOf(new Set([slot.id]));
      }
      return;
    }
    this.poolSlot(slot);
    this.pooledBytes += slot.bytes;
  }

  /**
   * Back into its size's free list, which alloc takes from the end: kept in descending id order, so
   * alloc always hands out the lowest-id free buffer. Then a sequence of allocs and releases that
   * repeats from the same free set (a training step, a GM pass) gets the same buffers each time,
   * and the bind-group cache (keyed by buffer ids) hits instead of making a bind group per launch;
   * with last-in-first-out lists the buffers rotated from one pass to the next.
   */
  private poolSlot(slot: PoolBuffer): void {
    let list = this.freeBuffers.get(slot.bytes);
    if (!list) this.freeBuffers.set(slot.bytes, (list = []));
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].id > slot.id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, slot);
  }

  /** Values the offset of a view must be a multiple of (minStorageBufferOffsetAlignment / 4). */
  get viewAlignment(): number {
    return Math.max(1, this.limits.minStorageBufferOffsetAlignment / 4);
  }

  /**
   * `n` values of `base` from `offset` on, as a storage of their own: kernels bind just that range,
   * so one buffer can hold many tensors (a parameter or gradient arena) that a single launch can
   * also update together. `offset` must be a multiple of `viewAlignment`; the range bound is `n`
   * rounded up to it, which must stay inside `base` — keep views of one buffer that far apart. A
   * view owns no memory: `base` must outlive it, and releasing it only ends the handle. Held-launch
   * hazards and aliasing checks compare ranges, so disjoint views of one buffer are independent.
   */
  view(base: GpuStorage, offset: number, n: number): GpuStorage {
    this.throwIfFailed();
    const slot = this.slotOf(base, 'view');
    const b = base as PooledStorage;
    if (b.isView) throw new GpuError('view: base is itself a view (take views of the arena storage)');
    const align = this.viewAlignment;
    if (!Number.isInteger(offset) || offset < 0 || offset % align !== 0) {
      throw new GpuError(`view: offset ${offset} must be a non-negative multiple of ${align} values (minStorageBufferOffsetAlignment)`);
    }
    if (!Number.isInteger(n) || n < 1) throw new GpuError(`view: n must be a positive integer, got ${n}`);
    const span = Math.ceil(n / align) * align;
    if (offset + span > b.length) {
      throw new GpuError(`view: [${offset}, ${offset + span}) (n ${n} rounded up to ${align}) exceeds the base storage of ${b.length} values`);
    }
    return new PooledStorage(slot, n, this, offset, span, true);
  }

  upload(data: Float32Array): GpuStorage {
    const s = this.alloc(data.length);
    this.write(s, data, 0);
    return s;
  }

  /** Overwrite s[offset .. offset+data.length). Flushes first when unsubmitted work uses s. */
  write(s: GpuStorage, data: Float32Array, offset = 0): void {
    this.throwIfFailed();
    const slot = this.slotOf(s, 'write');
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > s.length) {
      throw new GpuError(`write: ${data.length} values at offset ${offset} do not fit a storage of length ${s.length}`);
    }
    if (data.length === 0) return;
    if (this.deferredSlots.size && this.touchesDeferred([s])) this.flushDeferred([s]);
    if (slot.lastUseEpoch === this.epoch && this.encoder) this.flush();
    const byteOffset = ((s as PooledStorage).offset + offset) * 4;
    this.device.queue.writeBuffer(slot.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    if (this.recorder) {
      this.recorder.ops.push({ kind: 'write', slot, byteOffset, data: data.slice() });
      this.recorder.touched.add(slot);
    }
  }

  /** The first n (default s.length) values; flushes pending work. */
  async read(s: GpuStorage, n = s.length): Promise<Float32Array> {
    this.throwIfFailed();
    if (this.recorder) throw new GpuError('read: not allowed while a capture records (a captured step must not wait on the device)');
    const slot = this.slotOf(s, 'read');
    this.flushDeferred();
    if (!Number.isInteger(n) || n < 0 || n > s.length) {
      throw new GpuError(`read: n = ${n} is outside [0, ${s.length}] for this storage`);
    }
    if (n === 0) {
      await this.settleErrors();
      return new Float32Array(0);
    }
    const bytes = n * 4;
    return this.readThroughStaging('read', bytes, (enc, staging) => {
      enc.copyBufferToBuffer(slot.buffer, (s as PooledStorage).offset * 4, staging, 0, bytes);
      slot.lastUseEpoch = this.epoch;
    }, (mapped) => new Float32Array(mapped.slice(0)));
  }

  /**
   * The first n values of each storage, in one device round trip: one batch of buffer copies into
   * one staging buffer, one submit, one map (reading k storages with `read` costs k submits and k
   * maps; GM scoring reads a few hundred gradients per pass). Ranges of one buffer that lie close
   * together (the views of a gradient arena) are copied as one range.
   */
  async readMany(items: readonly { s: GpuStorage; n?: number }[]): Promise<Float32Array[]> {
    this.throwIfFailed();
    if (this.recorder) throw new GpuError('readMany: not allowed while a capture records (a captured step must not wait on the device)');
    const reqs = items.map(({ s, n }, i) => {
      const slot = this.slotOf(s, `readMany item ${i}`);
      const count = n ?? s.length;
      if (!Number.isInteger(count) || count < 0 || count > s.length) {
        throw new GpuError(`readMany: item ${i}: n = ${count} is outside [0, ${s.length}] for this storage`);
      }
      return { slot, start: (s as PooledStorage).offset * 4, bytes: count * 4, at: 0 };
    });
    this.flushDeferred();
    // merged copy ranges: by buffer, then start; a range absorbs the next one when the gap is small
    const order = reqs.map((_, i) => i).filter((i) => reqs[i].bytes > 0)
      .sort((a, b) => reqs[a].slot.id - reqs[b].slot.id || reqs[a].start - reqs[b].start);
    const ranges: { slot: PoolBuffer; start: number; end: number; staged: number }[] = [];
    let staged = 0;
    for (const i of order) {
      const r = reqs[i];
      let last = ranges[ranges.length - 1];
      if (!last || last.slot !== r.slot || r.start > last.end + READ_MERGE_GAP_BYTES) {
        if (last) staged += last.end - last.start;
        last = { slot: r.slot, start: r.start, end: r.start + r.bytes, staged };
        ranges.push(last);
      } else {
        last.end = Math.max(last.end, r.start + r.bytes);
      }
      r.at = last.staged + (r.start - last.start);
    }
    const last = ranges[ranges.length - 1];
    const total = last ? last.staged + (last.end - last.start) : 0;
    if (total === 0) {
      await this.settleErrors();
      return reqs.map(() => new Float32Array(0));
    }
    if (total > this.limits.maxBufferSize) {
      // too much for one staging buffer: one storage at a time
      return Promise.all(items.map(({ s, n }) => this.read(s, n)));
    }
    return this.readThroughStaging('readMany', total, (enc, staging) => {
      for (const g of ranges) {
        enc.copyBufferToBuffer(g.slot.buffer, g.start, staging, g.staged, g.end - g.start);
        g.slot.lastUseEpoch = this.epoch;
      }
    }, (mapped) => reqs.map((r) => new Float32Array(mapped.slice(r.at, r.at + r.bytes))));
  }

  /**
   * One readback: a pooled staging buffer of `bytes` (rounded to its bucket), the copies `copy` encodes
   * into it, one submit and map, `extract` reading the mapped range before it is unmapped, the staging
   * buffer back to its pool. `who` names the caller in errors.
   */
  private async readThroughStaging<T>(who: string, bytes: number, copy: (enc: GPUCommandEncoder, staging: GPUBuffer) => void,
    extract: (mapped: ArrayBuffer) => T): Promise<T> {
    const stagingBytes = bucketBytes(bytes);
    let staging = this.freeStaging.get(stagingBytes)?.pop();
    if (!staging) {
      staging = this.device.createBuffer({ size: stagingBytes, usage: STAGING_USAGE, label: 'readback' });
      this.created++;
    }
    const enc = this.openEncoder();
    this.endPass();
    copy(enc, staging);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
    } catch (e) {
      await this.settleErrors();
      throw new GpuError(`${who}: mapping the readback buffer failed: ${(e as Error).message}`);
    }
    const out = extract(staging.getMappedRange(0, bytes));
    staging.unmap();
    let list = this.freeStaging.get(stagingBytes);
    if (!list) this.freeStaging.set(stagingBytes, (list = []));
    list.push(staging);
    await this.settleErrors();
    return out;
  }

  /** Destroy every pooled (not live) buffer, e.g. between phases with different tensor sizes. */
  trim(): void {
    this.flushDeferred();
    this.flush();
    const ids = new Set<number>();
    for (const list of this.freeBuffers.values()) {
      for (const s of list) {
        s.buffer.destroy();
        ids.add(s.id);
      }
    }
    this.freeBuffers.clear();
    this.pooledBytes = 0;
    for (const list of this.freeStaging.values()) for (const b of list) b.destroy();
    this.freeStaging.clear();
    this.forgetBindGroupsOf(ids);
  }

  memoryStats(): MemoryStats {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peakBytes, created: this.created };
  }

  /** Kernel dispatches (and in-stream buffer copies) encoded since start. */
  dispatchCount(): number {
    return this.dispatches;
  }

  /** Command buffers submitted since start (batching makes this ~dispatchCount / batchSize). */
  submitCount(): number {
    return this.submits;
  }

  /** Destroy every buffer and the device. Later calls throw GpuError. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.deferred.clear();
    this.deferredSlots.clear();
    this.deferredRelease = [];
    this.encoder = null;
    this.pass = null;
    for (const list of this.freeBuffers.values()) for (const s of list) s.buffer.destroy();
    for (const s of this.liveSlots) s.buffer.destroy();
    for (const list of this.freeStaging.values()) for (const b of list) b.destroy();
    for (const b of this.uniformBlocks) b.destroy();
    this.freeBuffers.clear();
    this.liveSlots.clear();
    this.freeStaging.clear();
    this.bindGroups.clear();
    this.pipelines.clear();
    this.modules.clear();
    this.device.destroy();
  }
}
