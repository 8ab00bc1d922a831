// Seeded mini-batch sampling: dataset → (x: normalised float32 NCHW, y: labels as float32).
//
// Every random choice is a pure function of (seed, epoch, batch), never of how many numbers were drawn
// before, so a run killed mid-epoch resumes exactly from `state()` (two integers) and reproduces the
// batches it would have produced:
//   epoch order  = Rng(hashSeed(seed, ORDER, epoch)).permutation(pool size)
//   batch draw   = Rng(hashSeed(seed, DRAW, epoch, batch)).sampleDistinct(...)   ('independent' only)
//   augmentation = Rng(hashSeed(seed, AUGMENT, epoch, batch)), one draw per image in batch order
//
// Two sampling modes:
//  - 'epoch' (default): each epoch visits the pool once in a fresh permutation (or in order with
//    shuffle: false); the last batch is short unless dropLast.
//  - 'independent': every batch is batchSize distinct images drawn uniformly from the pool,
//    independently of the other batches. This is what GM-NAS's search loop does: it calls
//    `next(iter(loader))` on a SubsetRandomSampler loader at each step (spec §2.1 "batch sampling"),
//    i.e. the first batch of a fresh permutation. An epoch is still ceil(pool/batchSize) steps, as
//    GM's `len(train_queue)`, so per-epoch schedules keep their meaning.
//
// Browser-safe: no node: imports.

import { Rng, hashSeed } from './rng.js';
import { DataError, imageBytes, type Dataset, type Normalization } from './dataset.js';
import { checkAugmentSpec, defaultAugmentation, drawAugmentation, normalizationTable, writeImage, type AugmentSpec } from './augment.js';

export interface Batch {
  /** n·C·H·W normalised floats, NCHW. */
  readonly x: Float32Array;
  /** n labels as float32 (class ids). */
  readonly y: Float32Array;
  readonly n: number;
  /** The dataset indices of the n images, in batch order. */
  readonly indices: Int32Array;
}

export interface BatchSamplerOptions {
  batchSize: number;
  /** Default 0. */
  seed?: number;
  /** Default true. Must stay true for 'independent' sampling. */
  shuffle?: boolean;
  /** true: the dataset's training augmentation (`defaultAugmentation`); false (default): none; or a spec. */
  augment?: boolean | AugmentSpec;
  /** Draw only from these dataset indices (e.g. one half of `splitTrainForSearch`). Default: all. */
  indices?: ArrayLike<number>;
  /** Drop the short last batch of an epoch ('epoch' mode). Default false. */
  dropLast?: boolean;
  /** Default 'epoch'. */
  sampling?: 'epoch' | 'independent';
  /** Override the dataset's mean/std (e.g. NORMALIZATION.cifar10.nb201). */
  normalization?: Normalization;
}

/** Where a sampler is: enough to resume, plus the settings it must be resumed with. */
export interface SamplerState {
  readonly version: 1;
  readonly seed: number;
  /** Epoch of the next batch. */
  readonly epoch: number;
  /** Index of the next batch within its epoch. */
  readonly batch: number;
  readonly poolSize: number;
  readonly batchSize: number;
  readonly sampling: 'epoch' | 'independent';
  readonly shuffle: boolean;
  readonly dropLast: boolean;
}

const ORDER_STREAM = 0x0bde;
const DRAW_STREAM = 0xd4a3;
const AUGMENT_STREAM = 0xa06e;

export class BatchSampler {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly sampling: 'epoch' | 'independent';
  /** The augmentation applied, or null. */
  readonly augment: AugmentSpec | null;
  /** Batches per epoch: ceil(pool/batchSize), or floor with dropLast in 'epoch' mode. */
  readonly batchesPerEpoch: number;
  private readonly pool: Int32Array;
  private readonly lut: Float32Array;
  private epochNow = 0;
  private batchNow = 0;
  private orderEpoch = -1;
  private order: Int32Array | null = null;

  constructor(ds: Dataset, opts: BatchSamplerOptions) {
    const where = `BatchSampler(${ds.name})`;
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new DataError(`${where}: batchSize must be a positive integer, got ${batchSize}`);
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new DataError(`${where}: seed must be a safe integer, got ${seed}`);
    const sampling = opts.sampling ?? 'epoch';
    if (sampling !== 'epoch' && sampling !== 'independent') throw new DataError(`${where}: sampling must be 'epoch' or 'independent', got ${JSON.stringify(sampling)}`);
    const shuffle = opts.shuffle ?? true;
    if (sampling === 'independent' && !shuffle) throw new DataError(`${where}: 'independent' sampling is random by definition; shuffle: false needs sampling 'epoch'`);

    let pool: Int32Array;
    if (opts.indices === undefined) {
      pool = new Int32Array(ds.size);
      for (let i = 0; i < ds.size; i++) pool[i] = i;
    } else {
      pool = Int32Array.from(opts.indices as ArrayLike<number>);
      for (let k = 0; k < pool.length; k++) {
        const i = (opts.indices as ArrayLike<number>)[k];
        if (!Number.isInteger(i) || i < 0 || i >= ds.size) throw new DataError(`${where}: indices[${k}] = ${i} is outside [0, ${ds.size})`);
      }
    }
    if (pool.length === 0) throw new DataError(`${where}: nothing to sample (the dataset or the indices are empty)`);

    const dropLast = opts.dropLast ?? false;
    const batchesPerEpoch = sampling === 'epoch' && dropLast ? Math.floor(pool.length / batchSize) : Math.ceil(pool.length / batchSize);
    if (batchesPerEpoch === 0) throw new DataError(`${where}: dropLast with batchSize ${batchSize} > ${pool.length} images leaves no batch`);

    let augment: AugmentSpec | null = null;
    if (opts.augment === true) {
      augment = defaultAugmentation(ds.name, ds.height);
      if (augment === null) throw new DataError(`${where}: no default augmentation for dataset '${ds.name}'; pass an AugmentSpec`);
    } else if (opts.augment && typeof opts.augment === 'object') {
      augment = opts.augment;
    }
    if (augment !== null) checkAugmentSpec(augment, where);

    const norm = opts.normalization ?? { mean: ds.mean, std: ds.std };
    if (norm.mean.length !== ds.channels || norm.std.length !== ds.channels) {
      throw new DataError(`${where}: normalization needs ${ds.channels} mean/std entries, got ${norm.mean.length}/${norm.std.length}`);
    }

    this.dataset = ds;
    this.batchSize = batchSize;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.sampling = sampling;
    this.augment = augment;
    this.batchesPerEpoch = batchesPerEpoch;
    this.pool = pool;
    this.lut = normalizationTable(norm.mean, norm.std);
  }

  /** Number of images the sampler draws from. */
  get poolSize(): number { return this.pool.length; }
  /** Epoch of the next batch (0-based). */
  get epoch(): number { return this.epochNow; }
  /** Index of the next batch within its epoch. */
  get batchInEpoch(): number { return this.batchNow; }

  /** The visiting order of an epoch in 'epoch' mode (dataset indices). */
  epochOrder(epoch: number): Int32Array {
    if (!this.shuffle) return this.pool;
    if (this.orderEpoch !== epoch || this.order === null) {
      const perm = new Rng(hashSeed(this.seed, ORDER_STREAM, epoch)).permutation(this.pool.length);
      const order = new Int32Array(perm.length);
      for (let k = 0; k < perm.length; k++) order[k] = this.pool[perm[k]];
      this.order = order;
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The next batch; after the last batch of an epoch the next epoch starts. */
  next(): Batch {
    const epoch = this.epochNow, batch = this.batchNow;
    let indices: Int32Array;
    if (this.sampling === 'independent') {
      const n = Math.min(this.batchSize, this.pool.length);
      const picks = new Rng(hashSeed(this.seed, DRAW_STREAM, epoch, batch)).sampleDistinct(this.pool.length, n);
      indices = new Int32Array(n);
      for (let k = 0; k < n; k++) indices[k] = this.pool[picks[k]];
    } else {
      const order = this.epochOrder(epoch);
      const start = batch * this.batchSize;
      indices = order.slice(start, Math.min(start + this.batchSize, order.length));
    }
    if (++this.batchNow >= this.batchesPerEpoch) { this.batchNow = 0; this.epochNow++; }
    return this.materialize(indices, epoch, batch);
  }

  state(): SamplerState {
    return {
      version: 1, seed: this.seed, epoch: this.epochNow, batch: this.batchNow, poolSize: this.pool.length,
      batchSize: this.batchSize, sampling: this.sampling, shuffle: this.shuffle, dropLast: this.dropLast,
    };
  }

  /** Continue from a saved state. The sampler must have been built with the same settings. */
  restore(state: SamplerState): void {
    const where = `BatchSampler(${this.dataset.name}).restore`;
    if (state === null || typeof state !== 'object' || state.version !== 1) throw new DataError(`${where}: not a version-1 sampler state: ${JSON.stringify(state)}`);
    const mine = this.state();
    for (const k of ['seed', 'poolSize', 'batchSize', 'sampling', 'shuffle', 'dropLast'] as const) {
      if (state[k] !== mine[k]) throw new DataError(`${where}: the state was saved with ${k} = ${JSON.stringify(state[k])}, this sampler has ${JSON.stringify(mine[k])}`);
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0) throw new DataError(`${where}: epoch must be a non-negative integer, got ${state.epoch}`);
    if (!Number.isInteger(state.batch) || state.batch < 0 || state.batch >= this.batchesPerEpoch) {
      throw new DataError(`${where}: batch must be an integer in [0, ${this.batchesPerEpoch}), got ${state.batch}`);
    }
    this.epochNow = state.epoch;
    this.batchNow = state.batch;
  }

  private materialize(indices: Int32Array, epoch: number, batch: number): Batch {
    const ds = this.dataset, per = imageBytes(ds), n = indices.length;
    const x = new Float32Array(n * per);
    const y = new Float32Array(n);
    const rng = this.augment ? new Rng(hashSeed(this.seed, AUGMENT_STREAM, epoch, batch)) : null;
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      const draw = rng && this.augment ? drawAugmentation(rng, this.augment) : null;
      writeImage(ds, i, x, k * per, this.lut, draw, this.augment);
      y[k] = ds.labels[i];
    }
    return { x, y, n, indices };
  }
}

/**
 * Evaluation batches: the images (all, or `indices`) in order, normalised, never augmented; the last
 * batch may be short. For test sets and for scoring architectures on the validation half.
 */
export function* evalBatches(
  ds: Dataset, batchSize: number, opts: { indices?: ArrayLike<number>; normalization?: Normalization } = {},
): Generator<Batch> {
  const sampler = new BatchSampler(ds, { batchSize, shuffle: false, augment: false, indices: opts.indices, normalization: opts.normalization });
  for (let b = 0; b < sampler.batchesPerEpoch; b++) yield sampler.next();
}
