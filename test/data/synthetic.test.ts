import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSynthetic, SYNTHETIC_NORMALIZATION, SYNTHETIC_CLASS_NAMES } from '../../src/data/synthetic.js';
import { channelStats, classCounts, type Dataset } from '../../src/data/dataset.js';

// (how long generation takes is a benchmark row, `npm run bench -- --sections tools`, not a test)
const train = generateSynthetic({ split: 'train' });
const testSet = generateSynthetic({ split: 'test' });

test('default sizes, shape and names', () => {
  assert.is(train.size, 5000);
  assert.is(testSet.size, 1000);
  assert.is(train.name, 'synthetic');
  assert.equal([train.channels, train.height, train.width, train.numClasses], [3, 32, 32, 10]);
  assert.is(train.images.length, 5000 * 3 * 32 * 32);
  assert.equal(train.classNames, [...SYNTHETIC_CLASS_NAMES]);
});

test('same seed gives identical bytes; a different seed or split differs', () => {
  const a = generateSynthetic({ split: 'train', size: 200, seed: 5 });
  const b = generateSynthetic({ split: 'train', size: 200, seed: 5 });
  const c = generateSynthetic({ split: 'train', size: 200, seed: 6 });
  const d = generateSynthetic({ split: 'test', size: 200, seed: 5 });
  assert.ok(Buffer.from(a.images).equals(Buffer.from(b.images)));
  assert.equal([...a.labels], [...b.labels]);
  const differ = (x: Uint8Array, y: Uint8Array) => { let n = 0; for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++; return n / x.length; };
  assert.ok(differ(a.images, c.images) > 0.5, 'seed 6 should give other images');
  assert.ok(differ(a.images, d.images) > 0.5, 'test split should give other images than train');
  assert.not.equal([...a.labels], [...c.labels]);
});

test('image i does not depend on the set size (prefix property)', () => {
  const small = generateSynthetic({ split: 'train', size: 37 });
  assert.ok(Buffer.from(small.images).equals(Buffer.from(train.images.subarray(0, small.images.length))));
  assert.equal([...small.labels], [...train.labels.subarray(0, 37)]);
});

test('classes are exactly balanced, in every block of 10', () => {
  assert.equal([...classCounts(train)], new Array(10).fill(500));
  assert.equal([...classCounts(testSet)], new Array(10).fill(100));
  for (let b = 0; b < 50; b++) {
    assert.equal([...train.labels.subarray(b * 10, b * 10 + 10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
});

test('the carried mean/std match the pixels (any seed)', () => {
  for (const ds of [train, generateSynthetic({ split: 'train', seed: 123 })]) {
    const s = channelStats(ds);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(s.mean[c] - SYNTHETIC_NORMALIZATION.mean[c]) < 0.006, `mean[${c}] ${s.mean[c]}`);
      assert.ok(Math.abs(s.std[c] - SYNTHETIC_NORMALIZATION.std[c]) < 0.004, `std[${c}] ${s.std[c]}`);
    }
  }
  assert.equal(train.mean, [...SYNTHETIC_NORMALIZATION.mean]);
});

/** Nearest-class-mean classifier on z-scored features: fit on train, accuracy on test. */
function nearestClassMean(feature: (ds: Dataset, i: number) => number[], evalSet: Dataset = testSet): number {
  const tr = Array.from({ length: train.size }, (_, i) => feature(train, i));
  const d = tr[0].length;
  const mu = new Float64Array(d), sd = new Float64Array(d);
  for (const v of tr) for (let j = 0; j < d; j++) mu[j] += v[j] / tr.length;
  for (const v of tr) for (let j = 0; j < d; j++) sd[j] += (v[j] - mu[j]) ** 2 / tr.length;
  const z = (v: number[]) => v.map((x, j) => (x - mu[j]) / Math.sqrt(sd[j] + 1e-12));
  const centroid = Array.from({ length: 10 }, () => new Float64Array(d));
  const count = new Float64Array(10);
  tr.forEach((v, i) => { const k = train.labels[i]; count[k]++; z(v).forEach((x, j) => { centroid[k][j] += x; }); });
  centroid.forEach((c, k) => c.forEach((_, j) => { c[j] /= count[k]; }));
  let correct = 0;
  for (let i = 0; i < evalSet.size; i++) {
    const v = z(feature(evalSet, i));
    let best = -1, bestDist = Infinity;
    for (let k = 0; k < 10; k++) {
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (v[j] - centroid[k][j]) ** 2;
      if (dist < bestDist) { bestDist = dist; best = k; }
    }
    if (best === evalSet.labels[i]) correct++;
  }
  return correct / evalSet.size;
}

const HW = 32 * 32;

/** Global colour statistics of one image: mean and std of each channel. */
function colourStats(ds: Dataset, i: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < 3; c++) {
    let s = 0, s2 = 0;
    for (let p = 0; p < HW; p++) { const v = ds.images[i * 3 * HW + c * HW + p]; s += v; s2 += v * v; }
    out.push(s / HW, Math.sqrt(s2 / HW - (s / HW) ** 2));
  }
  return out;
}

/**
 * A hand-made texture feature: a gradient-orientation histogram (angle folded to [0°, 90°], so it is
 * blind to the ± sign and to flips) weighted by gradient energy, plus log(Laplacian energy / gradient
 * energy), which grows with spatial frequency.
 */
function orientedGradients(ds: Dataset, i: number): number[] {
  const S = 32, bins = 8, g = new Float64Array(HW), hist = new Float64Array(bins);
  for (let p = 0; p < HW; p++) g[p] = ds.images[i * 3 * HW + p] + ds.images[i * 3 * HW + HW + p] + ds.images[i * 3 * HW + 2 * HW + p];
  let energy = 0, lap = 0;
  for (let y = 1; y < S - 1; y++) {
    for (let x = 1; x < S - 1; x++) {
      const p = y * S + x;
      const gx = (g[p + 1] - g[p - 1]) / 2, gy = (g[p + S] - g[p - S]) / 2, m = gx * gx + gy * gy;
      energy += m;
      const angle = Math.atan2(Math.abs(gy), Math.abs(gx));
      hist[Math.min(bins - 1, Math.floor((angle / (Math.PI / 2)) * bins))] += m;
      lap += (g[p + 1] + g[p - 1] + g[p + S] + g[p - S] - 4 * g[p]) ** 2;
    }
  }
  return [...Array.from(hist, (h) => h / energy), Math.log(lap / energy)];
}

test('global colour statistics are nearly uninformative (< 25 %, chance is 10 %)', () => {
  const acc = nearestClassMean(colourStats);
  console.log(`  nearest-class-mean on per-image channel mean/std: ${(100 * acc).toFixed(1)} %`);
  assert.ok(acc < 0.25, `accuracy ${acc}`);
});

test('local oriented structure carries the label (> 55 % with a hand-made gradient feature)', () => {
  const acc = nearestClassMean(orientedGradients);
  console.log(`  nearest-class-mean on oriented-gradient histogram + frequency: ${(100 * acc).toFixed(1)} %`);
  assert.ok(acc > 0.55, `accuracy ${acc}`);
});

/** Like orientedGradients but the angle keeps its sign (histogram over [0°, 180°)): mirror-sensitive. */
function signedOrientedGradients(ds: Dataset, i: number): number[] {
  const S = 32, bins = 8, g = new Float64Array(HW), hist = new Float64Array(bins);
  for (let p = 0; p < HW; p++) g[p] = ds.images[i * 3 * HW + p] + ds.images[i * 3 * HW + HW + p] + ds.images[i * 3 * HW + 2 * HW + p];
  let energy = 0;
  for (let y = 1; y < S - 1; y++) {
    for (let x = 1; x < S - 1; x++) {
      const p = y * S + x;
      const gx = (g[p + 1] - g[p - 1]) / 2, gy = (g[p + S] - g[p - S]) / 2, m = gx * gx + gy * gy;
      energy += m;
      let angle = Math.atan2(gy, gx);
      if (angle < 0) angle += Math.PI;
      hist[Math.min(bins - 1, Math.floor((angle / Math.PI) * bins))] += m;
    }
  }
  return Array.from(hist, (h) => h / energy);
}

test('horizontal flips keep the class: a mirror-sensitive classifier does as well on mirrored test images', () => {
  // If a class had one signed orientation, mirroring would move its images to another class's
  // orientation and this accuracy would collapse; the generator draws ±α per patch, so it must not.
  const mirrored = new Uint8Array(testSet.images.length);
  for (let i = 0; i < testSet.size; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    mirrored[(i * 3 + c) * HW + y * 32 + x] = testSet.images[(i * 3 + c) * HW + y * 32 + 31 - x];
  }
  const mirroredSet = { ...testSet, images: mirrored } as Dataset;
  const plain = nearestClassMean(signedOrientedGradients);
  const flipped = nearestClassMean(signedOrientedGradients, mirroredSet);
  console.log(`  signed-orientation classifier: ${(100 * plain).toFixed(1)} % on test, ${(100 * flipped).toFixed(1)} % on mirrored test`);
  assert.ok(plain > 0.3, `accuracy ${plain}`);
  assert.ok(Math.abs(plain - flipped) < 0.04, `plain ${plain} vs mirrored ${flipped}`);
});

test('bad options are rejected', () => {
  assert.throws(() => generateSynthetic({ split: 'valid' as 'train' }), /split must be/);
  assert.throws(() => generateSynthetic({ split: 'train', size: -1 }), /size must be/);
  assert.throws(() => generateSynthetic({ split: 'train', seed: 0.5 }), /seed must be/);
});

test.run();
