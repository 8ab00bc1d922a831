// Batches as the search code sees them: host batches from src/data's samplers (normalised NCHW floats,
// labels as floats) and their device copies. Methods take device batches for single steps and batch
// sources (anything with `next()`, e.g. src/data's BatchSampler) for whole epochs.
import { Tensor } from '../engine/index.js';
import type { Backend } from '../engine/index.js';

/** What src/data's BatchSampler.next() returns (structurally): n images, NCHW, normalised. */
export interface HostBatch {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly n: number;
}

export interface DeviceBatch {
  /** [n, C, H, W] */
  readonly x: Tensor;
  /** [n] class ids as floats */
  readonly y: Tensor;
  readonly n: number;
}

/** An endless stream of host batches (BatchSampler fits). */
export interface BatchSource {
  next(): HostBatch;
}

/** [C, H, W] of the images. */
export type ImageShape = readonly [number, number, number];

/** Evaluation data: a list or a re-iterable factory of batches (host or device). Host batches are
 *  uploaded one at a time and freed after use; device batches are used as they are. */
export type EvalData = Iterable<HostBatch | DeviceBatch> | (() => Iterable<HostBatch | DeviceBatch>);

export function isDeviceBatch(b: HostBatch | DeviceBatch): b is DeviceBatch {
  return b.x instanceof Tensor;
}

/** Upload a host batch. The tensors belong to the caller (or to the enclosing tidy scope). */
export function uploadBatch(be: Backend, b: HostBatch, imageShape: ImageShape): DeviceBatch {
  const [C, H, W] = imageShape;
  if (!Number.isInteger(b.n) || b.n < 1) throw new Error(`uploadBatch: batch size n must be a positive integer, got ${b.n}`);
  if (b.x.length !== b.n * C * H * W) {
    throw new Error(`uploadBatch: x has ${b.x.length} values, expected n·C·H·W = ${b.n}·${C}·${H}·${W} = ${b.n * C * H * W}`);
  }
  if (b.y.length !== b.n) throw new Error(`uploadBatch: y has ${b.y.length} labels for n = ${b.n} images`);
  return { x: Tensor.fromArray(be, b.x, [b.n, C, H, W]), y: Tensor.fromArray(be, b.y, [b.n]), n: b.n };
}

export function iterateEvalData(data: EvalData): Iterable<HostBatch | DeviceBatch> {
  return typeof data === 'function' ? data() : data;
}
