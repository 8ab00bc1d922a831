// Image-folder datasets (src/data/readers/image-folder.ts) on tiny JPEG and PNG folders written to a temp
// dir: labels from sorted class folders, pixel values after resize + centre crop (exact on PNG, against
// area averages computed here), unreadable files skipped and counted, the uint8 cache (hit, identical
// bytes, new key when a file changes), and one-line errors for empty classes and missing folders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { readImageFolder, resizeCenterCrop, decodeImage } from '../../src/data/readers/image-folder.js';
import { loadDataset } from '../../src/data/load.js';
import { defaultAugmentation } from '../../src/data/augment.js';
import { BatchSampler } from '../../src/data/sampler.js';

let root = '';
test.before.each(() => { root = mkdtempSync(join(tmpdir(), 'gmnas-imgfolder-')); });
test.after.each(() => { rmSync(root, { recursive: true, force: true }); });

/** w×h RGBA filled by f(x, y) → [r, g, b]. */
function rgba(w: number, h: number, f: (x: number, y: number) => number[]): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const [r, g, b] = f(x, y); d.set([r, g, b, 255], 4 * (y * w + x)); }
  return d;
}
function writePng(path: string, w: number, h: number, f: (x: number, y: number) => number[]): void {
  writeFileSync(path, pngjs.PNG.sync.write({ width: w, height: h, data: Buffer.from(rgba(w, h, f)) }));
}
function writeJpeg(path: string, w: number, h: number, f: (x: number, y: number) => number[]): void {
  writeFileSync(path, jpeg.encode({ width: w, height: h, data: rgba(w, h, f) }, 95).data);
}

/** train: cats (2 PNG, 1 JPEG), dogs (1 JPEG, 1 corrupt .jpg); val: cats (1 PNG) */
function makeFolder(): void {
  for (const d of ['train/cats', 'train/dogs', 'val/cats']) mkdirSync(join(root, d), { recursive: true });
  writePng(join(root, 'train/cats/a.png'), 8, 8, (x, y) => [x * 30, y * 30, 100]);
  writePng(join(root, 'train/cats/b.PNG'), 12, 8, () => [200, 10, 50]);
  writeJpeg(join(root, 'train/cats/c.jpg'), 16, 16, () => [90, 160, 220]);
  writeJpeg(join(root, 'train/dogs/d.jpeg'), 10, 20, () => [20, 240, 20]);
  writeFileSync(join(root, 'train/dogs/broken.jpg'), Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 1, 2, 3));
  writeFileSync(join(root, 'train/dogs/notes.txt'), 'not an image');
  writePng(join(root, 'val/cats/v.png'), 8, 8, () => [1, 2, 3]);
}

test('train split: labels by sorted class, pixels resized and centre-cropped, broken files skipped and counted', () => {
  makeFolder();
  const { dataset: ds, skipped, fromCache } = readImageFolder(root, { split: 'train', resolution: 4, cacheDir: null });
  assert.is(fromCache, false);
  assert.equal(ds.classNames, ['cats', 'dogs']);
  assert.equal([ds.size, ds.channels, ds.height, ds.width, ds.numClasses], [4, 3, 4, 4, 2]);
  assert.equal(Array.from(ds.labels), [0, 0, 0, 1]);
  assert.equal(skipped.map((s) => s.file), [join('train', 'dogs', 'broken.jpg')]);
  // a.png 8×8 → 4×4: each output pixel is the mean of a 2×2 block; r = 30x, g = 30y
  const plane = 16;
  for (let oy = 0; oy < 4; oy++) {
    for (let ox = 0; ox < 4; ox++) {
      assert.is(ds.images[oy * 4 + ox], Math.round(30 * (2 * ox + 0.5)), `r at ${ox},${oy}`);
      assert.is(ds.images[plane + oy * 4 + ox], Math.round(30 * (2 * oy + 0.5)), `g at ${ox},${oy}`);
      assert.is(ds.images[2 * plane + oy * 4 + ox], 100);
    }
  }
  // b.PNG (solid, 12×8: centre crop of the wider side) exact; JPEG solid colours within codec error
  const img = (i: number) => ds.images.subarray(i * 48, (i + 1) * 48);
  assert.ok(img(1).every((v, k) => v === [200, 10, 50][Math.floor(k / 16)]));
  assert.ok(img(2).every((v, k) => Math.abs(v - [90, 160, 220][Math.floor(k / 16)]) <= 3));
  assert.ok(img(3).every((v, k) => Math.abs(v - [20, 240, 20][Math.floor(k / 16)]) <= 3));
});

test('val split: shorter side to R/0.875 then centre crop; labels from train classes', () => {
  makeFolder();
  const { dataset: ds } = readImageFolder(root, { split: 'test', resolution: 7, cacheDir: null });
  assert.equal([ds.size, ds.height, ds.numClasses], [1, 7, 2]);
  assert.equal(Array.from(ds.labels), [0]);
  assert.ok(ds.images.every((v, k) => v === [1, 2, 3][Math.floor(k / 49)]));
});

test('resize: area average when shrinking by a non-integer factor, bilinear when enlarging', () => {
  // 3×3 → 2×2 with shorter side 2: each output pixel covers 1.5×1.5 source pixels
  const rgb = new Uint8Array(27);
  for (let i = 0; i < 9; i++) rgb.fill(i * 10, 3 * i, 3 * i + 3);
  const out = new Uint8Array(12);
  resizeCenterCrop({ width: 3, height: 3, rgb }, 2, 2, out);
  // top-left: weights 1, .5, .5, .25 over values 0, 10, 30, 40 → (0 + 5 + 15 + 10) / 2.25
  assert.is(out[0], Math.round(30 / 2.25));
  // 2×2 → 4×4: corners stay, the interior interpolates
  const small = Uint8Array.from([0, 0, 0, 100, 100, 100, 0, 0, 0, 100, 100, 100]);
  const big = new Uint8Array(48);
  resizeCenterCrop({ width: 2, height: 2, rgb: small }, 4, 4, big);
  assert.equal(Array.from(big.subarray(0, 4)), [0, 25, 75, 100]);
  assert.throws(() => decodeImage(Uint8Array.of(1, 2, 3, 4)), /neither a PNG nor a JPEG/);
});

test('cache: second read comes from the uint8 file with identical bytes; a changed file gives a new key', () => {
  makeFolder();
  const cacheDir = join(root, 'cache');
  const first = readImageFolder(root, { split: 'train', resolution: 4, cacheDir });
  assert.is(first.fromCache, false);
  assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.u8')).length, 1);
  assert.equal(readdirSync(cacheDir).filter((f) => f.includes('.tmp-')), []);
  const second = readImageFolder(root, { split: 'train', resolution: 4, cacheDir });
  assert.is(second.fromCache, true);
  assert.is(second.cachePath, first.cachePath);
  assert.equal(second.dataset.images, first.dataset.images);
  assert.equal(second.dataset.labels, first.dataset.labels);
  assert.equal(second.skipped, first.skipped);
  assert.equal(second.dataset.classNames, first.dataset.classNames);
  // another resolution, and a replaced image, each get their own cache file
  assert.is(readImageFolder(root, { split: 'train', resolution: 5, cacheDir }).fromCache, false);
  writePng(join(root, 'train/cats/a.png'), 8, 8, () => [7, 7, 7]);
  utimesSync(join(root, 'train/cats/a.png'), new Date(), new Date(Date.now() + 5000));
  const third = readImageFolder(root, { split: 'train', resolution: 4, cacheDir });
  assert.is(third.fromCache, false);
  assert.is.not(third.cachePath, first.cachePath);
  assert.is(third.dataset.images[0], 7);
});

test('errors: empty class, all-broken class, missing train/ or val/, val class unknown to train', () => {
  makeFolder();
  mkdirSync(join(root, 'train/empty'));
  assert.throws(() => readImageFolder(root, { split: 'train', resolution: 4, cacheDir: null }), /class folder .*train\/empty is empty/);
  rmSync(join(root, 'train/empty'), { recursive: true });
  rmSync(join(root, 'train/dogs/d.jpeg'));
  assert.throws(() => readImageFolder(root, { split: 'train', resolution: 4, cacheDir: null }), /every image of class folder .*train\/dogs failed to decode \(1 unreadable/);
  mkdirSync(join(root, 'val/birds'));
  writePng(join(root, 'val/birds/x.png'), 2, 2, () => [0, 0, 0]);
  assert.throws(() => readImageFolder(root, { split: 'test', resolution: 4, cacheDir: null }), /val\/birds has no counterpart in .*train/);
  rmSync(join(root, 'val'), { recursive: true });
  assert.throws(() => readImageFolder(root, { split: 'test', resolution: 4, cacheDir: null }), /val not found/);
  assert.throws(() => readImageFolder(join(root, 'nope'), { split: 'train', resolution: 4 }), /nope is not a directory; set --data-dir/);
  assert.throws(() => readImageFolder(root, { split: 'train', resolution: 0 }), /--resolution 0/);
});

test('registered as --dataset image-folder: loadDataset at a resolution, a warning for skipped files, limits keep every class', () => {
  makeFolder();
  const warnings: string[] = [];
  const ds = loadDataset('image-folder', { dataDir: root, split: 'train', resolution: 4, warn: (m) => warnings.push(m) });
  const direct = readImageFolder(root, { split: 'train', resolution: 4, cacheDir: null }).dataset;
  assert.is(ds.name, 'image-folder');
  assert.equal([ds.size, ds.height], [4, 4]);
  assert.equal(ds.images, direct.images);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /1 file\(s\) did not decode/);
  // 4 images listed cats, cats, cats, dogs: a limit of 2 takes images 0 and 2 — still only cats here, but
  // evenly spaced (a first-K cut of a class-sorted listing would lose whole classes on real folders)
  const two = loadDataset('image-folder', { dataDir: root, split: 'train', resolution: 4, limit: 2, warn: () => {} });
  assert.equal(two.images, Uint8Array.from([...direct.images.subarray(0, 48), ...direct.images.subarray(96, 144)]));
  assert.throws(() => loadDataset('image-folder', { split: 'train' }), /--data-dir is required/);
  // the sampler's default augmentation for it: crop R with padding R/8, flip
  assert.equal(defaultAugmentation('image-folder', 32), { padding: 4, flip: true, order: 'crop-flip' });
  assert.equal(new BatchSampler(ds, { batchSize: 2, seed: 0, augment: true }).augment, { padding: 1, flip: true, order: 'crop-flip' });
});

test.run();
