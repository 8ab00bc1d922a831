// Readback of the WebGPU runtime: copies into a pooled staging buffer, one submit, one map. Many
// storages are read in one round trip, with close ranges of one buffer copied as one range (GM
// scoring reads a few hundred gradients per pass, the views of a gradient arena).
import { bucketBytes, type BufferPool } from './buffer-pool.js';
import type { CommandBatch } from './command-batch.js';
import { GpuError } from './device.js';
import { MAP_READ, type PoolBuffer } from './storage.js';

/** readMany copies two ranges of one buffer as one when at most this many bytes lie between them */
const READ_MERGE_GAP_BYTES = 4096;

/** One range to read: `bytes` bytes of `slot` from byte `start`. */
export interface ReadRequest { slot: PoolBuffer; start: number; bytes: number }

export class Readback {
  /** `flush`: submits the open batch; `settle`: waits for the error scopes and throws what they
   *  reported (GpuRuntime's). */
  constructor(private readonly pool: BufferPool, private readonly batch: CommandBatch, private readonly maxBufferSize: number,
    private readonly flush: () => void, private readonly settle: () => Promise<void>) {}

  /** The values of one range (bytes > 0). */
  read(req: ReadRequest): Promise<Float32Array> {
    const { slot, start, bytes } = req;
    return this.throughStaging('read', bytes, (enc, staging) => {
      enc.copyBufferToBuffer(slot.buffer, start, staging, 0, bytes);
      slot.lastUseEpoch = this.batch.epoch;
    }, (mapped) => new Float32Array(mapped.slice(0)));
  }

  /** The values of each range, in one round trip; null when they do not fit one staging buffer. */
  async readMany(reqs: readonly ReadRequest[]): Promise<Float32Array[] | null> {
    // merged copy ranges: by buffer, then start; a range absorbs the next one when the gap is small
    const at = new Array<number>(reqs.length).fill(0);
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
      at[i] = last.staged + (r.start - last.start);
    }
    const last = ranges[ranges.length - 1];
    const total = last ? last.staged + (last.end - last.start) : 0;
    if (total === 0) {
      await this.settle();
      return reqs.map(() => new Float32Array(0));
    }
    if (total > this.maxBufferSize) return null;
    return this.throughStaging('readMany', total, (enc, staging) => {
      for (const g of ranges) {
        enc.copyBufferToBuffer(g.slot.buffer, g.start, staging, g.staged, g.end - g.start);
        g.slot.lastUseEpoch = this.batch.epoch;
      }
    }, (mapped) => reqs.map((r, i) => new Float32Array(mapped.slice(at[i], at[i] + r.bytes))));
  }

  /**
   * One readback: a pooled staging buffer of `bytes` (rounded to its bucket), the copies `copy` encodes
   * into it, one submit and map, `extract` reading the mapped range before it is unmapped, the staging
   * buffer back to its pool. `who` names the caller in errors.
   */
  private async throughStaging<T>(who: string, bytes: number, copy: (enc: GPUCommandEncoder, staging: GPUBuffer) => void,
    extract: (mapped: ArrayBuffer) => T): Promise<T> {
    const stagingBytes = bucketBytes(bytes);
    const staging = this.pool.takeStaging(stagingBytes);
    copy(this.batch.encoderOutsidePass(), staging);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
    } catch (e) {
      await this.settle();
      throw new GpuError(`${who}: mapping the readback buffer failed: ${(e as Error).message}`);
    }
    const out = extract(staging.getMappedRange(0, bytes));
    staging.unmap();
    this.pool.returnStaging(stagingBytes, staging);
    await this.settle();
    return out;
  }
}
