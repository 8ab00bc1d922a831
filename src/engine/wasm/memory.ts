// Wasm-memory storages: every tensor of the wasm backend is a Float32Array over the one
// WebAssembly.Memory its kernels (and worker threads) address, so the reference kernels inherited from
// the CPU backend run on the same arrays the Wasm kernels read by byte offset.
//
// Allocation: a bump pointer in 64-byte steps (a cache line, and v128-aligned) plus free lists keyed by
// exact size, as CpuMemoryPool recycles (training loops allocate the same shapes every step). Freed
// blocks are never returned to the bump pointer or merged.
//
// Growth: a shared memory grows in place — earlier Float32Arrays stay valid — so storages are plain
// views. An unshared memory (browsers without cross-origin isolation) detaches its buffer when it
// grows, so it is created at its full size up front and never grows.
import type { MemoryStats } from '../backend.js';
import { CpuStorage, type StoragePool } from '../cpu/storage.js';
import { MAX_PAGES, PAGE_BYTES } from './module.js';

/** A storage of the wasm backend: `data` lies in the backend's memory at byte offset `ptr`. */
export class WasmStorage extends CpuStorage {
  constructor(data: Float32Array, isView = false) { super(data, isView); }
  get ptr(): number { return this.data.byteOffset; }
}

const ALIGN = 64;
/** What a user can change when the memory runs out: a step keeps every activation of the supernet
 *  for the backward pass, in proportion to the batch and the channels. */
const LOWER = 'the activations a step keeps grow with the batch and the channels: lower --batch-size or --channels ' +
  '(or run on a WebGPU device)';

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}
/** Bytes below this offset are left to the kernel module's own (tiny) static data and stack. */
const HEAP_BASE = 1 << 20;

export class WasmMemoryPool implements StoragePool {
  private readonly free = new Map<number, WasmStorage[]>();
  private top = HEAP_BASE;
  private liveBytes = 0;
  private pooledBytes = 0;
  private peakBytes = 0;
  private created = 0;

  /** `maxPages`: the most the memory may grow to (the 4 GiB a 32-bit Wasm memory addresses; tests pass less). */
  constructor(readonly memory: WebAssembly.Memory, readonly shared: boolean, private readonly maxPages = MAX_PAGES) {}

  /** Bytes the memory can hold without growing. */
  private get capacity(): number { return this.memory.buffer.byteLength; }

  private carve(bytes: number): number {
    const at = this.top;
    const end = at + Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    if (end > this.capacity) {
      if (!this.shared) {
        throw new Error(`wasm backend: out of memory (${mib(this.capacity)} MiB without shared memory, which cannot grow, ` +
          `all in use; ${mib(bytes)} MiB more asked for): serve the page cross-origin isolated or pass a larger memoryMiB, ${LOWER}`);
      }
      const pages = Math.ceil((end - this.capacity) / PAGE_BYTES);
      const have = this.capacity / PAGE_BYTES;
      if (have + pages > this.maxPages) {
        throw new Error(`wasm backend: out of memory: the ${mib(this.maxPages * PAGE_BYTES)} MiB a Wasm memory can address are used up (${mib(this.liveBytes)} MiB ` +
          `live, ${mib(this.pooledBytes)} MiB pooled, ${mib(bytes)} MiB more asked for); ${LOWER}`);
      }
      // grow by at least a quarter of what exists, so a training loop's first step grows a few times, not hundreds
      this.memory.grow(Math.min(this.maxPages - have, Math.max(pages, Math.ceil(have / 4))));
    }
    this.top = end;
    return at;
  }

  alloc(n: number): WasmStorage {
    if (!Number.isInteger(n) || n < 0) throw new Error(`alloc: element count ${n} must be a non-negative integer`);
    const list = this.free.get(n);
    let s = list?.pop();
    if (s) {
      this.pooledBytes -= 4 * n;
      s.live = true;
    } else {
      const at = this.carve(4 * n);
      s = new WasmStorage(new Float32Array(this.memory.buffer, at, n));
      this.created++;
    }
    this.liveBytes += 4 * n;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes + this.pooledBytes);
    return s;
  }

  release(s: CpuStorage): void {
    if (!(s instanceof WasmStorage)) throw new Error('release: not a storage of the wasm backend');
    if (!s.live) throw new Error(`release: storage of ${s.length} values was already released`);
    s.live = false;
    if (s.isView) return;
    const n = s.length;
    this.liveBytes -= 4 * n;
    this.pooledBytes += 4 * n;
    let list = this.free.get(n);
    if (!list) { list = []; this.free.set(n, list); }
    list.push(s);
  }

  viewOf(base: CpuStorage, offset: number, n: number): WasmStorage {
    return new WasmStorage(base.data.subarray(offset, offset + n), true);
  }

  /** Pooled blocks stay carved (the memory cannot shrink); they are forgotten with the backend. */
  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }

  stats(): MemoryStats {
    return { liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peakBytes, created: this.created };
  }
}
