// loadDataset: one entry point from a dataset name to a Dataset, for the CLI and Node code. Node only
// (it pulls in the node:fs readers); browser code imports synthetic.ts directly.

import { DATASET_NAMES, DataError, type Dataset, type DatasetName } from './dataset.js';
import { generateSynthetic, SYNTHETIC_DEFAULT_SIZES } from './synthetic.js';
import { readCifar10, readCifar100 } from './readers/cifar.js';
import { readFashionMnist, readMnist } from './readers/idx.js';
import { readImageNet16 } from './readers/imagenet16.js';
import { readEmbeddedFashionMnist, resolveFashionMnistDir } from './readers/embedded.js';
import { readImageFolder } from './readers/image-folder.js';
import { subsetDataset } from './dataset.js';

/** image-folder's default side: ProxylessNAS's ImageNet resolution. */
export const IMAGE_FOLDER_DEFAULT_RESOLUTION = 224;

export interface LoadOptions {
  /** Folder with the distributed files. Default for fashion-mnist: /usr/share/datasets/fashion-mnist when
   *  installed, else the embedded subset; required for the other file datasets; ignored by synthetic and
   *  fashion-mnist-embedded (always the repository's data/fashion-mnist/). */
  dataDir?: string;
  split: 'train' | 'test';
  /** Keep only the first `limit` images (the CLI's --train-limit). */
  limit?: number;
  /** Generator seed of 'synthetic' (default 0); file datasets ignore it. */
  seed?: number;
  /** Number of images 'synthetic' generates before `limit` (default 5000 train / 1000 test). */
  syntheticSize?: number;
  /** image-folder: the side images are decoded at (default IMAGE_FOLDER_DEFAULT_RESOLUTION); others ignore it. */
  resolution?: number;
  /** image-folder: told once how many files did not decode (they are skipped); default console.warn */
  warn?: (message: string) => void;
}

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

export function loadDataset(name: DatasetName | string, opts: LoadOptions): Dataset {
  if (!isDatasetName(name)) {
    throw new DataError(`unknown dataset ${JSON.stringify(name)}; known datasets: ${DATASET_NAMES.join(', ')}`);
  }
  if (opts.split !== 'train' && opts.split !== 'test') {
    throw new DataError(`${name}: split must be 'train' or 'test', got ${JSON.stringify(opts.split)}`);
  }
  const limit = opts.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new DataError(`${name}: limit must be a non-negative integer, got ${limit}`);
  }
  const readerOpts = { split: opts.split, ...(limit !== undefined ? { limit } : {}) };
  switch (name) {
    case 'synthetic': {
      const full = opts.syntheticSize ?? SYNTHETIC_DEFAULT_SIZES[opts.split];
      // Image i does not depend on the set size, so generating only the first `limit` is the same as cutting.
      return generateSynthetic({ split: opts.split, size: Math.min(full, limit ?? Infinity), seed: opts.seed ?? 0 });
    }
    case 'cifar10': return readCifar10(opts.dataDir, readerOpts);
    case 'cifar100': return readCifar100(opts.dataDir, readerOpts);
    case 'fashion-mnist-embedded': return readEmbeddedFashionMnist(readerOpts);
    case 'fashion-mnist': {
      if (opts.dataDir !== undefined) return readFashionMnist(opts.dataDir, readerOpts);
      const where = resolveFashionMnistDir();
      return where.embedded ? readEmbeddedFashionMnist(readerOpts) : readFashionMnist(where.dir, readerOpts);
    }
    case 'mnist': return readMnist(opts.dataDir, readerOpts);
    case 'imagenet16-120': return readImageNet16(opts.dataDir, readerOpts);
    case 'image-folder': {
      if (opts.dataDir === undefined) throw new DataError('image-folder: --data-dir is required (the folder holding train/<class>/ and val/<class>/)');
      const r = readImageFolder(opts.dataDir, { split: opts.split, resolution: opts.resolution ?? IMAGE_FOLDER_DEFAULT_RESOLUTION });
      if (r.skipped.length) {
        (opts.warn ?? console.warn)(`image-folder ${opts.split}: ${r.skipped.length} file(s) did not decode and were skipped (first: ${r.skipped[0].file}: ${r.skipped[0].reason})`);
      }
      // the files are listed class by class: a limit takes evenly spaced images, so every class stays
      if (limit === undefined || limit >= r.dataset.size) return r.dataset;
      return subsetDataset(r.dataset, Int32Array.from({ length: limit }, (_, i) => Math.floor((i * r.dataset.size) / limit)));
    }
  }
}
