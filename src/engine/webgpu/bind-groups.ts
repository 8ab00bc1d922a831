// Bind groups and uniform parameters of the WebGPU runtime.
//
// Creating a bind group costs ~55 µs on lavapipe and a buffer ~65 µs, against ~3.5 µs for a small
// writeBuffer. A training step repeats the same (pipeline, buffers, params) tuples, so bind groups
// are cached by (pipeline, buffer ids) with a few "variants" per key, each owning a 256-byte uniform
// slot: same params → reuse as is; new params → rewrite the slot of a variant not used in the open
// batch (safe: its earlier users are already submitted, and queue order puts the write after them);
// otherwise a new variant. Slots are recycled only after a submit. Keys are dropped least recently
// used first past `maxKeys`, and with the buffers they name when those are destroyed.
import { GpuError } from './device.js';
import { layoutOf, type PipelineEntry } from './pipelines.js';
import type { BufferPool } from './buffer-pool.js';
import type { CommandBatch } from './command-batch.js';
import { bufferBinding, overlaps, UNIFORM_SLOT_BYTES, UNIFORM_USAGE, type GpuStorage, type PoolBuffer, type PooledStorage } from './storage.js';

/** Uniform parameters. The WGSL struct declares ALL u32 fields first (in this order), then all i32
 *  fields, then all f32 fields; each 4 bytes; the runtime pads the block to a multiple of 16 bytes. */
export interface ParamBlock { u?: number[]; i?: number[]; f?: number[] }

interface UniformSlot { buffer: GPUBuffer; offset: number }

interface BindVariant {
  bindGroup: GPUBindGroup;
  uniform: UniformSlot | null;
  /** the params' words (empty without params) */
  words: Uint32Array;
  epoch: number;
}

interface BindEntry { variants: BindVariant[]; bufferIds: number[] }

const UNIFORM_BLOCK_BYTES = 64 * 1024;
const MAX_VARIANTS_PER_KEY = 64;

/**
 * The pooled buffers of a dispatch's bindings, checked: storages of this runtime, not released,
 * at most maxStorageBuffersPerShaderStage, and no buffer written through one binding while bound
 * through another.
 */
export function checkBindings(pool: BufferPool, bindings: GpuStorage[], label: string, readOnly: number,
  maxStorageBindings: number): PoolBuffer[] {
  if (bindings.length > maxStorageBindings) {
    throw new GpuError(`${label}: ${bindings.length} storage bindings exceed maxStorageBuffersPerShaderStage (${maxStorageBindings})`);
  }
  const slots: PoolBuffer[] = new Array(bindings.length);
  for (let i = 0; i < bindings.length; i++) {
    const s = pool.slotOf(bindings[i], `${label} binding ${i}`);
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

export class BindGroupCache {
  private readonly bindGroups = new Map<string, BindEntry>();
  private readonly uniformBlocks: GPUBuffer[] = [];
  private readonly freeUniformSlots: UniformSlot[] = [];
  private readonly paramWords = new Uint32Array(UNIFORM_SLOT_BYTES / 4);
  private readonly paramInts = new Int32Array(this.paramWords.buffer);
  private readonly paramFloats = new Float32Array(this.paramWords.buffer);
  /** the params words of the bind group chosen last (a capture copies them: recordedWords) */
  private lastWords = 0;

  /** `flush`: submits the open batch (when every variant of a key is in use by it). */
  constructor(private readonly device: GPUDevice, private readonly pool: BufferPool, private readonly batch: CommandBatch,
    private readonly maxKeys: number, private readonly flush: () => void) {}

  /** The params words of the bind group `get` returned last (a copy). */
  recordedWords(): Uint32Array {
    return this.paramWords.slice(0, this.lastWords);
  }

  /** A bind group of `pipe` binding these storages (and a uniform block with `params`). */
  get(pipe: PipelineEntry, bindings: PooledStorage[], slots: PoolBuffer[], params?: ParamBlock): GPUBindGroup {
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
    const epoch = this.batch.epoch;
    let reusable: BindVariant | null = null;
    for (const v of entry.variants) {
      if (this.sameWords(v.words, words)) {
        v.epoch = epoch;
        return v.bindGroup;
      }
      if (!reusable && v.epoch < epoch) reusable = v;
    }
    if (reusable && reusable.uniform) {
      // Its last users are submitted; a queue write now lands after them and before this batch.
      this.device.queue.writeBuffer(reusable.uniform.buffer, reusable.uniform.offset, this.paramWords, 0, words);
      reusable.words.set(this.paramWords.subarray(0, words));
      reusable.epoch = epoch;
      return reusable.bindGroup;
    }
    if (entry.variants.length >= MAX_VARIANTS_PER_KEY) {
      // every variant is in use by the open batch with other params: submit, then any can be rewritten
      this.flush();
      return this.get(pipe, bindings, slots, params);
    }
    const entries: GPUBindGroupEntry[] = bindings.map((s, b) => ({ binding: b, resource: bufferBinding(s) }));
    let uniform: UniformSlot | null = null;
    if (params) {
      uniform = this.takeUniformSlot();
      this.device.queue.writeBuffer(uniform.buffer, uniform.offset, this.paramWords, 0, words);
      entries.push({ binding: slots.length, resource: { buffer: uniform.buffer, offset: uniform.offset, size: words * 4 } });
    }
    const bindGroup = this.device.createBindGroup({ label: pipe.label, layout: layoutOf(pipe), entries });
    entry.variants.push({ bindGroup, uniform, words: this.paramWords.slice(0, words), epoch });
    return bindGroup;
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
    this.pool.noteCreated();
    this.uniformBlocks.push(buffer);
    for (let off = UNIFORM_BLOCK_BYTES - UNIFORM_SLOT_BYTES; off > 0; off -= UNIFORM_SLOT_BYTES) {
      this.freeUniformSlots.push({ buffer, offset: off });
    }
    return { buffer, offset: 0 };
  }

  /** Right after a submit: past `maxKeys` keys, drop the least recently used down to 3/4 of it. */
  afterSubmit(): void {
    if (this.bindGroups.size > this.maxKeys) {
      const target = Math.floor(this.maxKeys * 0.75);
      for (const [key, entry] of this.bindGroups) {
        if (this.bindGroups.size <= target) break;
        this.dropEntry(key, entry);
      }
    }
  }

  private dropEntry(key: string, entry: BindEntry): void {
    for (const v of entry.variants) if (v.uniform) this.freeUniformSlots.push(v.uniform);
    this.bindGroups.delete(key);
  }

  /** Drop the bind groups that name any of these (destroyed) buffers. */
  forgetBuffers(ids: Set<number>): void {
    for (const [key, entry] of this.bindGroups) {
      if (entry.bufferIds.some((id) => ids.has(id))) this.dropEntry(key, entry);
    }
  }

  /** Destroy the uniform blocks and forget every bind group (the runtime is disposed). */
  destroy(): void {
    for (const b of this.uniformBlocks) b.destroy();
    this.bindGroups.clear();
  }
}
