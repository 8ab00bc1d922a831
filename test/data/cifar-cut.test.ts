// A CIFAR file cut exactly at a record boundary (a partial copy) parses as whole records. The reader
// refuses it two ways: the training batches of CIFAR-10 must all hold the same number of records, and
// in a folder that is the official distribution (some file holds exactly its official record count)
// every file must hold its official count — which covers the splits of one file (CIFAR-10's
// test_batch.bin, CIFAR-100's train.bin / test.bin). Official-size files are made sparse (truncate),
// so the tests write almost nothing; the size checks run before any file is read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/load.js';
import { throwsData } from '../helpers/data-files.js';

const dir = mkdtempSync(join(tmpdir(), 'gmnas-cifar-cut-'));
const records = (n: number): Uint8Array => { const b = new Uint8Array(n * 3073); for (let r = 0; r < n; r++) b[r * 3073] = r % 10; return b; };
/** A file of `n` zero records (labels 0, valid), sparse: its size is right, nothing is written. */
const zeroRecords = (path: string, n: number, recordBytes: number): void => { writeFileSync(path, ''); truncateSync(path, n * recordBytes); };
let sub = 0;
const freshDir = (): string => { const d = join(dir, `d${sub++}`); mkdirSync(d); return d; };

test('a training batch with fewer records than the others is refused naming it; equal batches load', () => {
  for (let f = 1; f <= 5; f++) writeFileSync(join(dir, `data_batch_${f}.bin`), records(4));
  writeFileSync(join(dir, 'test_batch.bin'), records(2));
  assert.is(loadDataset('cifar10', { dataDir: dir, split: 'train' }).size, 20);
  writeFileSync(join(dir, 'data_batch_5.bin'), records(3));
  assert.throws(() => loadDataset('cifar10', { dataDir: dir, split: 'train' }), /data_batch_5\.bin holds 3 records but .*data_batch_1\.bin holds 4; .*cut short/);
  writeFileSync(join(dir, 'data_batch_1.bin'), records(3));
  writeFileSync(join(dir, 'data_batch_5.bin'), records(4));
  assert.throws(() => loadDataset('cifar10', { dataDir: dir, split: 'train' }), /data_batch_1\.bin holds 3 records but .*data_batch_2\.bin holds 4/);
});

test('cifar10 official folder: test_batch.bin cut at a record boundary is refused with its count and the official one', () => {
  const d = freshDir();
  for (let f = 1; f <= 5; f++) zeroRecords(join(d, `data_batch_${f}.bin`), 10_000, 3073);
  zeroRecords(join(d, 'test_batch.bin'), 9_999, 3073);
  throwsData(() => loadDataset('cifar10', { dataDir: d, split: 'test' }), /test_batch\.bin holds 9999 records, expected 10000 .*cut short/);
  // the folder is broken whichever split is asked for
  throwsData(() => loadDataset('cifar10', { dataDir: d, split: 'train', limit: 2 }), /test_batch\.bin holds 9999 records, expected 10000/);
  zeroRecords(join(d, 'test_batch.bin'), 10_000, 3073);
  assert.is(loadDataset('cifar10', { dataDir: d, split: 'test', limit: 3 }).size, 3);
  // a training batch cut short is named by the same rule (it comes before the odd-one-out check)
  zeroRecords(join(d, 'data_batch_4.bin'), 7_000, 3073);
  throwsData(() => loadDataset('cifar10', { dataDir: d, split: 'test', limit: 3 }), /data_batch_4\.bin holds 7000 records, expected 10000/);
});

test('cifar100 official folder: train.bin or test.bin cut short is refused; both official load', () => {
  const d = freshDir();
  zeroRecords(join(d, 'train.bin'), 50_000, 3074);
  zeroRecords(join(d, 'test.bin'), 4_321, 3074);
  throwsData(() => loadDataset('cifar100', { dataDir: d, split: 'test' }), /test\.bin holds 4321 records, expected 10000 \(the official test\.bin; train\.bin beside it holds its official 50000\)/);
  zeroRecords(join(d, 'test.bin'), 10_000, 3074);
  zeroRecords(join(d, 'train.bin'), 49_999, 3074);
  throwsData(() => loadDataset('cifar100', { dataDir: d, split: 'train', limit: 2 }), /train\.bin holds 49999 records, expected 50000/);
  zeroRecords(join(d, 'train.bin'), 50_000, 3074);
  assert.is(loadDataset('cifar100', { dataDir: d, split: 'test', limit: 2 }).size, 2);
});

test('no file at its official count (a small or custom set): any whole number of records loads', () => {
  const d = freshDir();
  zeroRecords(join(d, 'train.bin'), 7, 3074);
  zeroRecords(join(d, 'test.bin'), 3, 3074);
  assert.is(loadDataset('cifar100', { dataDir: d, split: 'test' }).size, 3);
  assert.is(loadDataset('cifar100', { dataDir: d, split: 'train' }).size, 7);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
