// MNIST and Fashion-MNIST in the IDX format as distributed (plain or .gz). Node only.
//
// IDX: a big-endian header — magic (0x00 0x00, type code, number of dimensions), then one uint32 per
// dimension — followed by the data, row-major. Images: magic 0x00000803 = 2051 (unsigned bytes, 3
// dimensions: count, rows, cols). Labels: magic 0x00000801 = 2049 (unsigned bytes, 1 dimension).
// Files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each also accepted with '.gz' and in the 'train-images.idx3-ubyte' spelling
// some mirrors use. Debian's dataset-fashion-mnist installs the four .gz files in
// /usr/share/datasets/fashion-mnist, the default directory for 'fashion-mnist'.
// Gzip is detected from the content (magic 1f 8b), so a mislabelled file still reads.

import { DataError, makeDataset, NORMALIZATION, type Dataset } from '../dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES, parseIdx, checkIdxPair } from '../idx-format.js';
import { findFile, readBytes, requireDir } from './files.js';
import type { ReaderOptions } from './cifar.js';

export { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES, parseIdx } from '../idx-format.js';
export type { IdxArray } from '../idx-format.js';

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Candidate file names for one IDX file of a split, in the order they are tried. */
function candidates(split: 'train' | 'test', kind: 'images' | 'labels'): string[] {
  const prefix = split === 'train' ? 'train' : 't10k';
  const suffix = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const bases = [`${prefix}-${kind}-${suffix}`, `${prefix}-${kind}.${suffix}`];
  return bases.flatMap((b) => [b, `${b}.gz`]);
}

export function readFashionMnist(dir: string | undefined, opts: ReaderOptions): Dataset {
  return readIdxDataset('fashion-mnist', dir ?? FASHION_MNIST_DEFAULT_DIR, opts, FASHION_MNIST_CLASS_NAMES);
}

export function readMnist(dir: string | undefined, opts: ReaderOptions): Dataset {
  return readIdxDataset('mnist', dir, opts, MNIST_CLASS_NAMES);
}

function readIdxDataset(name: 'mnist' | 'fashion-mnist', dirArg: string | undefined, opts: ReaderOptions, classNames: string[]): Dataset {
  const expects = 'train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz)';
  const dir = requireDir(name, dirArg, expects);
  const imagesPath = findFile(name, dir, candidates(opts.split, 'images'));
  const labelsPath = findFile(name, dir, candidates(opts.split, 'labels'));
  const img = parseIdx(readBytes(name, imagesPath), IDX_IMAGES_MAGIC, imagesPath, name);
  const lab = parseIdx(readBytes(name, labelsPath), IDX_LABELS_MAGIC, labelsPath, name);
  const { count, height, width } = checkIdxPair(img, lab, imagesPath, labelsPath, name);
  const size = Math.min(count, opts.limit ?? Infinity);
  const per = height * width;
  const norm = NORMALIZATION[name].gm;
  return makeDataset({
    name, channels: 1, height, width, numClasses: 10, size,
    images: img.data.slice(0, size * per), labels: Int32Array.from(lab.data.subarray(0, size)),
    mean: [...norm.mean], std: [...norm.std], classNames: [...classNames],
  });
}
