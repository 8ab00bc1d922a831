import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeDataset, NORMALIZATION, DataError, type Dataset } from '../../src/data/dataset.js';
import { BatchSampler, evalBatches } from '../../src/data/sampler.js';
import { writeImage, normalizationTable, defaultAugmentation, type AugmentSpec } from '../../src/data/augment.js';
import { splitTrainForSearch } from '../../src/data/split.js';
import { generateSynthetic } from '../../src/data/synthetic.js';

/** n images of C×H×W; pixel value encodes (image, channel, y, x) and is never 0 (0 is the pad value). */
function tinyDataset(n: number, C: number, H: number, W: number, std = 1 / 255): Dataset {
  const images = new Uint8Array(n * C * H * W);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    images[((i * C + c) * H + y) * W + x] = 1 + ((i * 50 + c * 20 + y * W + x) % 250);
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  // mean 0, std 1/255: the normalised value equals the raw byte, which makes expected values readable.
  return makeDataset({ name: 'tiny', channels: C, height: H, width: W, numClasses: 3, size: n, images, labels, mean: new Array(C).fill(0), std: new Array(C).fill(std) });
}

/** Reference: pad with zeros, crop at (oy, ox), mirror — done literally on nested arrays. */
function referenceAugment(ds: Dataset, i: number, pad: number, oy: number, ox: number, flip: boolean, order: 'crop-flip' | 'flip-crop'): number[] {
  const { channels: C, height: H, width: W } = ds;
  const out: number[] = [];
  for (let c = 0; c < C; c++) {
    let img: number[][] = Array.from({ length: H + 2 * pad }, (_, y) => Array.from({ length: W + 2 * pad }, (_, x) => {
      const sy = y - pad, sx = x - pad;
      return sy < 0 || sy >= H || sx < 0 || sx >= W ? 0 : ds.images[((i * C + c) * H + sy) * W + sx];
    }));
    const mirror = (m: number[][]) => m.map((row) => [...row].reverse());
    if (flip && order === 'flip-crop') img = mirror(img);
    let crop = img.slice(oy, oy + H).map((row) => row.slice(ox, ox + W));
    if (flip && order === 'crop-flip') crop = mirror(crop);
    for (const row of crop) out.push(...row);
  }
  return out;
}

test('writeImage: every crop offset and flip, both orders, equals pad→crop→flip done literally', () => {
  const ds = tinyDataset(2, 2, 4, 5);
  const lut = normalizationTable(ds.mean, ds.std);
  const pad = 2;
  for (const order of ['crop-flip', 'flip-crop'] as const) {
    const spec: AugmentSpec = { padding: pad, flip: true, order };
    for (let oy = 0; oy <= 2 * pad; oy++) for (let ox = 0; ox <= 2 * pad; ox++) for (const flip of [false, true]) {
      const out = new Float32Array(2 * 4 * 5 + 3);
      writeImage(ds, 1, out, 3, lut, { offY: oy, offX: ox, flip }, spec);
      const got = Array.from(out.subarray(3), (v) => Math.round(v));
      assert.equal(got, referenceAugment(ds, 1, pad, oy, ox, flip, order), `${order} oy=${oy} ox=${ox} flip=${flip}`);
    }
  }
});

test('writeImage: the centre crop without flip is the identity; a hand-checked 3×3 case', () => {
  const ds = tinyDataset(1, 1, 3, 3);
  const lut = normalizationTable(ds.mean, ds.std);
  const out = new Float32Array(9);
  writeImage(ds, 0, out, 0, lut, { offY: 1, offX: 1, flip: false }, { padding: 1, flip: true });
  assert.equal(Array.from(out, Math.round), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Crop at (0, 2) then mirror: rows shift down by one (top row is padding), columns shift left by one.
  writeImage(ds, 0, out, 0, lut, { offY: 0, offX: 2, flip: true }, { padding: 1, flip: true, order: 'crop-flip' });
  // cropped = [[0,0,0],[2,3,0],[5,6,0]] → mirrored:
  assert.equal(Array.from(out, Math.round), [0, 0, 0, 0, 3, 2, 0, 6, 5]);
});

test('normalisation: hand-computed CIFAR-10 and Fashion-MNIST values; padding becomes −mean/std', () => {
  const m = NORMALIZATION.cifar10.gm;
  const lut = normalizationTable(m.mean, m.std);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
  close(lut[0 * 256 + 0], -1.9892120193336638);
  close(lut[0 * 256 + 128], 0.04275191151589542);
  close(lut[0 * 256 + 255], 2.0588411241556925);
  close(lut[1 * 256 + 200], 1.2409610178949224);
  close(lut[2 * 256 + 7], -1.6020642088642827);
  close(normalizationTable([0.2860], [0.3530])[100], 0.30072765650169425);
  // A padded pixel of an augmented CIFAR batch is the normalised raw 0, as torchvision's pad-then-normalise gives.
  const pixels = new Uint8Array(3 * 32 * 32).fill(128);
  const ds = makeDataset({ name: 'cifar10', channels: 3, height: 32, width: 32, numClasses: 10, size: 1, images: pixels, labels: Int32Array.of(4), mean: [...m.mean], std: [...m.std] });
  const out = new Float32Array(3 * 1024);
  writeImage(ds, 0, out, 0, lut, { offY: 0, offX: 8, flip: false }, { padding: 4, flip: true });
  close(out[0], -1.9892120193336638); // row 0 is padding
  close(out[4 * 32 + 5], 0.04275191151589542); // inside the image
  close(out[4 * 32 + 31], -1.9892120193336638); // x + 8 − 4 ≥ 32: padding on the right
});

test('sampler: same seed ⇒ same batches; epochs reshuffle; each epoch is a permutation', () => {
  const ds = tinyDataset(10, 1, 2, 2);
  const a = new BatchSampler(ds, { batchSize: 4, seed: 9 });
  const b = new BatchSampler(ds, { batchSize: 4, seed: 9 });
  assert.is(a.batchesPerEpoch, 3);
  const epochs: number[][] = [];
  for (let e = 0; e < 3; e++) {
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      const ba = a.next(), bb = b.next();
      assert.equal(Array.from(ba.x), Array.from(bb.x));
      assert.equal(Array.from(ba.indices), Array.from(bb.indices));
      assert.is(ba.n, k < 2 ? 4 : 2);
      assert.is(ba.x.length, ba.n * 4);
      // y holds the labels of the images in x.
      ba.indices.forEach((i, j) => { assert.is(ba.y[j], ds.labels[i]); assert.is(Math.round(ba.x[j * 4]), ds.images[i * 4]); });
      seen.push(...ba.indices);
    }
    assert.equal([...seen].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    epochs.push(seen);
  }
  assert.not.equal(epochs[0], epochs[1]);
  assert.not.equal(epochs[1], epochs[2]);
  assert.is(a.epoch, 3);
  const c = new BatchSampler(ds, { batchSize: 4, seed: 10 });
  assert.not.equal(Array.from(c.next().indices), epochs[0].slice(0, 4));
});

test('sampler: shuffle false visits in order; dropLast; indices restrict the pool', () => {
  const ds = tinyDataset(10, 1, 2, 2);
  const s = new BatchSampler(ds, { batchSize: 4, shuffle: false, dropLast: true });
  assert.is(s.batchesPerEpoch, 2);
  assert.equal(Array.from(s.next().indices), [0, 1, 2, 3]);
  assert.equal(Array.from(s.next().indices), [4, 5, 6, 7]);
  assert.equal(Array.from(s.next().indices), [0, 1, 2, 3]);
  const sub = new BatchSampler(ds, { batchSize: 3, seed: 1, indices: [7, 8, 9] });
  assert.equal(Array.from(sub.next().indices).sort(), [7, 8, 9]);
  assert.throws(() => new BatchSampler(ds, { batchSize: 4, indices: [10] }), (e: unknown) => e instanceof DataError && /indices\[0\] = 10/.test((e as Error).message));
  assert.throws(() => new BatchSampler(ds, { batchSize: 0 }), /batchSize must be/);
  assert.throws(() => new BatchSampler(ds, { batchSize: 11, dropLast: true }), /leaves no batch/);
  assert.throws(() => new BatchSampler(ds, { batchSize: 2, augment: true }), /no default augmentation for dataset 'tiny'/);
});

test('sampler: resume from a saved state reproduces the rest of the run, across an epoch boundary', () => {
  const ds = generateSynthetic({ split: 'train', size: 50 });
  const opts = { batchSize: 16, seed: 4, augment: true } as const;
  const full = new BatchSampler(ds, opts);
  const ref = Array.from({ length: 9 }, () => full.next());
  const first = new BatchSampler(ds, opts);
  for (let k = 0; k < 3; k++) first.next();
  const saved = JSON.parse(JSON.stringify(first.state()));
  assert.equal([saved.epoch, saved.batch], [0, 3]);
  const resumed = new BatchSampler(ds, opts);
  resumed.restore(saved);
  for (let k = 3; k < 9; k++) {
    const b = resumed.next();
    assert.equal(Array.from(b.indices), Array.from(ref[k].indices));
    assert.ok(b.x.every((v, j) => v === ref[k].x[j]), `batch ${k} pixels differ`);
  }
  const other = new BatchSampler(ds, { ...opts, batchSize: 8 });
  assert.throws(() => other.restore(saved), /saved with batchSize = 16, this sampler has 8/);
  assert.throws(() => resumed.restore({ ...saved, batch: 4 }), /batch must be an integer in \[0, 4\)/);
});

test('sampler: augmentation is random per image, uniform over offsets and flips, and absent by default', () => {
  // One image 1×3×3, padding 1: 9 offsets × 2 flips = 18 outcomes, all should appear about equally.
  const ds = tinyDataset(1, 1, 3, 3);
  const spec: AugmentSpec = { padding: 1, flip: true };
  const lut = normalizationTable(ds.mean, ds.std);
  const outcomes = new Map<string, string>();
  for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 3; ox++) for (const flip of [false, true]) {
    const out = new Float32Array(9);
    writeImage(ds, 0, out, 0, lut, { offY: oy, offX: ox, flip }, spec);
    outcomes.set(Array.from(out, Math.round).join(','), `${oy}${ox}${flip}`);
  }
  assert.is(outcomes.size, 18);
  const s = new BatchSampler(ds, { batchSize: 1, seed: 2, augment: spec });
  const counts = new Map<string, number>();
  for (let k = 0; k < 3600; k++) {
    const key = Array.from(s.next().x, Math.round).join(',');
    assert.ok(outcomes.has(key), `unexpected augmented image ${key}`);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.is(counts.size, 18);
  for (const c of counts.values()) assert.ok(c > 130 && c < 270, `counts ${[...counts.values()]}`);
  // Without augment the image comes back untouched.
  const plain = new BatchSampler(ds, { batchSize: 1, seed: 2 });
  assert.equal(Array.from(plain.next().x, Math.round), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('default augmentations per dataset', () => {
  assert.equal(defaultAugmentation('cifar10'), { padding: 4, flip: true, order: 'crop-flip' });
  assert.equal(defaultAugmentation('synthetic'), { padding: 4, flip: true, order: 'crop-flip' });
  assert.equal(defaultAugmentation('imagenet16-120'), { padding: 2, flip: true, order: 'flip-crop' });
  assert.equal(defaultAugmentation('fashion-mnist'), { padding: 4, flip: true, order: 'crop-flip' });
  assert.equal(defaultAugmentation('mnist'), { padding: 4, flip: false, order: 'crop-flip' });
  assert.is(defaultAugmentation('tiny'), null);
});

test("sampler 'independent' mode: distinct images per batch, fresh each step, ceil(pool/B) steps per epoch", () => {
  const ds = tinyDataset(100, 1, 1, 1);
  const s = new BatchSampler(ds, { batchSize: 48, seed: 0, sampling: 'independent', indices: Array.from({ length: 50 }, (_, i) => 50 + i) });
  assert.is(s.batchesPerEpoch, 2);
  const seen = new Set<number>();
  const batches: number[][] = [];
  for (let k = 0; k < 4; k++) {
    const b = s.next();
    assert.is(b.n, 48);
    assert.is(new Set(b.indices).size, 48);
    b.indices.forEach((i) => { assert.ok(i >= 50 && i < 100); seen.add(i); });
    batches.push([...b.indices].sort((p, q) => p - q));
  }
  assert.is(s.epoch, 2);
  assert.is(seen.size, 50);
  assert.not.equal(batches[0], batches[1]);
  assert.throws(() => new BatchSampler(ds, { batchSize: 4, sampling: 'independent', shuffle: false }), /independent/);
});

test('sampler: normalization override (NB201 constants) and evalBatches', () => {
  const pixels = new Uint8Array(2 * 3 * 4).fill(128);
  const g = NORMALIZATION.cifar10.gm, n = NORMALIZATION.cifar10.nb201;
  const ds = makeDataset({ name: 'cifar10', channels: 3, height: 2, width: 2, numClasses: 10, size: 2, images: pixels, labels: Int32Array.of(1, 2), mean: [...g.mean], std: [...g.std] });
  const b = new BatchSampler(ds, { batchSize: 2, shuffle: false, normalization: n }).next();
  assert.ok(Math.abs(b.x[0] - (128 / 255 - 125.3 / 255) / (63.0 / 255)) < 1e-6);
  const batches = [...evalBatches(tinyDataset(5, 1, 1, 1), 2)];
  assert.equal(batches.map((x) => Array.from(x.indices)), [[0, 1], [2, 3], [4]]);
});

test('splitTrainForSearch: first half weights, second half arch, not shuffled (spec §2.1)', () => {
  const cifar = splitTrainForSearch({ name: 'cifar10', size: 50000 });
  assert.is(cifar.weights.length, 25000);
  assert.is(cifar.arch.length, 25000);
  assert.equal([cifar.weights[0], cifar.weights[24999], cifar.arch[0], cifar.arch[24999]], [0, 24999, 25000, 49999]);
  assert.ok(cifar.weights.every((v, i) => v === i) && cifar.arch.every((v, i) => v === 25000 + i));
  const inet = splitTrainForSearch({ name: 'imagenet16-120', size: 151700 });
  assert.equal([inet.weights.length, inet.arch.length, inet.arch[0]], [75850, 75850, 75850]);
  const odd = splitTrainForSearch({ name: 'x', size: 7 });
  assert.equal([Array.from(odd.weights), Array.from(odd.arch)], [[0, 1, 2], [3, 4, 5, 6]]);
  // Seeded variant: a random partition of the same sizes, deterministic, covering everything once.
  const r1 = splitTrainForSearch({ name: 'x', size: 1000 }, 5), r2 = splitTrainForSearch({ name: 'x', size: 1000 }, 5);
  assert.equal(Array.from(r1.weights), Array.from(r2.weights));
  assert.is(r1.weights.length, 500);
  assert.equal([...r1.weights, ...r1.arch].sort((p, q) => p - q), Array.from({ length: 1000 }, (_, i) => i));
  assert.ok(r1.weights.some((v) => v >= 500), 'a seeded split should mix the halves');
  assert.throws(() => splitTrainForSearch({ name: 'x', size: 1 }), /at least 2/);
});

test.run();
