// The Fashion-MNIST subset committed in data/fashion-mnist/ (gmnas's default dataset): sizes, labels and
// pixels against values computed independently (Python's gzip module over the same files, and the
// published set: 1 000 test images per class, the first labels of each split), byte equality with the
// Debian copy when it is installed, and the SHA-256 check: a corrupt, missing or unlisted file is a
// DataError that names it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, cpSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DataError, classCounts, makeDataset, shrinkForNetwork } from '../../src/data/dataset.js';
import { loadDataset } from '../../src/data/load.js';
import { readEmbeddedFashionMnist, embeddedFashionMnistDir, EMBEDDED_FILES, EMBEDDED_SIZES } from '../../src/data/readers/embedded.js';
import { FASHION_MNIST_DEFAULT_DIR } from '../../src/data/readers/idx.js';

const tmp = mkdtempSync(join(tmpdir(), 'gmnas-embedded-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function throwsData(fn: () => unknown, ...patterns: RegExp[]): void {
  try { fn(); } catch (e) {
    assert.instance(e, DataError, `expected DataError, got ${String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return;
  }
  assert.unreachable('expected a DataError');
}

const sum = (a: Uint8Array): number => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; };

const train = loadDataset('fashion-mnist-embedded', { split: 'train' });
const testSet = loadDataset('fashion-mnist-embedded', { split: 'test' });

test('sizes and shapes: 12 000 training and 10 000 test images of 1×28×28, ten classes', () => {
  assert.equal([train.size, testSet.size], [EMBEDDED_SIZES.train, EMBEDDED_SIZES.test]);
  assert.equal([12000, 10000], [EMBEDDED_SIZES.train, EMBEDDED_SIZES.test]);
  for (const ds of [train, testSet]) {
    assert.is(ds.name, 'fashion-mnist-embedded');
    assert.equal([ds.channels, ds.height, ds.width, ds.numClasses], [1, 28, 28, 10]);
    assert.is(ds.images.length, ds.size * 784);
  }
  assert.is(loadDataset('fashion-mnist-embedded', { split: 'train', limit: 100 }).size, 100);
});

test('labels and pixels match values computed by another decoder (Python gzip) and the published set', () => {
  // class counts of the first 12 000 training labels, counted with Python's gzip + collections.Counter
  assert.equal([...classCounts(train)], [1122, 1220, 1201, 1212, 1181, 1204, 1244, 1192, 1195, 1229]);
  // the published test set is balanced
  assert.equal([...classCounts(testSet)], new Array(10).fill(1000));
  // Fashion-MNIST's first labels (ankle boot, T-shirt, T-shirt, dress, ...)
  assert.equal([...train.labels.subarray(0, 10)], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  assert.equal([...testSet.labels.subarray(0, 10)], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  // pixel sums (Python: sum of the bytes after the 16-byte header)
  assert.is(sum(train.images), 686484334);
  assert.is(sum(testSet.images), 573469082);
  assert.is(sum(train.images.subarray(0, 784)), 76247);
});

test('the subset is the first 12 000 / all 10 000 images of the Debian copy (skipped when absent)', () => {
  if (!existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz'))) {
    console.log(`  note: ${FASHION_MNIST_DEFAULT_DIR} not present; comparison skipped`);
    return;
  }
  const full = loadDataset('fashion-mnist', { split: 'train', limit: 12000 });
  assert.is(full.name, 'fashion-mnist');
  assert.ok(Buffer.from(full.images).equals(Buffer.from(train.images)));
  assert.equal([...full.labels], [...train.labels]);
  const fullTest = loadDataset('fashion-mnist', { split: 'test' });
  assert.ok(Buffer.from(fullTest.images).equals(Buffer.from(testSet.images)));
});

test('SHA-256: a corrupt, missing or unlisted file is a DataError naming it', () => {
  const copy = join(tmp, 'fm');
  cpSync(embeddedFashionMnistDir(), copy, { recursive: true });
  for (const f of EMBEDDED_FILES) assert.ok(existsSync(join(copy, f)), f);
  assert.is(readEmbeddedFashionMnist({ split: 'test', limit: 5 }, copy).size, 5);

  // one flipped bit inside the compressed labels: still valid gzip is not required, the digest catches it first
  const labels = join(copy, 't10k-labels-idx1-ubyte.gz');
  const bytes = readFileSync(labels);
  bytes[bytes.length - 20] ^= 1;
  writeFileSync(labels, bytes);
  throwsData(() => readEmbeddedFashionMnist({ split: 'test' }, copy), /t10k-labels-idx1-ubyte\.gz is corrupt: SHA-256 [0-9a-f]{64}, expected ae04cd95/, /git checkout/);
  // the training split does not read that file
  assert.is(readEmbeddedFashionMnist({ split: 'train', limit: 3 }, copy).size, 3);

  rmSync(join(copy, 'train-images-idx3-ubyte.gz'));
  throwsData(() => readEmbeddedFashionMnist({ split: 'train' }, copy), /train-images-idx3-ubyte\.gz is missing/);

  const sums = readFileSync(join(copy, 'SHA256SUMS'), 'utf8');
  writeFileSync(join(copy, 'SHA256SUMS'), sums.split('\n').filter((l) => !l.includes('t10k-images')).join('\n'));
  throwsData(() => readEmbeddedFashionMnist({ split: 'test' }, copy), /SHA256SUMS has no checksum for t10k-images-idx3-ubyte\.gz/);
  writeFileSync(join(copy, 'SHA256SUMS'), 'not a checksum line\n');
  throwsData(() => readEmbeddedFashionMnist({ split: 'test' }, copy), /SHA256SUMS line 1 is not/);
  rmSync(join(copy, 'SHA256SUMS'));
  throwsData(() => readEmbeddedFashionMnist({ split: 'test' }, copy), /SHA256SUMS is missing/);
});

test('shrinkForNetwork: 28×28 with factor 2 is zero-padded to 32×32 (centred) then averaged to 16×16', () => {
  const img = (r: number, c: number) => (r * 28 + c * 5 + 3) % 256;
  const images = new Uint8Array(2 * 784);
  for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) { images[r * 28 + c] = img(r, c); images[784 + r * 28 + c] = 255 - img(r, c); }
  const ds = makeDataset({ name: 'fashion-mnist', channels: 1, height: 28, width: 28, numClasses: 10, size: 2, images, labels: Int32Array.from([1, 2]), mean: [0.5], std: [0.5] });
  const out = shrinkForNetwork(ds, 2);
  assert.equal([out.height, out.width, out.size], [16, 16, 2]);
  // brute force: padded(r, c) = the image at (r − 2, c − 2) inside, 0 outside; 2×2 means rounded
  for (let k = 0; k < 2; k++) {
    const padded = (r: number, c: number) => (r >= 2 && r < 30 && c >= 2 && c < 30 ? (k ? 255 - img(r - 2, c - 2) : img(r - 2, c - 2)) : 0);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
      const m = (padded(2 * y, 2 * x) + padded(2 * y + 1, 2 * x) + padded(2 * y, 2 * x + 1) + padded(2 * y + 1, 2 * x + 1)) / 4;
      assert.is(out.images[k * 256 + y * 16 + x], Math.round(m), `image ${k} (${y}, ${x})`);
    }
  }
  assert.equal([...out.labels], [1, 2]);
  // factor 1 keeps 28×28 (divisible by 4); 32×32 with factor 2 needs no padding
  assert.is(shrinkForNetwork(ds, 1), ds);
  assert.is(shrinkForNetwork(makeDataset({ ...ds, height: 32, width: 32, size: 1, images: new Uint8Array(1024), labels: Int32Array.from([0]) }), 2).height, 16);
});

test.run();
