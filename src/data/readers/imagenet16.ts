// ImageNet16-120 (NAS-Bench-201's 16×16 downsampled ImageNet, first 120 classes). Node only.
//
// The official files (train_data_batch_1 … train_data_batch_10, val_data from "Downsampled ImageNet
// 16x16") are Python pickles, which we do not parse. We accept a documented raw binary instead:
//
//   train_data.bin, val_data.bin: a sequence of 770-byte records, one per image, no header:
//     bytes 0..1    label, uint16 little-endian, 1..1000 (the original 1-based ImageNet class ids)
//     bytes 2..769  pixels, uint8, CHW: 256 red values, 256 green, 256 blue, each row-major 16×16
//                   (exactly one row of the pickle's 'data' array)
//
// Records with label > 120 are skipped and labels 1..120 become 0..119 (as GM/NB201 do with
// `label - 1`, spec §2.1), so both the full 1000-class conversion and a pre-filtered file work. The
// official data gives 151,700 training and 6,000 validation images ('test' split = val_data.bin).
// Train order is the pickles' order (batch 1 … 10), which the 75,850/75,850 search split relies on.
//
// Conversion from the official pickles (Python 3 + NumPy, run next to the extracted files):
//
//   import pickle, numpy as np
//   def convert(sources, target):
//       with open(target, 'wb') as out:
//           for src in sources:
//               with open(src, 'rb') as f:
//                   d = pickle.load(f, encoding='latin1')    # {'data': (N, 768) uint8, 'labels': [1..1000], ...}
//               data = np.asarray(d['data'], dtype=np.uint8).reshape(-1, 768)
//               labels = np.asarray(d['labels'], dtype='<u2').reshape(-1, 1)
//               out.write(np.hstack([labels.view(np.uint8), data]).tobytes())
//   convert([f'train_data_batch_{k}' for k in range(1, 11)], 'train_data.bin')
//   convert(['val_data'], 'val_data.bin')

import { DataError, makeDataset, NORMALIZATION, type Dataset } from '../dataset.js';
import { fileSize, findFile, readBytes, requireDir } from './files.js';
import type { ReaderOptions } from './cifar.js';

export const IMAGENET16_RECORD_BYTES = 2 + 3 * 16 * 16;
export const IMAGENET16_CLASSES = 120;

export function readImageNet16(dirArg: string | undefined, opts: ReaderOptions): Dataset {
  const name = 'imagenet16-120';
  const dir = requireDir(name, dirArg, 'train_data.bin and val_data.bin (raw records, see src/data/readers/imagenet16.ts)');
  const path = findFile(name, dir, [opts.split === 'train' ? 'train_data.bin' : 'val_data.bin']);
  const rec = IMAGENET16_RECORD_BYTES, pixels = rec - 2;
  const onDisk = fileSize(path);
  const bytes = readBytes(name, path);
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new DataError(`${name}: ${path} has ${bytes.length} bytes${onDisk !== bytes.length ? ' (decompressed)' : ''}, expected a non-zero multiple of ${rec} (2 label bytes + ${pixels} pixels per image)`, path);
  }
  const records = bytes.length / rec;
  const limit = opts.limit ?? Infinity;
  // First pass: validate every label and count the kept records.
  let kept = 0;
  for (let r = 0; r < records; r++) {
    const label = bytes[r * rec] | (bytes[r * rec + 1] << 8);
    if (label < 1 || label > 1000) throw new DataError(`${name}: ${path} record ${r} (byte offset ${r * rec}) has label ${label}, expected 1..1000`, path);
    if (label <= IMAGENET16_CLASSES) kept++;
  }
  const size = Math.min(kept, limit);
  const images = new Uint8Array(size * pixels);
  const labels = new Int32Array(size);
  let n = 0;
  for (let r = 0; r < records && n < size; r++) {
    const label = bytes[r * rec] | (bytes[r * rec + 1] << 8);
    if (label > IMAGENET16_CLASSES) continue;
    labels[n] = label - 1;
    images.set(bytes.subarray(r * rec + 2, (r + 1) * rec), n * pixels);
    n++;
  }
  const norm = NORMALIZATION[name].gm;
  return makeDataset({
    name, channels: 3, height: 16, width: 16, numClasses: IMAGENET16_CLASSES, size, images, labels,
    mean: [...norm.mean], std: [...norm.std],
  });
}
