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
import { findFile, readBytes, requireDir, gunzipBytes } from './files.js';
import type { ReaderOptions } from './cifar.js';

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface IdxArray {
  readonly dims: number[];
  /** The data bytes (a view into the file contents). */
  readonly data: Uint8Array;
}

/** Parse an unsigned-byte IDX file with the given magic; `file` and `dataset` name it in errors. */
export function parseIdx(bytes: Uint8Array, expectedMagic: number, file: string, dataset: string): IdxArray {
  if (bytes.length < 4) throw new DataError(`${dataset}: ${file} has ${bytes.length} bytes, too short for an IDX header`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    const kind = expectedMagic === IDX_IMAGES_MAGIC ? 'images' : 'labels';
    throw new DataError(`${dataset}: ${file} has magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic} for IDX ${kind}`, file);
  }
  const ndim = magic & 0xff;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) throw new DataError(`${dataset}: ${file} has ${bytes.length} bytes, too short for its ${ndim}-dimension IDX header`, file);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const v = view.getUint32(4 + 4 * d, false);
    dims.push(v);
    count *= v;
  }
  if (bytes.length !== headerBytes + count) {
    const expected = dims.length === 1 ? `${count}` : `${dims.join('×')} = ${count}`;
    throw new DataError(`${dataset}: ${file} has ${bytes.length - headerBytes} data bytes after its header, expected ${expected}`, file);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

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
  if (img.dims.length !== 3) throw new DataError(`${name}: ${imagesPath} has ${img.dims.length} dimensions, expected 3 (count, rows, cols)`, imagesPath);
  if (lab.dims.length !== 1) throw new DataError(`${name}: ${labelsPath} has ${lab.dims.length} dimensions, expected 1`, labelsPath);
  const [count, height, width] = img.dims;
  if (height === 0 || width === 0) throw new DataError(`${name}: ${imagesPath} has ${height}×${width} images`, imagesPath);
  if (lab.dims[0] !== count) {
    throw new DataError(`${name}: ${labelsPath} has ${lab.dims[0]} labels but ${imagesPath} has ${count} images`, labelsPath);
  }
  for (let i = 0; i < count; i++) {
    if (lab.data[i] > 9) throw new DataError(`${name}: ${labelsPath} label ${i} is ${lab.data[i]}, expected 0..9`, labelsPath);
  }
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
