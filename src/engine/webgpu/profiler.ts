// Per-dispatch device timing of the WebGPU runtime (GpuRuntime.startProfile / stopProfile): every
// dispatch gets a compute pass of its own whose start and end timestamps (feature `timestamp-query`)
// bracket it; each batch's timestamps are resolved into a buffer read back asynchronously, and
// device time is summed per pipeline label.
import { MAP_READ, QUERY_RESOLVE_USAGE, STAGING_USAGE } from './storage.js';

/** Device time of one pipeline label over a profiling window. */
export interface ProfileEntry { label: string; count: number; ns: number }

export class DispatchProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly capacity: number;
  /** queries written in the open batch */
  private used = 0;
  /** label of each dispatch of the open batch (queries 2i, 2i+1) */
  private labels: string[] = [];
  private readonly reads: Promise<void>[] = [];
  private readonly totals = new Map<string, { count: number; ns: number }>();

  /** `batchSize`: dispatches per batch (the query set holds one batch's pairs, at least 64). */
  constructor(private readonly device: GPUDevice, batchSize: number) {
    this.capacity = 2 * Math.max(batchSize, 64);
    this.querySet = device.createQuerySet({ type: 'timestamp', count: this.capacity, label: 'profile' });
  }

  /** Whether the open batch has queries left for one more dispatch (else the caller submits first). */
  hasRoom(): boolean {
    return this.used + 2 <= this.capacity;
  }

  /** The timestamp writes of the next dispatch's pass, named `label`. */
  timestampWrites(label: string): GPUComputePassTimestampWrites {
    const at = this.used;
    this.used += 2;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: at, endOfPassWriteIndex: at + 1 };
  }

  /** Before the batch is submitted: resolve its timestamps into a buffer read back asynchronously. */
  resolve(enc: GPUCommandEncoder): void {
    if (this.used === 0) return;
    const bytes = this.used * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: QUERY_RESOLVE_USAGE, label: 'profile-resolve' });
    const staging = this.device.createBuffer({ size: bytes, usage: STAGING_USAGE, label: 'profile-read' });
    enc.resolveQuerySet(this.querySet, 0, this.used, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    const labels = this.labels;
    this.labels = [];
    this.used = 0;
    this.reads.push((async () => {
      // mapAsync waits for the submit that follows this call
      await new Promise<void>((r) => setImmediate(r));
      await staging.mapAsync(MAP_READ);
      const t = new BigInt64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      resolve.destroy();
      labels.forEach((label, i) => {
        const ns = Math.max(0, Number(t[2 * i + 1] - t[2 * i]));
        const e = this.totals.get(label);
        if (e) { e.count++; e.ns += ns; } else this.totals.set(label, { count: 1, ns });
      });
    })());
  }

  /** After the last batch was submitted: device nanoseconds and dispatch counts per pipeline label,
   *  largest first. */
  async finish(): Promise<ProfileEntry[]> {
    await Promise.all(this.reads);
    this.querySet.destroy();
    return [...this.totals.entries()].map(([label, t]) => ({ label, count: t.count, ns: t.ns }))
      .sort((a, b) => b.ns - a.ns);
  }
}
