// The IDX file format (MNIST, Fashion-MNIST) parsed from bytes: no file access, so the Node readers
// (readers/idx.ts) and the browser's loaders (src/browser/datasets.ts) share it. Browser-safe.
//
// IDX: a big-endian header — magic (0x00 0x00, type code, number of dimensions), then one uint32 per
// dimension — followed by the data, row-major. Images: magic 0x00000803 = 2051 (unsigned bytes, 3
// dimensions: count, rows, cols). Labels: magic 0x00000801 = 2049 (unsigned bytes, 1 dimension).

import { DataError } from './dataset.js';

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

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

/** The magic number at the start of `bytes` (0 when there are fewer than 4), to tell IDX kinds apart. */
export function idxMagic(bytes: Uint8Array): number {
  if (bytes.length < 4) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
}

/**
 * Check a parsed images/labels pair (3-D images, 1-D labels of the same count, labels 0..9) and return
 * count, height, width. `imagesFile`/`labelsFile` name the files in errors.
 */
export function checkIdxPair(img: IdxArray, lab: IdxArray, imagesFile: string, labelsFile: string, dataset: string): { count: number; height: number; width: number } {
  if (img.dims.length !== 3) throw new DataError(`${dataset}: ${imagesFile} has ${img.dims.length} dimensions, expected 3 (count, rows, cols)`, imagesFile);
  if (lab.dims.length !== 1) throw new DataError(`${dataset}: ${labelsFile} has ${lab.dims.length} dimensions, expected 1`, labelsFile);
  const [count, height, width] = img.dims;
  if (height === 0 || width === 0) throw new DataError(`${dataset}: ${imagesFile} has ${height}×${width} images`, imagesFile);
  if (lab.dims[0] !== count) {
    throw new DataError(`${dataset}: ${labelsFile} has ${lab.dims[0]} labels but ${imagesFile} has ${count} images`, labelsFile);
  }
  for (let i = 0; i < count; i++) {
    if (lab.data[i] > 9) throw new DataError(`${dataset}: ${labelsFile} label ${i} is ${lab.data[i]}, expected 0..9`, labelsFile);
  }
  return { count, height, width };
}
