// The page's data helpers in Node (Node 20 has fetch-free DecompressionStream and crypto.subtle too):
// user files recognised or refused with messages naming the file, zero padding to the networks'
// multiple, scaled augmentation, browser presets, and the SHA-256 sums of the embedded files
// recomputed with node:crypto (independent of crypto.subtle).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetFromFiles, padToMultiple, parseSha256Sums, sha256Hex, gunzipIfNeeded } from '../../src/browser/datasets.js';
import { browserSearchConfig, scaledAugmentation, BROWSER_PRESETS } from '../../src/browser/presets.js';
import { validateSearchConfig } from '../../src/nas/config.js';
import { makeDataset } from '../../src/data/dataset.js';
import { leafScoresSvg, lineageCurve } from '../../src/browser/charts.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

test('SHA256SUMS of the embedded data match node:crypto and sha256Hex', async () => {
  const sums = parseSha256Sums(readFileSync(join(root, 'data/fashion-mnist/SHA256SUMS'), 'utf8'));
  assert.is(sums.size, 4);
  const name = 'train-labels-idx1-ubyte.gz';
  const bytes = new Uint8Array(readFileSync(join(root, 'data/fashion-mnist', name)));
  const node = createHash('sha256').update(bytes).digest('hex');
  assert.is(sums.get(name), node);
  assert.is(await sha256Hex(bytes), node);
});

test('an IDX pair (one gzipped) becomes a dataset with its own statistics; order of the files does not matter', async () => {
  const images = idx(2051, [2, 2, 2], [0, 255, 0, 255, 10, 20, 30, 40]);
  const labels = idx(2049, [2], [7, 3]);
  const { dataset, format } = await datasetFromFiles([
    { name: 'my-fashion-labels.gz', bytes: new Uint8Array(gzipSync(labels)) }, { name: 'imgs', bytes: images },
  ]);
  assert.is(format, 'idx');
  assert.is(dataset.name, 'fashion-mnist');
  assert.equal(Array.from(dataset.labels), [7, 3]);
  assert.equal([dataset.size, dataset.channels, dataset.height, dataset.width], [2, 1, 2, 2]);
  const mean = (0 + 255 + 0 + 255 + 10 + 20 + 30 + 40) / 8 / 255;
  assert.ok(Math.abs(dataset.mean[0] - mean) < 1e-9);
  assert.is(dataset.classNames![7], 'Sneaker');
});

test('wrong files are refused with a message naming the file', async () => {
  const reject = async (files: { name: string; bytes: Uint8Array }[], re: RegExp): Promise<void> => {
    try {
      await datasetFromFiles(files);
    } catch (e) {
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`accepted ${files.map((f) => f.name).join(', ')}`);
  };
  await reject([], /no files chosen/);
  await reject([{ name: 'notes.txt', bytes: new TextEncoder().encode('hello') }], /notes\.txt: neither an IDX file .*0x68656c6c.*\(5 bytes is not a multiple of 3073/);
  await reject([{ name: 'a', bytes: idx(2051, [1, 1, 1], [5]) }], /exactly one images file .* got 1 images and 0 labels/);
  await reject([{ name: 'a', bytes: idx(2051, [2, 1, 1], [5, 6]) }, { name: 'b', bytes: idx(2049, [3], [1, 2, 3]) }], /b has 3 labels but a has 2 images/);
  await reject([{ name: 'a', bytes: idx(2051, [1, 1, 1], [5]) }, { name: 'b', bytes: idx(2049, [1], [12]) }], /b label 0 is 12, expected 0\.\.9/);
  await reject([{ name: 'a', bytes: idx(2051, [1, 1, 1], [5]) }, { name: 'b', bytes: idx(2049, [1], [1]) }, { name: 'c.jpg', bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0]) }], /c\.jpg: not an IDX file/);
  await reject([{ name: 'data_batch_1.bin', bytes: new Uint8Array(3073 * 2 + 1) }], /data_batch_1\.bin has 6147 bytes, expected a non-zero multiple of 3073/);
  const bad = new Uint8Array(3073); bad[0] = 10;
  await reject([{ name: 'data_batch_2.bin', bytes: bad }], /data_batch_2\.bin record 0 .* label 10, expected 0\.\.9/);
  await reject([{ name: 'data_batch_1.bin', bytes: new Uint8Array(3073) }, { name: 'train.bin', bytes: new Uint8Array(3074) }], /mix CIFAR-10 and CIFAR-100/);
  await reject([{ name: 'broken.gz', bytes: new Uint8Array([0x1f, 0x8b, 1, 2, 3]) }], /broken\.gz looks gzip-compressed but does not decompress/);
});

test('CIFAR batches: distributed order whatever the pick order, CIFAR-100 fine labels', async () => {
  const rec10 = (label: number, v: number): Uint8Array => { const r = new Uint8Array(3073).fill(v); r[0] = label; return r; };
  const cat = (...parts: Uint8Array[]): Uint8Array => { const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0; for (const p of parts) { o.set(p, at); at += p.length; } return o; };
  const { dataset } = await datasetFromFiles([
    { name: 'data_batch_10.bin', bytes: rec10(9, 3) }, { name: 'data_batch_2.bin', bytes: rec10(2, 2) }, { name: 'data_batch_1.bin', bytes: cat(rec10(1, 1), rec10(0, 1)) },
  ]);
  assert.is(dataset.name, 'cifar10');
  assert.equal(Array.from(dataset.labels), [1, 0, 2, 9]);
  assert.equal([dataset.images[0], dataset.images[2 * 3072], dataset.images[3 * 3072]], [1, 2, 3]);
  const rec100 = new Uint8Array(3074); rec100[0] = 19; rec100[1] = 99;
  const c100 = await datasetFromFiles([{ name: 'train.bin', bytes: rec100 }]);
  assert.is(c100.dataset.name, 'cifar100');
  assert.equal(Array.from(c100.dataset.labels), [99]);
});

test('padToMultiple centres the images on zeros; gunzipIfNeeded passes plain bytes through', async () => {
  const ds = makeDataset({ name: 'mnist', channels: 1, height: 2, width: 3, numClasses: 10, size: 1, images: new Uint8Array([1, 2, 3, 4, 5, 6]), labels: new Int32Array([0]), mean: [0.1], std: [0.3] });
  const p = padToMultiple(ds, 4);
  assert.equal([p.height, p.width], [4, 4]);
  assert.equal(Array.from(p.images), [0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
  assert.is(padToMultiple(p, 4), p);
  const plain = new Uint8Array([1, 2, 3]);
  assert.is(await gunzipIfNeeded(plain, 'x'), plain);
});

test('browser presets validate; augmentation padding scales with the images', () => {
  for (const preset of BROWSER_PRESETS) {
    const c = browserSearchConfig({ preset, dataset: 'fashion-mnist' });
    validateSearchConfig(c);
    assert.is(c.dataset, 'fashion-mnist');
    assert.is(c.syntheticSize, null);
    assert.is(c.select, 'supernet-val-acc');
  }
  assert.is(browserSearchConfig({ preset: 'browser-tiny', dataset: 'synthetic', seed: 3 }).seed, 3);
  assert.throws(() => browserSearchConfig({ preset: 'huge' as 'tiny', dataset: 'fashion-mnist' }), /preset: expected one of browser-quick, browser-tiny, quick, tiny, paper, got 'huge'/);
  assert.equal(scaledAugmentation('fashion-mnist', 4), { padding: 1, flip: true, order: 'crop-flip' });
  assert.equal(scaledAugmentation('fashion-mnist', 2)?.padding, 2);
  assert.equal(scaledAugmentation('mnist', 1), { padding: 4, flip: false, order: 'crop-flip' });
  assert.is(scaledAugmentation('unknown', 2), undefined);
});

test('charts: a lineage follows the parents; leaf bars carry their scores', () => {
  const parents = new Map<number, number | null>([[0, null], [1, 0], [3, 1]]);
  const rec = (epoch: number, acc: number) => ({ epoch, lr: 0.1, tau: null, updateArch: false, trainLoss: 1, trainAccuracy: acc, seconds: 1 });
  const curve = lineageCurve(3, (id) => parents.get(id) ?? null, { 0: [rec(0, 10), rec(1, 20)], 1: [rec(2, 30)], 3: [rec(3, 40)], 2: [rec(2, 99)] });
  assert.equal(curve, [{ epoch: 1, value: 10 }, { epoch: 2, value: 20 }, { epoch: 3, value: 30 }, { epoch: 4, value: 40 }]);
  const svg = leafScoresSvg([{ node: 3, genotype: '|a~0|', accuracy: 48.8, secondary: 17.6 }, { node: 4, genotype: '<b>', accuracy: 12 }], { chance: 10, finalNode: 3 });
  assert.match(svg, /data-node="3" data-accuracy="48.80" data-secondary="17.60"/);
  assert.match(svg, /leaf 3 ★/);
  assert.match(svg, /&lt;b&gt;/);
  assert.not.match(svg, /leaf 4 ★/);
});

test("README's startSearch example is web/embed-example.html's script, word for word", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const page = readFileSync(join(root, 'web/embed-example.html'), 'utf8');
  const script = (text: string): string => {
    const m = /<script type="module">\n  import \{ startSearch[\s\S]*?<\/script>/.exec(text);
    assert.ok(m, 'no startSearch example found');
    return m![0];
  };
  assert.is(script(page), script(readme));
});

test.run();
