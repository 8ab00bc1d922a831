// CIFAR-10 and CIFAR-100 in their "binary version" as distributed (cifar-10-binary.tar.gz,
// cifar-100-binary.tar.gz). Node only.
//
// CIFAR-10: data_batch_1.bin … data_batch_5.bin (train, in that order: the 50,000 images in the
//   order torchvision uses), test_batch.bin. Each file is a sequence of 3073-byte records:
//   1 label byte (0..9), then 3072 pixel bytes — the 1024 red values, 1024 green, 1024 blue, each
//   plane row-major 32×32. That is already our CHW layout, so pixels are copied as they are.
// CIFAR-100: train.bin, test.bin; 3074-byte records: coarse label (0..19), fine label (0..99), then
//   3072 pixel bytes as above. We use the fine labels (100 classes), as NB201 does.
// The directory may be the extracted folder itself or its parent (cifar-10-batches-bin/,
// cifar-100-binary/ are looked into). Class names come from batches.meta.txt / fine_label_names.txt
// when present, else from the built-in lists.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, makeDataset, NORMALIZATION, type Dataset } from '../dataset.js';
import {
  CIFAR10_CLASS_NAMES, CIFAR100_CLASS_NAMES, CIFAR_PIXELS, CIFAR_RECORD_LAYOUTS, cifarRecordBytes, cifarRecordCount, decodeCifarRecords,
} from '../cifar-format.js';
import { descendInto, fileSize, findFile, readBytes, readOptionalLines, requireDir } from './files.js';

export { CIFAR10_CLASS_NAMES, CIFAR100_CLASS_NAMES } from '../cifar-format.js';

export interface ReaderOptions {
  split: 'train' | 'test';
  /** Keep only the first `limit` images (in file order); files past that point are size-checked but not read. */
  limit?: number;
}

// the record layout (label bytes, label limits, class count) is cifar-format.ts's CIFAR_RECORD_LAYOUTS
interface CifarLayout {
  name: 'cifar10' | 'cifar100';
  subdir: string;
  trainFiles: string[];
  testFiles: string[];
  namesFile: string;
  builtinNames: string[];
  /** records each file of the official distribution holds, by file name */
  officialCounts: Record<string, number>;
}

const CIFAR10: CifarLayout = {
  name: 'cifar10', subdir: 'cifar-10-batches-bin',
  trainFiles: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`), testFiles: ['test_batch.bin'],
  namesFile: 'batches.meta.txt', builtinNames: CIFAR10_CLASS_NAMES,
  officialCounts: Object.fromEntries([1, 2, 3, 4, 5].map((k) => [`data_batch_${k}.bin`, 10_000]).concat([['test_batch.bin', 10_000]])),
};

const CIFAR100: CifarLayout = {
  name: 'cifar100', subdir: 'cifar-100-binary',
  trainFiles: ['train.bin'], testFiles: ['test.bin'],
  namesFile: 'fine_label_names.txt', builtinNames: CIFAR100_CLASS_NAMES,
  officialCounts: { 'train.bin': 50_000, 'test.bin': 10_000 },
};

/**
 * A file cut exactly at a record boundary (a partial copy) parses as whole records; a split of one file
 * (CIFAR-10's test_batch.bin, CIFAR-100's train.bin and test.bin) has no sibling to compare with. The
 * rule: when any file of the folder, of either split, holds exactly its official record count, the
 * folder is the official distribution and every file of it present must hold its official count
 * (CIFAR-10 10 000 per file; CIFAR-100 train 50 000, test 10 000). Sizes only (stat), nothing is read.
 * A folder where no file has its official count (a custom or sample set, the tests' fixtures) is
 * accepted at any size — a folder whose every file was cut short cannot be told from one.
 */
function checkOfficialCounts(layout: CifarLayout, dir: string): void {
  const ds = layout.name;
  const present = Object.entries(layout.officialCounts)
    .map(([name, official]) => ({ name, official, path: join(dir, name) }))
    .filter((f) => existsSync(f.path) && statSync(f.path).isFile())
    .map((f) => ({ ...f, count: cifarRecordCount(fileSize(f.path), ds, f.path) }));
  const witness = present.find((f) => f.count === f.official);
  if (!witness) return;
  const wrong = present.find((f) => f.count !== f.official);
  if (!wrong) return;
  const how = wrong.count < wrong.official ? 'was cut short (copy it again)' : 'holds more than the official file (not the official distribution?)';
  throw new DataError(`${ds}: ${wrong.path} holds ${wrong.count} records, expected ${wrong.official} ` +
    `(the official ${wrong.name}; ${witness.name} beside it holds its official ${witness.official}): this file ${how}`, wrong.path);
}

export function readCifar10(dir: string | undefined, opts: ReaderOptions): Dataset {
  return readCifar(CIFAR10, dir, opts);
}

export function readCifar100(dir: string | undefined, opts: ReaderOptions): Dataset {
  return readCifar(CIFAR100, dir, opts);
}

function readCifar(layout: CifarLayout, dirArg: string | undefined, opts: ReaderOptions): Dataset {
  const ds = layout.name;
  const expects = `${[...layout.trainFiles, ...layout.testFiles].join(', ')} (the ${ds} binary version)`;
  const dir = descendInto(requireDir(ds, dirArg, expects), layout.subdir, layout.trainFiles[0]);
  const files = (opts.split === 'train' ? layout.trainFiles : layout.testFiles).map((f) => findFile(ds, dir, [f]));
  const record = cifarRecordBytes(ds);
  const numClasses = CIFAR_RECORD_LAYOUTS[ds].numClasses;
  const limit = opts.limit ?? Infinity;

  // Check every file's size first, so a truncated later file fails before minutes of reading.
  const counts = files.map((path) => cifarRecordCount(fileSize(path), ds, path));
  checkOfficialCounts(layout, dir);
  // the distributed batches of a split hold the same number of records (CIFAR-10: 10 000 each), so a
  // file cut exactly at a record boundary (a partial copy) shows as the odd one out
  const odd = counts.findIndex((n) => n !== counts[0]);
  if (odd > 0) {
    const short = counts[odd] < counts[0] ? odd : 0;
    throw new DataError(`${ds}: ${files[short]} holds ${counts[short]} records but ${files[short === 0 ? odd : 0]} holds ` +
      `${counts[short === 0 ? odd : 0]}; the batches of a split hold the same number, so this file was cut short (copy it again)`, files[short]);
  }
  const total = Math.min(limit, counts.reduce((a, b) => a + b, 0));
  const images = new Uint8Array(total * CIFAR_PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  for (let f = 0; f < files.length && n < total; f++) {
    const bytes = readBytes(ds, files[f]);
    if (bytes.length !== counts[f] * record) throw new DataError(`${ds}: ${files[f]} changed size while being read`, files[f]);
    const take = Math.min(counts[f], total - n);
    // records past the limit are neither decoded nor label-checked
    decodeCifarRecords(bytes, ds, files[f], take, images, labels, n);
    n += take;
  }

  const names = readOptionalLines(join(dir, layout.namesFile));
  const norm = NORMALIZATION[ds].gm;
  return makeDataset({
    name: ds, channels: 3, height: 32, width: 32, numClasses, size: n, images, labels,
    mean: [...norm.mean], std: [...norm.std],
    classNames: names && names.length === numClasses ? names : [...layout.builtinNames],
  });
}
