// Capture and replay of the WebGPU runtime (GpuRuntime.beginCapture / endCapture): the command list
// of a recorded step, sealed with bind groups and uniforms of its own, and its buffers pinned.
import { layoutOf, type PipelineEntry } from './pipelines.js';
import type { BufferPool } from './buffer-pool.js';
import type { GpuRuntime } from './runtime.js';
import { bufferBinding, UNIFORM_SLOT_BYTES, UNIFORM_USAGE, type PooledStorage, type PoolBuffer } from './storage.js';

/** One recorded command of a capture. */
export type CapturedOp =
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

/** The commands recorded so far and the buffers they touch. */
export class CaptureRecorder {
  readonly ops: CapturedOp[] = [];
  readonly touched = new Set<PoolBuffer>();

  dispatch(pipe: PipelineEntry, bindGroup: GPUBindGroup, words: Uint32Array | null, slots: PoolBuffer[],
    bindings: PooledStorage[], x: number, y: number, z: number): void {
    this.ops.push({ kind: 'dispatch', pipe, bindGroup, words, slots: slots.slice(), resources: bindings.map(bufferBinding), x, y, z });
    for (const s of slots) this.touched.add(s);
  }

  copy(a: PoolBuffer, b: PoolBuffer, srcByte: number, dstByte: number, bytes: number): void {
    this.ops.push({ kind: 'copy', a, b, srcByte, dstByte, bytes });
    this.touched.add(a).add(b);
  }

  /** `data` is copied (the caller may reuse its array). */
  write(slot: PoolBuffer, byteOffset: number, data: Float32Array): void {
    this.ops.push({ kind: 'write', slot, byteOffset, data: data.slice() });
    this.touched.add(slot);
  }

  /**
   * The capture of what was recorded: own uniforms (the bind-group cache may rewrite a cached
   * variant's uniform slot for other params later, so every recorded dispatch with params gets a
   * slot in one buffer of the capture, and a bind group on it), and every touched buffer pinned.
   */
  seal(rt: GpuRuntime, device: GPUDevice, pool: BufferPool): GpuCapture {
    const withParams = this.ops.filter((o): o is Extract<CapturedOp, { kind: 'dispatch' }> => o.kind === 'dispatch' && o.words !== null);
    let uniforms: GPUBuffer | null = null;
    if (withParams.length) {
      uniforms = device.createBuffer({ size: withParams.length * UNIFORM_SLOT_BYTES, usage: UNIFORM_USAGE, label: 'capture-uniforms' });
      pool.noteCreated();
      const all = new Uint32Array(withParams.length * UNIFORM_SLOT_BYTES / 4);
      withParams.forEach((o, k) => {
        all.set(o.words!, k * UNIFORM_SLOT_BYTES / 4);
        const entries: GPUBindGroupEntry[] = o.resources.map((r, b) => ({ binding: b, resource: r }));
        entries.push({ binding: o.slots.length, resource: { buffer: uniforms!, offset: k * UNIFORM_SLOT_BYTES, size: o.words!.length * 4 } });
        o.bindGroup = device.createBindGroup({ label: `${o.pipe.label} (captured)`, layout: layoutOf(o.pipe), entries });
      });
      device.queue.writeBuffer(uniforms, 0, all.buffer, 0, all.byteLength);
    }
    for (const slot of this.touched) pool.pin(slot);
    return new GpuCapture(rt, this.ops, this.touched, uniforms);
  }
}
