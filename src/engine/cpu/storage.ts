// CPU memory: a storage is a Float32Array, recycled through a free list keyed by exact size.
//
// Training loops allocate the same shapes every step, so exact-size reuse hits almost always and
// keeps `created` flat after the first step, which is what memoryStats users check.
import type { MemoryStats, Storage } from '../backend.js';

export class CpuStorage implements Storage {
  /** false once given back to the pool; catches use-after-release and double release */
  live = true;
  /** a view (CpuBackend.view): a subarray of another storage, never pooled */
  constructor(readonly data: Float32Array, readonly isView = false) {}
  get length(): number { return this.data.length; }
}

/** Where a CPU-style backend's storages come from (CpuMemoryPool; the wasm backend's WasmMemoryPool). */
export interface StoragePool {
  alloc(n: number): CpuStorage;
  release(s: CpuStorage): void;
  clear(): void;
  stats(): MemoryStats;
  /** n values of base from offset on, sharing its memory (Backend.view; arguments already checked) */
  viewOf(base: CpuStorage, offset: number, n: number): CpuStorage;
}

export class CpuMemoryPool implements StoragePool {
  private readonly free = new Map<number, CpuStorage[]>();
  private liveBytes = 0;
  private pooledBytes = 0;
  private peakBytes = 0;
  private created = 0;

  alloc(n: number): CpuStorage {
    if (!Number.isInteger(n) || n < 0) throw new Error(`alloc: element count ${n} must be a non-negative integer`);
    const list = this.free.get(n);
    let s = list?.pop();
    if (s) {
      this.pooledBytes -= 4 * n;
      s.live = true;
    } else {
      s = new CpuStorage(new Float32Array(n));
      this.created++;
    }
    this.liveBytes += 4 * n;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.pooledBytes);
    return s;
  }

  release(s: CpuStorage): void {
    if (!s.live) throw new Error(`release: storage of ${s.length} values was already released`);
    s.live = false;
    if (s.isView) return; // its memory is the viewed storage's
    const n = s.length;
    this.liveBytes -= 4 * n;
    this.pooledBytes += 4 * n;
    let list = this.free.get(n);
    if (!list) { list = []; this.free.set(n, list); }
    list.push(s);
  }

  viewOf(base: CpuStorage, offset: number, n: number): CpuStorage {
    return new CpuStorage(base.data.subarray(offset, offset + n), true);
  }

  /** Drop every pooled buffer (the garbage collector takes them). */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }

  stats(): MemoryStats {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peakBytes, created: this.created };
  }
}
