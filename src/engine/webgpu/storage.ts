// The storage handle kernels see, the pooled device buffer behind it, and the buffer usage flags.
import type { Storage } from '../backend.js';

export interface GpuStorage extends Storage {
  readonly buffer: GPUBuffer;
  readonly length: number;
}

/** One device buffer owned by the pool (buffer-pool.ts). */
export interface PoolBuffer {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly id: number;
  /** submit epoch of the last encoded command that used it (== the batch's epoch: still unsubmitted) */
  lastUseEpoch: number;
  /** live captures whose dispatch list uses it: while > 0 the pool never hands it out */
  pins?: number;
}

/** The handle a kernel sees. `slot` is the pooled buffer; `released` guards use after release. A
 *  view (GpuRuntime.view) is a range of another storage's buffer: `offset` values in, `span` values
 *  bound (its length rounded up to the view alignment); it owns nothing — releasing it only ends
 *  the handle. A plain storage has offset 0 and spans its whole buffer. `owner`: the pool that made
 *  it (a storage of another runtime is rejected). */
export class PooledStorage implements GpuStorage {
  released = false;
  constructor(readonly slot: PoolBuffer, readonly length: number, readonly owner: object,
    readonly offset = 0, readonly span = slot.bytes / 4, readonly isView = false) {}
  get buffer(): GPUBuffer { return this.slot.buffer; }
}

/** Whether two storages can touch the same bytes (same buffer, overlapping ranges). */
export function overlaps(a: PooledStorage, b: PooledStorage): boolean {
  return a.slot === b.slot && a.offset < b.offset + b.span && b.offset < a.offset + a.span;
}

/** A storage's binding: the whole buffer, or a view's range. */
export function bufferBinding(s: PooledStorage): GPUBufferBinding {
  return s.isView ? { buffer: s.slot.buffer, offset: s.offset * 4, size: s.span * 4 } : { buffer: s.slot.buffer };
}

// GPUBufferUsage / GPUMapMode values (the globals may load late)
export const STORAGE_USAGE = 0x0080 | 0x0004 | 0x0008; // STORAGE | COPY_SRC | COPY_DST
export const STAGING_USAGE = 0x0001 | 0x0008;          // MAP_READ | COPY_DST
export const UNIFORM_USAGE = 0x0040 | 0x0008;          // UNIFORM | COPY_DST
export const QUERY_RESOLVE_USAGE = 0x0200 | 0x0004;    // QUERY_RESOLVE | COPY_SRC
export const MAP_READ = 0x0001;
/** One dispatch's uniform block: >= minUniformBufferOffsetAlignment everywhere */
export const UNIFORM_SLOT_BYTES = 256;
