// CIFAR-10 / CIFAR-100 "binary version" batches decoded from bytes: no file access, so pages can read
// the files a user picks. Browser-safe. (The Node reader, readers/cifar.ts, reads the same records from
// disk and streams them without holding every file at once.)
//
// CIFAR-10 records: 1 label byte (0..9) + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each plane
// row-major 32×32 — already CHW). CIFAR-100 records: coarse label (0..19), fine label (0..99), then the
// same 3072 pixels; the fine label is kept (100 classes, as NB201 does).

import { DataError } from './dataset.js';

export const CIFAR_PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_CLASS_NAMES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

export type CifarKind = 'cifar10' | 'cifar100';

export interface CifarRecordLayout {
  /** bytes before the pixels in each record */
  readonly labelBytes: number;
  /** which label byte is the label kept */
  readonly labelByte: number;
  /** exclusive upper bound of each label byte */
  readonly labelLimits: readonly number[];
  readonly numClasses: number;
}

export const CIFAR_RECORD_LAYOUTS: Record<CifarKind, CifarRecordLayout> = {
  cifar10: { labelBytes: 1, labelByte: 0, labelLimits: [10], numClasses: 10 },
  cifar100: { labelBytes: 2, labelByte: 1, labelLimits: [20, 100], numClasses: 100 },
};

/** Bytes per record of a kind: label bytes + 3072 pixels. */
export const cifarRecordBytes = (kind: CifarKind): number => CIFAR_RECORD_LAYOUTS[kind].labelBytes + CIFAR_PIXELS;

/** How many records a batch file of `byteLength` bytes holds; a size that is not a whole number of records is an error naming `file`. */
export function cifarRecordCount(byteLength: number, kind: CifarKind, file: string): number {
  const layout = CIFAR_RECORD_LAYOUTS[kind];
  const record = cifarRecordBytes(kind);
  if (byteLength === 0 || byteLength % record !== 0) {
    throw new DataError(`${kind}: ${file} has ${byteLength} bytes, expected a non-zero multiple of ${record} ` +
      `(${layout.labelBytes} label byte${layout.labelBytes > 1 ? 's' : ''} + ${CIFAR_PIXELS} pixels per image)`, file);
  }
  return byteLength / record;
}

/**
 * Decodes the first `count` records of a batch file's `bytes` into `images` / `labels` from image
 * `outAt` on, checking each label byte; `file` names the file in errors. Shared by decodeCifarBatch and
 * the Node reader (readers/cifar.ts), which fills one array from several files.
 */
export function decodeCifarRecords(bytes: Uint8Array, kind: CifarKind, file: string, count: number,
  images: Uint8Array, labels: Int32Array, outAt: number): void {
  const layout = CIFAR_RECORD_LAYOUTS[kind];
  const record = cifarRecordBytes(kind);
  for (let r = 0; r < count; r++) {
    const at = r * record;
    for (let b = 0; b < layout.labelBytes; b++) {
      const v = bytes[at + b];
      if (v >= layout.labelLimits[b]) {
        const what = layout.labelBytes === 1 ? 'label' : b === 0 ? 'coarse label' : 'fine label';
        throw new DataError(`${kind}: ${file} record ${r} (byte offset ${at + b}) has ${what} ${v}, expected 0..${layout.labelLimits[b] - 1}`, file);
      }
    }
    labels[outAt + r] = bytes[at + layout.labelByte];
    images.set(bytes.subarray(at + layout.labelBytes, at + record), (outAt + r) * CIFAR_PIXELS);
  }
}

/** Every record of one batch file: CHW pixels and labels; `file` names it in errors. */
export function decodeCifarBatch(bytes: Uint8Array, kind: CifarKind, file: string): { images: Uint8Array; labels: Int32Array } {
  const count = cifarRecordCount(bytes.length, kind, file);
  const images = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Int32Array(count);
  decodeCifarRecords(bytes, kind, file, count, images, labels, 0);
  return { images, labels };
}
