import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, hashSeed, fmix32 } from '../../src/data/rng.js';

test('xoshiro128** matches the reference C implementation from state {1,2,3,4}', () => {
  // Goldens printed by the authors' reference algorithm (xoshiro128starstar.c) compiled with gcc.
  const r = Rng.fromState([1, 2, 3, 4]);
  const first = Array.from({ length: 6 }, () => r.nextU32());
  assert.equal(first, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  for (let i = 0; i < 994; i++) r.nextU32();
  assert.is(r.nextU32(), 136054147);
});

test('fmix32 is murmur3 fmix32', () => {
  // fmix32(1) from the murmur3 reference: 0x514e28b7.
  assert.is(fmix32(1), 0x514e28b7);
  assert.is(fmix32(0), 0);
});

test('same seed, same stream; different seeds differ; state round trip', () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 10 }, () => a.nextU32());
  const xb = Array.from({ length: 10 }, () => b.nextU32());
  const xc = Array.from({ length: 10 }, () => c.nextU32());
  assert.equal(xa, xb);
  assert.not.equal(xa, xc);
  const saved = a.state();
  const next = [a.next(), a.next()];
  const resumed = Rng.fromState(JSON.parse(JSON.stringify(saved)));
  assert.equal([resumed.next(), resumed.next()], next);
});

test('hashSeed depends on every part and their order', () => {
  assert.is(hashSeed(1, 2), hashSeed(1, 2));
  assert.is.not(hashSeed(1, 2), hashSeed(2, 1));
  assert.is.not(hashSeed(1, 2), hashSeed(1, 2, 0));
  assert.is.not(hashSeed(2 ** 40), hashSeed(0));
  assert.is.not(hashSeed(-1), hashSeed(1));
  assert.throws(() => hashSeed(0.5), /safe integer/);
});

test('int(n) is uniform: chi-square over 7 buckets', () => {
  const r = new Rng(7), n = 7, draws = 70000, counts = new Array(n).fill(0);
  for (let i = 0; i < draws; i++) counts[r.int(n)]++;
  const e = draws / n;
  const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
  assert.ok(chi2 < 22.5, `chi2 ${chi2} (6 dof, p=0.001 at 22.46)`);
  assert.throws(() => r.int(0), /n must be/);
});

test('uniform floats: mean and range; normal: mean and variance', () => {
  const r = new Rng(3);
  let s = 0, lo = 1, hi = 0;
  for (let i = 0; i < 100000; i++) { const u = r.next(); s += u; lo = Math.min(lo, u); hi = Math.max(hi, u); }
  assert.ok(Math.abs(s / 100000 - 0.5) < 0.005);
  assert.ok(lo >= 0 && hi < 1);
  let m = 0, m2 = 0;
  for (let i = 0; i < 100000; i++) { const z = r.normal(); m += z; m2 += z * z; }
  assert.ok(Math.abs(m / 1e5) < 0.015, `mean ${m / 1e5}`);
  assert.ok(Math.abs(m2 / 1e5 - 1) < 0.02, `var ${m2 / 1e5}`);
});

test('permutation and sampleDistinct produce valid, uniform-looking results', () => {
  const r = new Rng(11);
  const p = r.permutation(100);
  assert.equal([...p].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
  // Each of 5 values should land in position 0 about 1/5 of the time.
  const first = new Array(5).fill(0);
  for (let t = 0; t < 5000; t++) first[r.permutation(5)[0]]++;
  for (const c of first) assert.ok(Math.abs(c - 1000) < 120, `position-0 counts ${first}`);
  const s = r.sampleDistinct(1000, 48);
  assert.is(new Set(s).size, 48);
  assert.ok([...s].every((v) => v >= 0 && v < 1000));
  assert.equal([...r.sampleDistinct(5, 5)].sort(), [0, 1, 2, 3, 4]);
  // Inclusion frequency is uniform: each of 10 items appears in a 3-sample with probability 0.3.
  const inc = new Array(10).fill(0);
  for (let t = 0; t < 10000; t++) for (const v of r.sampleDistinct(10, 3)) inc[v]++;
  for (const c of inc) assert.ok(Math.abs(c - 3000) < 200, `inclusion counts ${inc}`);
});

test.run();
