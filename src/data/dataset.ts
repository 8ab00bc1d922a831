// The in-memory dataset every part of gmnas trains on: raw uint8 pixels (as distributed, CHW per image)
// plus int32 labels and the per-channel normalisation constants. No engine types: samplers turn a
// Dataset into plain Float32Array batches, and the engine uploads those.
//
// Browser-safe: no node: imports here. File readers live in ./readers (Node only).

export interface Dataset {
  /** Registry name, e.g. 'cifar10', 'synthetic'; subsets keep it. */
  readonly name: string;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  /** Number of images. */
  readonly size: number;
  /** size·C·H·W bytes, raw 0..255; image i starts at i·C·H·W, channel planes in order (CHW). */
  readonly images: Uint8Array;
  /** size labels in [0, numClasses). */
  readonly labels: Int32Array;
  /** Per-channel mean on the 0..1 scale (pixel/255), used by normalisation. */
  readonly mean: number[];
  /** Per-channel standard deviation on the 0..1 scale. */
  readonly std: number[];
  readonly classNames?: string[];
}

/** A malformed, missing or inconsistent data file or dataset. `file` names the file at fault when there is one. */
export class DataError extends Error {
  readonly file?: string;
  constructor(message: string, file?: string) {
    super(message);
    this.name = 'DataError';
    if (file !== undefined) this.file = file;
  }
}

/** Bytes per image: C·H·W. */
export function imageBytes(ds: Pick<Dataset, 'channels' | 'height' | 'width'>): number {
  return ds.channels * ds.height * ds.width;
}

/**
 * Check a dataset's invariants (positive dims, array lengths, label range, one mean/std per channel,
 * std > 0) and return it frozen. Every constructor in src/data goes through here, so a Dataset that
 * exists is a valid one.
 */
export function makeDataset(fields: Dataset): Dataset {
  const { name, channels, height, width, numClasses, size, images, labels, mean, std, classNames } = fields;
  const where = `dataset '${name}'`;
  for (const [k, v] of [['channels', channels], ['height', height], ['width', width], ['numClasses', numClasses]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new DataError(`${where}: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(size) || size < 0) throw new DataError(`${where}: size must be a non-negative integer, got ${size}`);
  if (!(images instanceof Uint8Array)) throw new DataError(`${where}: images must be a Uint8Array`);
  if (!(labels instanceof Int32Array)) throw new DataError(`${where}: labels must be an Int32Array`);
  const per = channels * height * width;
  if (images.length !== size * per) {
    throw new DataError(`${where}: images has ${images.length} bytes, expected size·C·H·W = ${size}·${channels}·${height}·${width} = ${size * per}`);
  }
  if (labels.length !== size) throw new DataError(`${where}: labels has ${labels.length} entries, expected size = ${size}`);
  for (let i = 0; i < size; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses) throw new DataError(`${where}: label ${y} of image ${i} is outside [0, ${numClasses})`);
  }
  if (mean.length !== channels || std.length !== channels) {
    throw new DataError(`${where}: mean and std need ${channels} entries (one per channel), got ${mean.length} and ${std.length}`);
  }
  if (mean.some((m) => !Number.isFinite(m)) || std.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new DataError(`${where}: mean must be finite and std positive, got mean ${JSON.stringify(mean)} std ${JSON.stringify(std)}`);
  }
  if (classNames !== undefined && classNames.length !== numClasses) {
    throw new DataError(`${where}: classNames has ${classNames.length} names, expected numClasses = ${numClasses}`);
  }
  const ds: Dataset = {
    name, channels, height, width, numClasses, size, images, labels,
    mean: [...mean], std: [...std],
    ...(classNames !== undefined ? { classNames: [...classNames] } : {}),
  };
  return Object.freeze(ds);
}

/** The images at `indices` (in that order, repeats allowed) as a new dataset with copied pixels. */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const per = imageBytes(ds);
  const images = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
      throw new DataError(`subsetDataset: index ${i} at position ${k} is outside [0, ${ds.size}) of dataset '${ds.name}'`);
    }
    images.set(ds.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = ds.labels[i];
  }
  return makeDataset({ ...ds, size: indices.length, images, labels });
}

/** The first min(k, size) images, sharing the pixel buffer (no copy). */
export function takeFirst(ds: Dataset, k: number): Dataset {
  if (!Number.isInteger(k) || k < 0) throw new DataError(`takeFirst: k must be a non-negative integer, got ${k}`);
  if (k >= ds.size) return ds;
  const per = imageBytes(ds);
  return makeDataset({ ...ds, size: k, images: ds.images.subarray(0, k * per), labels: ds.labels.subarray(0, k) });
}

/** How many images each class has. */
export function classCounts(ds: Dataset): Int32Array {
  const counts = new Int32Array(ds.numClasses);
  for (let i = 0; i < ds.size; i++) counts[ds.labels[i]]++;
  return counts;
}

/**
 * Per-channel mean and std of the pixels (0..1 scale) over the whole dataset, computed in float64.
 * Used to check the constants a dataset carries; training uses the carried constants.
 */
export function channelStats(ds: Dataset): { mean: number[]; std: number[] } {
  const hw = ds.height * ds.width;
  const sum = new Float64Array(ds.channels);
  const sumSq = new Float64Array(ds.channels);
  for (let i = 0; i < ds.size; i++) {
    for (let c = 0; c < ds.channels; c++) {
      const base = (i * ds.channels + c) * hw;
      let s = 0, s2 = 0;
      for (let p = 0; p < hw; p++) { const v = ds.images[base + p]; s += v; s2 += v * v; }
      sum[c] += s; sumSq[c] += s2;
    }
  }
  const n = ds.size * hw;
  const mean: number[] = [], std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    const m = sum[c] / n;
    mean.push(m / 255);
    std.push(Math.sqrt(Math.max(0, sumSq[c] / n - m * m)) / 255);
  }
  return { mean, std };
}

/** The names the registry knows (see load.ts for the readers and synthetic.ts for the built-in set). */
/** 'fashion-mnist-embedded' is the subset committed in data/fashion-mnist/ (the default of search,
 *  train and rank): the same bytes on every machine. */
export const DATASET_NAMES = ['synthetic', 'fashion-mnist-embedded', 'cifar10', 'cifar100', 'fashion-mnist', 'mnist', 'imagenet16-120', 'image-folder'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface Normalization { readonly mean: readonly number[]; readonly std: readonly number[] }

const div255 = (v: number[]): number[] => v.map((x) => x / 255);

/**
 * Normalisation constants (0..1 scale).
 *  - `gm`: what GM-NAS's search uses (spec §2.1, `GM:WS-GM/nasbench201/utils.py:101-102,122-123`);
 *    these are the defaults a loaded Dataset carries.
 *  - `nb201`: what AutoDL-Projects uses for NAS-Bench-201 stand-alone training
 *    (`ADL:xautodl/datasets/get_dataset_with_transform.py`), for runs that must match the benchmark's
 *    training pipeline; pass it to the sampler's `normalization` option.
 * ImageNet16-120 is the same in both. Fashion-MNIST and MNIST are the usual published statistics.
 */
export const NORMALIZATION: Record<Exclude<DatasetName, 'synthetic'>, { gm: Normalization; nb201: Normalization }> = {
  cifar10: {
    gm: { mean: [0.49139968, 0.48215827, 0.44653124], std: [0.24703233, 0.24348505, 0.26158768] },
    nb201: { mean: div255([125.3, 123.0, 113.9]), std: div255([63.0, 62.1, 66.7]) },
  },
  cifar100: {
    gm: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
    nb201: { mean: div255([129.3, 124.1, 112.4]), std: div255([68.2, 65.4, 70.4]) },
  },
  'imagenet16-120': {
    gm: { mean: div255([122.68, 116.66, 104.01]), std: div255([63.22, 61.26, 65.09]) },
    nb201: { mean: div255([122.68, 116.66, 104.01]), std: div255([63.22, 61.26, 65.09]) },
  },
  'fashion-mnist': {
    gm: { mean: [0.2860], std: [0.3530] },
    nb201: { mean: [0.2860], std: [0.3530] },
  },
  // a subset of the same images: the full set's published statistics
  'fashion-mnist-embedded': {
    gm: { mean: [0.2860], std: [0.3530] },
    nb201: { mean: [0.2860], std: [0.3530] },
  },
  mnist: {
    gm: { mean: [0.1307], std: [0.3081] },
    nb201: { mean: [0.1307], std: [0.3081] },
  },
  // ImageNet-style folders (src/data/readers/image-folder.ts): torchvision's ImageNet statistics
  'image-folder': {
    gm: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    nb201: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  },
};

/**
 * Every image shrunk by an integer `factor` (area average of factor×factor blocks, rounded). Small
 * searches use it to trade resolution for speed (32×32 → 16×16 costs a quarter of the convolution
 * work); labels, mean and std are kept (averaging leaves the mean unchanged).
 */
export function downsampleDataset(ds: Dataset, factor: number): Dataset {
  if (!Number.isInteger(factor) || factor < 1) throw new DataError(`downsample: factor must be a positive integer, got ${factor}`);
  if (factor === 1) return ds;
  if (ds.height % factor || ds.width % factor) {
    throw new DataError(`downsample: ${ds.height}×${ds.width} images of '${ds.name}' are not divisible by ${factor}`);
  }
  const H = ds.height / factor, W = ds.width / factor, C = ds.channels;
  const images = new Uint8Array(ds.size * C * H * W);
  const inPlane = ds.height * ds.width, area = factor * factor;
  for (let p = 0; p < ds.size * C; p++) {
    const src = p * inPlane, dst = p * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = src + (y * factor + dy) * ds.width + x * factor;
          for (let dx = 0; dx < factor; dx++) s += ds.images[row + dx];
        }
        images[dst + y * W + x] = Math.round(s / area);
      }
    }
  }
  return makeDataset({ ...ds, height: H, width: W, images });
}

/**
 * Zero-pad every image (centred) to `size`×`size`. The value 0 is the background of the IDX sets
 * (Fashion-MNIST, MNIST: black), so padding adds background, not content.
 */
export function padDataset(ds: Dataset, size: number): Dataset {
  if (!Number.isInteger(size) || size < ds.height || size < ds.width) {
    throw new DataError(`pad: target size ${size} is smaller than the ${ds.height}×${ds.width} images of '${ds.name}'`);
  }
  if (size === ds.height && size === ds.width) return ds;
  const top = Math.floor((size - ds.height) / 2), left = Math.floor((size - ds.width) / 2);
  const images = new Uint8Array(ds.size * ds.channels * size * size);
  for (let p = 0; p < ds.size * ds.channels; p++) {
    for (let y = 0; y < ds.height; y++) {
      const src = p * ds.height * ds.width + y * ds.width;
      images.set(ds.images.subarray(src, src + ds.width), p * size * size + (y + top) * size + left);
    }
  }
  return makeDataset({ ...ds, height: size, width: size, images });
}

/**
 * The images a search or a retraining sees: shrunk by `factor` (downsampleDataset), first zero-padded
 * (padDataset) to the smallest square whose shrunk side is a multiple of 4 when it would not be one —
 * NB201's two stride-2 reductions need sides divisible by 4. 28×28 Fashion-MNIST with factor 2:
 * padded to 32×32, shrunk to 16×16; factor 1 keeps 28×28.
 */
export function shrinkForNetwork(ds: Dataset, factor: number): Dataset {
  if (!Number.isInteger(factor) || factor < 1) throw new DataError(`downsample: factor must be a positive integer, got ${factor}`);
  const side = Math.max(ds.height, ds.width);
  const ok = ds.height === ds.width ? ds.height % factor === 0 && (ds.height / factor) % 4 === 0 : true;
  if (factor === 1 || ok) return downsampleDataset(ds, factor);
  const unit = 4 * factor;
  return downsampleDataset(padDataset(ds, Math.ceil(side / unit) * unit), factor);
}

/**
 * The images at side `resolution` (`--resolution R`): zero-padded (centred, padDataset) to k·R with
 * k = ⌈side / R⌉, then shrunk by k (area average, downsampleDataset). 28×28 Fashion-MNIST: R = 32 pads
 * to 32×32; R = 16 pads to 32 and halves; R = 14 halves without padding. Images already at R×R are
 * returned as they are; non-square images are padded to a square first.
 */
export function fitToResolution(ds: Dataset, resolution: number): Dataset {
  if (!Number.isInteger(resolution) || resolution < 1) throw new DataError(`resolution: expected a positive integer, got ${resolution}`);
  if (ds.height === resolution && ds.width === resolution) return ds;
  const k = Math.max(1, Math.ceil(Math.max(ds.height, ds.width) / resolution));
  return downsampleDataset(padDataset(ds, k * resolution), k);
}
