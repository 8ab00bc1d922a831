// Held-back launches of the WebGPU runtime (GpuRuntime.defer / flushDeferred): launches whose
// results nobody needs yet, kept per family so that a family can merge them into few launches.
// What each storage a held launch touches is recorded (by buffer and range) so that anything
// about to bind, copy, write, read or release it encodes the held launches first.
import type { BufferPool } from './buffer-pool.js';
import type { GpuRuntime } from './runtime.js';
import { overlaps, PooledStorage, type GpuStorage, type PoolBuffer } from './storage.js';

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

export class DeferredLaunches {
  /** items per family, in deferral order */
  private items = new Map<DeferredFamily<unknown>, unknown[]>();
  /** the buffers held launches touch, with the range and family of each touch (read per dispatch:
   *  empty means nothing to check) */
  readonly slots = new Map<PoolBuffer, { range: PooledStorage; family: DeferredFamily<unknown> }[]>();
  /** storages to release once no held launch touches them */
  private pendingRelease: GpuStorage[] = [];
  /** set while flush encodes held launches (they never trigger a nested flush) */
  flushing = false;

  /** `rt`: handed to the families' run, and releases the postponed storages. */
  constructor(private readonly rt: GpuRuntime, private readonly pool: BufferPool) {}

  /** Hold `item` of `family`; `touches`: every storage it reads or writes. */
  add(family: DeferredFamily<unknown>, item: unknown, touches: GpuStorage[], releaseAfter: GpuStorage[]): void {
    for (const t of touches) {
      const slot = this.pool.slotOf(t, `defer ${family.name}`);
      let held = this.slots.get(slot);
      if (!held) this.slots.set(slot, (held = []));
      held.push({ range: t as PooledStorage, family });
    }
    let items = this.items.get(family);
    if (!items) this.items.set(family, (items = []));
    items.push(item);
    this.pendingRelease.push(...releaseAfter);
  }

  /** Whether `s` waits to be released after held launches. */
  releasePending(s: GpuStorage): boolean {
    return this.pendingRelease.includes(s);
  }

  /** Release `s` once no held launch touches it (see GpuRuntime.release). */
  releaseLater(s: GpuStorage): void {
    this.pendingRelease.push(s);
  }

  /** Encode held launches now: all, or the families touching `touching` and those ordered before
   *  them (GpuRuntime.flushDeferred). */
  flush(touching: GpuStorage[] | null): void {
    if (this.items.size === 0) return;
    for (;;) {
      // recomputed each round: a run may hold new launches that touch the same buffers (a weight
      // gradient's split-K sum writes the gradient the caller is about to read)
      let upTo = touching ? -Infinity : Infinity;
      if (touching) for (const f of this.familiesTouching(touching)) upTo = Math.max(upTo, orderOf(f));
      const due = [...this.items.keys()].filter((f) => orderOf(f) <= upTo).sort((a, b) => orderOf(a) - orderOf(b));
      if (due.length === 0) break;
      const runs = due.map((f) => [f, this.items.get(f)!] as const);
      for (const f of due) this.items.delete(f);
      for (const [slot, held] of this.slots) {
        const left = held.filter((h) => !due.includes(h.family));
        if (left.length === 0) this.slots.delete(slot);
        else this.slots.set(slot, left);
      }
      // the launches being encoded touch buffers that held items of later families read (a
      // convolution's output, read by held BN statistics): no nested flush may run those first
      this.flushing = true;
      try {
        for (const [family, items] of runs) family.run(this.rt, items);
      } finally {
        this.flushing = false;
      }
    }
    // postponed releases whose buffers no held launch touches any more
    const release = this.pendingRelease;
    this.pendingRelease = [];
    for (const r of release) {
      if (r instanceof PooledStorage && this.touches([r])) this.pendingRelease.push(r);
      else this.rt.release(r);
    }
  }

  /** The families with a held launch touching one of these storages (ranges of one buffer that do
   *  not overlap, e.g. two views of a gradient arena, do not touch each other). */
  familiesTouching(storages: GpuStorage[]): Set<DeferredFamily<unknown>> {
    const out = new Set<DeferredFamily<unknown>>();
    for (const st of storages) {
      if (!(st instanceof PooledStorage)) continue;
      const held = this.slots.get(st.slot);
      if (held) for (const h of held) if (overlaps(h.range, st)) out.add(h.family);
    }
    return out;
  }

  /** Whether any of these storages is touched by a held-back launch. */
  touches(storages: GpuStorage[]): boolean {
    for (const st of storages) {
      if (!(st instanceof PooledStorage)) continue;
      const held = this.slots.get(st.slot);
      if (held && held.some((h) => overlaps(h.range, st))) return true;
    }
    return false;
  }

  /** Forget everything held (the runtime is disposed). */
  clear(): void {
    this.items.clear();
    this.slots.clear();
    this.pendingRelease = [];
  }
}
