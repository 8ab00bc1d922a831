// The WebGPU runtime under every WGSL kernel: a facade that composes the runtime's rooms —
//   command-batch.ts  the open encoder and compute pass, submit epochs, counts
//   pipelines.ts      shader modules and compute pipelines (and run-time generated WGSL)
//   bind-groups.ts    bind groups and uniform parameters, binding checks
//   buffer-pool.ts    size-bucketed storage and staging buffers, pinning, memory figures
//   deferred.ts       held-back launches (defer / flushDeferred)
//   capture.ts        capture / replay of a step's command list
//   profiler.ts       per-dispatch device timing
//   errors.ts         error scopes, device loss, the GpuError a later call throws
//   readback.ts       reads through pooled staging buffers, many storages in one round trip
//   storage.ts        the storage handle kernels see, buffer usage flags
// — and orders their work. The hot path (encode) allocates nothing beyond what the rooms cache.
//
// Ordering model (why the hazards below are handled the way they are):
//   - Dispatches go into one open batch (command-batch.ts); WebGPU keeps dispatch order within and
//     across command buffers, so a storage released right after encoding a dispatch that reads it
//     can be handed to a later dispatch that writes it.
//   - `queue.writeBuffer` executes BEFORE command buffers submitted after it. A write into a buffer
//     that unsubmitted commands still use would therefore travel back in time; `write` flushes first
//     when the target buffer was used in the open batch (tracked per buffer by submit epoch).
//   - Buffers are destroyed only right after a submit (pool trimming, dispose), never while the open
//     encoder may reference them.
import type { MemoryStats } from '../backend.js';
import { GpuError, requestGpuDevice, type AdapterDescription, type RequestDeviceOptions } from './device.js';
import { BindGroupCache, checkBindings, type ParamBlock } from './bind-groups.js';
import { BufferPool, bucketBytes } from './buffer-pool.js';
import { CaptureRecorder, GpuCapture } from './capture.js';
import { CommandBatch } from './command-batch.js';
import { DeferredLaunches, type DeferredFamily } from './deferred.js';
import { GpuErrorScopes } from './errors.js';
import { PipelineCache } from './pipelines.js';
import { DispatchProfiler, type ProfileEntry } from './profiler.js';
import { Readback } from './readback.js';
import { PooledStorage, type GpuStorage } from './storage.js';

export { bucketBytes, GpuCapture };
export type { DeferredFamily, GpuStorage, ParamBlock, ProfileEntry };

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

/** Whether `d` is a workgroup count a dispatch may use. */
function validCount(d: number, maxPerDim: number): boolean {
  return Number.isInteger(d) && d >= 0 && d <= maxPerDim;
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

  private readonly batch: CommandBatch;
  private readonly pipelines: PipelineCache;
  private readonly bindGroups: BindGroupCache;
  private readonly pool: BufferPool;
  private readonly held: DeferredLaunches;
  private readonly errors: GpuErrorScopes;
  private readonly readback: Readback;
  /** set between startProfile and stopProfile */
  private profiler: DispatchProfiler | null = null;
  /** set between beginCapture and endCapture */
  private recorder: CaptureRecorder | null = null;
  /** capture uniforms disposed while unsubmitted replays may read them: destroyed after the submit */
  private destroyUniformsAfterSubmit: GPUBuffer[] = [];
  private disposed = false;

  private constructor(device: GPUDevice, info: AdapterDescription, hasSubgroups: boolean, hasTimestamps: boolean,
    opts: RuntimeOptions) {
    this.device = device;
    this.info = info;
    this.hasSubgroups = hasSubgroups;
    this.hasTimestamps = hasTimestamps;
    this.software = info.isFallbackAdapter || /software|cpu|llvmpipe|lavapipe|swiftshader|warp/i.test(
      `${info.architecture} ${info.device} ${info.description}`);
    this.limits = device.limits;
    this.batch = new CommandBatch(device, opts.batchSize ?? 32);
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device, this.limits, opts.maxPooledBytes ?? 2 ** 30, (ids) => this.bindGroups.forgetBuffers(ids));
    this.bindGroups = new BindGroupCache(device, this.pool, this.batch, opts.maxBindGroupKeys ?? 4096, () => this.flush());
    this.held = new DeferredLaunches(this, this.pool);
    this.errors = new GpuErrorScopes(device);
    this.readback = new Readback(this.pool, this.batch, this.limits.maxBufferSize, () => this.flush(), () => this.settleErrors());
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
    this.held.add(family as DeferredFamily<unknown>, item, touches, releaseAfter);
  }

  /**
   * Encode held-back launches now (see defer): all of them, or — given the buffers about to be
   * used — the families that touch them and every family that runs before those (lower `order`:
   * producers of what they read); later families stay held and keep merging. A family's run may
   * hold new launches back (a convolution pair's split-K sums): those of the flushed orders are
   * encoded too before this returns, the others join the held ones.
   */
  flushDeferred(touching: GpuStorage[] | null = null): void {
    if (this.disposed) return;
    this.held.flush(touching);
  }

  /** Whether a held-back launch of a family other than `family` touches any of these storages
   *  (a family that checks hazards among its own items flushes the others' first). */
  touchesOtherDeferred(family: DeferredFamily<unknown>, storages: GpuStorage[]): boolean {
    for (const f of this.held.familiesTouching(storages)) if (f !== family) return true;
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
    this.pipelines.defineShader(key, code);
  }

  hasShader(key: string): boolean {
    return this.pipelines.hasShader(key);
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
    // (three checks rather than a loop over [x, y, z]: no array per dispatch)
    if (!validCount(x, maxPerDim) || !validCount(y, maxPerDim) || !validCount(z, maxPerDim)) {
      const d = !validCount(x, maxPerDim) ? x : !validCount(y, maxPerDim) ? y : z;
      throw new GpuError(`${shader}:${entry}: workgroup count ${d} must be an integer in [0, ${maxPerDim}] ` +
        `(workgroups [${x}, ${y}, ${z}])`);
    }
    if (x * y * z === 0) return;
    const held = this.held;
    if (held.slots.size && !held.flushing && held.touches(bindings)) this.flushDeferred(bindings);
    const pipe = this.pipelines.get(shader, entry, constants, wg);
    const slots = checkBindings(this.pool, bindings, pipe.label, readOnly, this.limits.maxStorageBuffersPerShaderStage);
    const prof = this.profiler;
    // (before the bind group: a flush after it could let a later dispatch rewrite its uniforms)
    if (prof && !prof.hasRoom()) this.flush();
    const bindGroup = this.bindGroups.get(pipe, bindings as PooledStorage[], slots, params);
    const batch = this.batch;
    const pass = batch.passFor(pipe, prof ? prof.timestampWrites(pipe.label) : undefined);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.recorder) {
      this.recorder.dispatch(pipe, bindGroup, params ? this.bindGroups.recordedWords() : null, slots,
        bindings as PooledStorage[], x, y, z);
    }
    for (const s of slots) s.lastUseEpoch = batch.epoch;
    if (prof) batch.endPass();
    if (batch.counted(pipe.label)) this.flush();
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
    const a = this.pool.slotOf(src, 'copy source');
    const b = this.pool.slotOf(dst, 'copy destination');
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
    if (this.held.slots.size && this.held.touches([src, dst])) this.flushDeferred([src, dst]);
    const srcByte = ((src as PooledStorage).offset + srcOffset) * 4, dstByte = ((dst as PooledStorage).offset + dstOffset) * 4;
    this.batch.encoderOutsidePass().copyBufferToBuffer(a.buffer, srcByte, b.buffer, dstByte, n * 4);
    if (this.recorder) this.recorder.copy(a, b, srcByte, dstByte, n * 4);
    a.lastUseEpoch = b.lastUseEpoch = this.batch.epoch;
    if (this.batch.counted()) this.flush();
  }

  // ---- submit and sync --------------------------------------------------------------------------

  /** Submit the open batch (no-op when nothing is pending). */
  flush(): void {
    const batch = this.batch;
    if (this.disposed || !batch.encoder) return;
    batch.endPass();
    if (this.profiler) this.profiler.resolve(batch.encoder);
    const labels = batch.submit();
    this.errors.check(labels);
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
    this.pool.afterSubmit();
    this.bindGroups.afterSubmit();
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
    this.recorder = new CaptureRecorder();
  }

  /** Stop recording; pin what the recording touched and give it bind groups and uniforms of its own. */
  endCapture(): GpuCapture {
    const rec = this.recorder;
    if (!rec) throw new GpuError('endCapture: no capture is recording');
    this.flushDeferred(); // the recorded step's held-back launches are part of it
    this.recorder = null;
    this.throwIfFailed();
    return rec.seal(this, this.device, this.pool);
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
    const batch = this.batch;
    for (const o of cap.ops) {
      if (o.kind === 'write') {
        if (o.slot.lastUseEpoch === batch.epoch && batch.encoder) this.flush();
        this.device.queue.writeBuffer(o.slot.buffer, o.byteOffset, o.data.buffer, o.data.byteOffset, o.data.byteLength);
        continue;
      }
      let label: string;
      if (o.kind === 'copy') {
        batch.encoderOutsidePass().copyBufferToBuffer(o.a.buffer, o.srcByte, o.b.buffer, o.dstByte, o.bytes);
        o.a.lastUseEpoch = o.b.lastUseEpoch = batch.epoch;
        label = 'copy (replay)';
      } else {
        const prof = this.profiler;
        if (prof && !prof.hasRoom()) this.flush();
        const pass = batch.passFor(o.pipe, prof ? prof.timestampWrites(o.pipe.label) : undefined);
        pass.setBindGroup(0, o.bindGroup);
        pass.dispatchWorkgroups(o.x, o.y, o.z);
        for (const sl of o.slots) sl.lastUseEpoch = batch.epoch;
        label = o.pipe.label;
        if (prof) batch.endPass();
      }
      if (batch.counted(label)) this.flush();
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
      if (this.batch.encoder) this.destroyUniformsAfterSubmit.push(u);
      else u.destroy();
    }
    for (const slot of cap.touched) this.pool.unpin(slot);
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
    this.profiler = new DispatchProfiler(this.device, this.batch.batchSize);
  }

  /** End profiling mode; device nanoseconds and dispatch counts per pipeline label, largest first. */
  async stopProfile(): Promise<ProfileEntry[]> {
    const prof = this.profiler;
    if (!prof) return [];
    this.flushDeferred();
    this.flush();
    this.profiler = null;
    return prof.finish();
  }

  // ---- errors -----------------------------------------------------------------------------------

  /** Throw the recorded error, if any (a validation error once; device loss and dispose forever). */
  throwIfFailed(): void {
    this.errors.throwIfFailed();
  }

  /** Wait for every error scope popped so far, then throw what they reported. */
  private settleErrors(): Promise<void> {
    return this.errors.settle(this.batch.encoder !== null);
  }

  // ---- memory -----------------------------------------------------------------------------------

  /** Pooled, size-bucketed storage for n floats; contents unspecified. n may be 0. */
  alloc(n: number): GpuStorage {
    this.throwIfFailed();
    return this.pool.alloc(n);
  }

  /** Back to the pool; safe right after encoding work that uses s (dispatch order is kept). */
  release(s: GpuStorage): void {
    if (this.disposed) return;
    if (!(s instanceof PooledStorage) || s.owner !== this.pool) throw new GpuError('release: not a storage of this WebGPU backend');
    if (s.released || this.held.releasePending(s)) throw new GpuError('release: storage released twice');
    if (this.held.slots.size && this.held.touches([s])) {
      // a held-back launch still uses it: it goes back to the pool once that launch is encoded
      // (flushing here would cut the merges short: a backward rule releases its dy right away)
      this.held.releaseLater(s);
      return;
    }
    s.released = true;
    if (s.isView) return; // the buffer belongs to the viewed storage
    const slot = s.slot;
    this.pool.release(slot, this.recorder !== null, slot.lastUseEpoch === this.batch.epoch && this.batch.encoder !== null);
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
    const slot = this.pool.slotOf(base, 'view');
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
    return this.pool.view(slot, n, offset, span);
  }

  upload(data: Float32Array): GpuStorage {
    const s = this.alloc(data.length);
    this.write(s, data, 0);
    return s;
  }

  /** Overwrite s[offset .. offset+data.length). Flushes first when unsubmitted work uses s. */
  write(s: GpuStorage, data: Float32Array, offset = 0): void {
    this.throwIfFailed();
    const slot = this.pool.slotOf(s, 'write');
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > s.length) {
      throw new GpuError(`write: ${data.length} values at offset ${offset} do not fit a storage of length ${s.length}`);
    }
    if (data.length === 0) return;
    if (this.held.slots.size && this.held.touches([s])) this.flushDeferred([s]);
    if (slot.lastUseEpoch === this.batch.epoch && this.batch.encoder) this.flush();
    const byteOffset = ((s as PooledStorage).offset + offset) * 4;
    this.device.queue.writeBuffer(slot.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    if (this.recorder) this.recorder.write(slot, byteOffset, data);
  }

  /** The first n (default s.length) values; flushes pending work. */
  async read(s: GpuStorage, n = s.length): Promise<Float32Array> {
    this.throwIfFailed();
    if (this.recorder) throw new GpuError('read: not allowed while a capture records (a captured step must not wait on the device)');
    const slot = this.pool.slotOf(s, 'read');
    this.flushDeferred();
    if (!Number.isInteger(n) || n < 0 || n > s.length) {
      throw new GpuError(`read: n = ${n} is outside [0, ${s.length}] for this storage`);
    }
    if (n === 0) {
      await this.settleErrors();
      return new Float32Array(0);
    }
    return this.readback.read({ slot, start: (s as PooledStorage).offset * 4, bytes: n * 4 });
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
      const slot = this.pool.slotOf(s, `readMany item ${i}`);
      const count = n ?? s.length;
      if (!Number.isInteger(count) || count < 0 || count > s.length) {
        throw new GpuError(`readMany: item ${i}: n = ${count} is outside [0, ${s.length}] for this storage`);
      }
      return { slot, start: (s as PooledStorage).offset * 4, bytes: count * 4 };
    });
    this.flushDeferred();
    // too much for one staging buffer: one storage at a time
    return (await this.readback.readMany(reqs)) ?? Promise.all(items.map(({ s, n }) => this.read(s, n)));
  }

  /** Destroy every pooled (not live) buffer, e.g. between phases with different tensor sizes. */
  trim(): void {
    this.flushDeferred();
    this.flush();
    this.pool.trim();
  }

  memoryStats(): MemoryStats {
    return this.pool.stats();
  }

  /** Kernel dispatches (and in-stream buffer copies) encoded since start. */
  dispatchCount(): number {
    return this.batch.dispatches;
  }

  /** Command buffers submitted since start (batching makes this ~dispatchCount / batchSize). */
  submitCount(): number {
    return this.batch.submits;
  }

  /** Destroy every buffer and the device. Later calls throw GpuError. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.errors.dispose();
    this.held.clear();
    this.batch.drop();
    this.pool.destroyAll();
    this.bindGroups.destroy();
    this.pipelines.clear();
    this.device.destroy();
  }
}
