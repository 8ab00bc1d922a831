// The size-bucketed buffer pool of the WebGPU runtime: storage buffers (handed out as PooledStorage),
// readback staging buffers, pinning for captures, and the memory figures.
//
// Buffers are destroyed only right after a submit (trimming, the cap on pooled bytes), never while
// the open encoder may reference them; whoever destroys buffers tells `onDestroyed` their ids so
// that cached bind groups naming them go too.
import type { MemoryStats } from '../backend.js';
import { GpuError } from './device.js';
import { PooledStorage, STAGING_USAGE, STORAGE_USAGE, type GpuStorage, type PoolBuffer } from './storage.js';

const MIN_BUFFER_BYTES = 256;

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

export class BufferPool {
  private nextBufferId = 1;
  private readonly freeBuffers = new Map<number, PoolBuffer[]>();
  private readonly freeStaging = new Map<number, GPUBuffer[]>();
  private readonly liveSlots = new Set<PoolBuffer>();
  /** pinned buffers that no tensor owns any more (released while pinned, or free when pinned) */
  private readonly pinnedIdle = new Set<PoolBuffer>();
  private destroyAfterSubmit: PoolBuffer[] = [];
  private liveBytes = 0;
  private pooledBytes = 0;
  private peakBytes = 0;
  /** device buffers created by the runtime (pool, staging, uniforms, captures) */
  private created = 0;

  constructor(private readonly device: GPUDevice, private readonly limits: GPUSupportedLimits,
    private readonly maxPooledBytes: number, private readonly onDestroyed: (ids: Set<number>) => void) {}

  /** Count a device buffer created outside the pool (uniform blocks, capture uniforms). */
  noteCreated(): void {
    this.created++;
  }

  /** Pooled, size-bucketed storage for n floats; contents unspecified. n may be 0. */
  alloc(n: number): PooledStorage {
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

  /** A view's handle on `slot` (it owns nothing; the caller checked the range). */
  view(slot: PoolBuffer, n: number, offset: number, span: number): PooledStorage {
    return new PooledStorage(slot, n, this, offset, span, true);
  }

  /** The pooled buffer of a live storage of this pool; `what` names the caller in errors. */
  slotOf(s: GpuStorage, what: string): PoolBuffer {
    if (!(s instanceof PooledStorage) || s.owner !== this) {
      throw new GpuError(`${what}: not a storage of this WebGPU backend`);
    }
    if (s.released) throw new GpuError(`${what}: storage used after release`);
    return s.slot;
  }

  /**
   * A released storage's buffer back to the pool. Pinned: it stays out until its captures are
   * disposed. Over the cap on pooled bytes (and not `recording`: a capture may still pin it):
   * destroyed — after the next submit when `inOpenBatch` (unsubmitted work uses it).
   */
  release(slot: PoolBuffer, recording: boolean, inOpenBatch: boolean): void {
    if (slot.pins) {
      this.pinnedIdle.add(slot);
      return;
    }
    this.liveSlots.delete(slot);
    this.liveBytes -= slot.bytes;
    if (this.pooledBytes + slot.bytes > this.maxPooledBytes && !recording) {
      if (inOpenBatch) this.destroyAfterSubmit.push(slot);
      else {
        slot.buffer.destroy();
        this.onDestroyed(new Set([slot.id]));
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

  /** A capture uses `slot`: a buffer already back in the pool (an intermediate of the recorded
   *  step) leaves it until unpinned. */
  pin(slot: PoolBuffer): void {
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

  /** A capture using `slot` is gone: with no pins left and no tensor owning it, it joins the pool
   *  (dispatch order keeps pending replays safe). */
  unpin(slot: PoolBuffer): void {
    slot.pins = (slot.pins ?? 1) - 1;
    if (slot.pins === 0 && this.pinnedIdle.delete(slot)) {
      this.liveSlots.delete(slot);
      this.liveBytes -= slot.bytes;
      this.poolSlot(slot);
      this.pooledBytes += slot.bytes;
    }
  }

  /** A mappable staging buffer of (at least) `bytes`, from the staging pool or new. */
  takeStaging(bytes: number): GPUBuffer {
    let staging = this.freeStaging.get(bytes)?.pop();
    if (!staging) {
      staging = this.device.createBuffer({ size: bytes, usage: STAGING_USAGE, label: 'readback' });
      this.created++;
    }
    return staging;
  }

  /** An unmapped staging buffer of `bytes` (as asked of takeStaging) back to its pool. */
  returnStaging(bytes: number, staging: GPUBuffer): void {
    let list = this.freeStaging.get(bytes);
    if (!list) this.freeStaging.set(bytes, (list = []));
    list.push(staging);
  }

  /** Right after a submit: destroy the buffers released over the cap while the batch used them. */
  afterSubmit(): void {
    if (this.destroyAfterSubmit.length === 0) return;
    for (const s of this.destroyAfterSubmit) s.buffer.destroy();
    this.onDestroyed(new Set(this.destroyAfterSubmit.map((s) => s.id)));
    this.destroyAfterSubmit = [];
  }

  /** Destroy every pooled (not live) buffer; call right after a submit. */
  trim(): void {
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
    this.onDestroyed(ids);
  }

  stats(): MemoryStats {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peakBytes, created: this.created };
  }

  /** Destroy every buffer, live or pooled (the runtime is disposed). */
  destroyAll(): void {
    for (const list of this.freeBuffers.values()) for (const s of list) s.buffer.destroy();
    for (const s of this.liveSlots) s.buffer.destroy();
    for (const list of this.freeStaging.values()) for (const b of list) b.destroy();
    this.freeBuffers.clear();
    this.liveSlots.clear();
    this.freeStaging.clear();
  }
}
