// A CIFAR-10 training batch cut exactly at a record boundary (a partial copy) parses as whole records;
// the reader refuses it because the distributed batches all hold the same number of records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../../src/data/load.js';

const dir = mkdtempSync(join(tmpdir(), 'gmnas-cifar-cut-'));
const records = (n: number): Uint8Array => { const b = new Uint8Array(n * 3073); for (let r = 0; r < n; r++) b[r * 3073] = r % 10; return b; };

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

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
