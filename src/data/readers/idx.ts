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
import { findFile, readBytes, requireDir, gunzipBytes } from './files.js';
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
  return readIdxDataset('fashion-mnist', dir ?? FASHION_MNIST_DEFAULT_DIR, opts, FASHION_MNIST_CLASS_NAMES, 'fashion-mnist');
}

export function readMnist(dir: string | undefined, opts: ReaderOptions): Dataset {
  return readIdxDataset('mnist', dir, opts, MNIST_CLASS_NAMES, 'mnist');
}

/** Bytes of an IDX file already read (and checked) by the caller, with the path errors name. */
export interface ReadIdxFile { path: string; bytes: Uint8Array }

/**
 * One split of an IDX dataset. `name` names the Dataset and the errors; `normalization` picks the
 * carried mean/std; `files`, when given, are used instead of looking the files up in `dirArg`
 * (the embedded reader checks their SHA-256 first).
 */
export function readIdxDataset(name: string, dirArg: string | undefined, opts: ReaderOptions, classNames: string[],
  normalization: 'mnist' | 'fashion-mnist', files?: { images: ReadIdxFile; labels: ReadIdxFile }): Dataset {
  const expects = 'train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz)';
  let imagesFile: ReadIdxFile, labelsFile: ReadIdxFile;
  if (files) {
    imagesFile = { path: files.images.path, bytes: gunzipIfNeeded(name, files.images) };
    labelsFile = { path: files.labels.path, bytes: gunzipIfNeeded(name, files.labels) };
  } else {
    const dir = requireDir(name, dirArg, expects);
    const imagesPath = findFile(name, dir, candidates(opts.split, 'images'));
    const labelsPath = findFile(name, dir, candidates(opts.split, 'labels'));
    imagesFile = { path: imagesPath, bytes: readBytes(name, imagesPath) };
    labelsFile = { path: labelsPath, bytes: readBytes(name, labelsPath) };
  }
  const imagesPath = imagesFile.path, labelsPath = labelsFile.path;
  const img = parseIdx(imagesFile.bytes, IDX_IMAGES_MAGIC, imagesPath, name);
  const lab = parseIdx(labelsFile.bytes, IDX_LABELS_MAGIC, labelsPath, name);
  const { count, height, width } = checkIdxPair(img, lab, imagesPath, labelsPath, name);
  const size = Math.min(count, opts.limit ?? Infinity);
  const per = height * width;
  const norm = NORMALIZATION[normalization].gm;
  return makeDataset({
    name, channels: 1, height, width, numClasses: 10, size,
    images: img.data.slice(0, size * per), labels: Int32Array.from(lab.data.subarray(0, size)),
    mean: [...norm.mean], std: [...norm.std], classNames: [...classNames],
  });
}

function gunzipIfNeeded(name: string, f: ReadIdxFile): Uint8Array {
  return gunzipBytes(name, f.path, f.bytes);
}
