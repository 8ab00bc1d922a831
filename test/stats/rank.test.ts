import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { averageRanks, pearson, spearman, kendallTau, topFractionIndices, correlateTopFractions } from '../../src/stats/rank.js';

const close = (got: number, want: number, tol = 1e-12, msg = '') =>
  assert.ok(Math.abs(got - want) <= tol, `${msg} got ${got}, want ${want}`);

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** τ-b straight from its definition, over all pairs: the oracle for Knight's algorithm. */
function kendallBruteForce(x: number[], y: number[]): number {
  let concordant = 0, discordant = 0, tiesX = 0, tiesY = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[i]! - x[j]!), dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0) tiesX++;
      if (dy === 0) tiesY++;
      if (dx !== 0 && dy !== 0) { if (dx === dy) concordant++; else discordant++; }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  return (concordant - discordant) / Math.sqrt((n0 - tiesX) * (n0 - tiesY));
}

test('average ranks share tied positions (matches scipy.stats.rankdata)', () => {
  // scipy.stats.rankdata([3.1, 1.0, 4.1, 1.0, 5.9, 2.6, 5.9, 3.5, 5.9, 2.0]) = [5, 1.5, 7, 1.5, 9, 4, 9, 6, 9, 3]
  assert.equal(Array.from(averageRanks([3.1, 1.0, 4.1, 1.0, 5.9, 2.6, 5.9, 3.5, 5.9, 2.0])), [5, 1.5, 7, 1.5, 9, 4, 9, 6, 9, 3]);
});

test('hand-computed case with ties in both variables', () => {
  // x = [1,2,2,3], y = [1,3,2,3]. Ranks x = [1,2.5,2.5,4], y = [1,3.5,2,3.5]; centred products sum to 3.75,
  // both sums of squares are 4.5, so ρ = 3.75/4.5 = 5/6. Pairs: 4 concordant, 0 discordant, one tied in x
  // (1,2), one tied in y (1,3): τ-b = 4/√((6−1)(6−1)) = 0.8.
  close(spearman([1, 2, 2, 3], [1, 3, 2, 3]), 5 / 6);
  close(kendallTau([1, 2, 2, 3], [1, 3, 2, 3]), 0.8);
  // x = [1,1,1,2,2,3], y = [3,3,2,2,1,1]: 9 discordant pairs, none concordant, 4 ties in x, 3 in y:
  // τ-b = −9/√(11·12).
  close(kendallTau([1, 1, 1, 2, 2, 3], [3, 3, 2, 2, 1, 1]), -9 / Math.sqrt(132));
});

test('values from scipy 1.17.1 (spearmanr / kendalltau, tau-b), ties included', () => {
  const x = [3.1, 1.0, 4.1, 1.0, 5.9, 2.6, 5.9, 3.5, 5.9, 2.0];
  const y = [2.0, 7.1, 8.2, 8.2, 1.8, 2.8, 4.5, 9.0, 4.5, 2.3];
  close(spearman(x, y), -0.2074392881838168);
  close(kendallTau(x, y), -0.19053020329181639);
  close(spearman([1, 1, 1, 2, 2, 3], [3, 3, 2, 2, 1, 1]), -0.8391463916782738);
  close(kendallTau([1, 1, 1, 2, 2, 3], [3, 3, 2, 2, 1, 1]), -0.7833494518006404);
});

test('Knight τ-b equals the pairwise definition on random data with heavy ties', () => {
  const rng = seeded(11);
  for (const [n, levels] of [[2, 3], [7, 2], [50, 4], [301, 10], [400, 1000]] as const) {
    const x = Array.from({ length: n }, () => Math.floor(rng() * levels));
    const y = Array.from({ length: n }, (_, i) => (rng() < 0.5 ? x[i]! : Math.floor(rng() * levels)));
    const brute = kendallBruteForce(x, y);
    if (Number.isNaN(brute)) assert.ok(Number.isNaN(kendallTau(x, y)));
    else close(kendallTau(x, y), brute, 1e-12, `n=${n}`);
  }
});

test('perfect agreement, reversal, constants; 20k items (their time: npm run bench -- --sections algorithms)', () => {
  const x = [0.1, 0.5, 0.2, 0.9, 0.7];
  const exp = x.map(Math.exp);
  close(spearman(x, exp), 1);
  close(kendallTau(x, exp), 1);
  close(spearman(x, exp.map((v) => -v)), -1);
  close(kendallTau(x, exp.map((v) => -v)), -1);
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(kendallTau([1, 2, 3], [4, 4, 4])));
  const rng = seeded(3);
  const big = Array.from({ length: 20000 }, () => Math.round(rng() * 5000) / 100);
  const noisy = big.map((v) => v + rng() * 5);
  const tau = kendallTau(big, noisy), rho = spearman(big, noisy);
  assert.ok(tau > 0.8 && tau < 1 && rho > tau, `tau ${tau} rho ${rho}`);
});

test('bad inputs name the argument', () => {
  assert.throws(() => spearman([1, 2], [1, 2, 3]), /spearman: x has 2 values but y has 3/);
  assert.throws(() => kendallTau([1], [1]), /kendallTau: needs at least 2 pairs, got 1/);
  assert.throws(() => spearman([1, NaN], [1, 2]), /spearman: x\[1\] is NaN/);
  assert.throws(() => kendallTau([1, 2], [Infinity, 2]), /kendallTau: y\[0\] is Infinity/);
  assert.throws(() => topFractionIndices([1, 2], 0), /fraction 0 is not in \(0, 1\]/);
  assert.throws(() => topFractionIndices([1, 2], 1.5), /fraction 1.5/);
  assert.throws(() => correlateTopFractions([1], [1, 2], [1]), /1 predictions but 2 truth values/);
});

test('top fractions: k = ⌈fraction·n⌉ best by truth, ties with the k-th included', () => {
  const truth = [5, 9, 7, 9, 1, 3];
  assert.equal(topFractionIndices(truth, 0.5), [1, 2, 3]);
  assert.equal(topFractionIndices(truth, 1 / 3), [1, 3]);
  assert.equal(topFractionIndices(truth, 0.2), [1, 3]); // ⌈1.2⌉ = 2
  assert.equal(topFractionIndices(truth, 0.1), [1, 3]); // k = 1, but index 3 ties with it
  assert.equal(topFractionIndices(truth, 0.5, false), [0, 4, 5]);
  assert.equal(topFractionIndices(truth, 1), [0, 1, 2, 3, 4, 5]);
  // 0.05 · 100 is 5.000000000000001 in floating point; it must still mean 5.
  assert.is(topFractionIndices(Array.from({ length: 100 }, (_, i) => i), 0.05).length, 5);
  assert.is(topFractionIndices(Array.from({ length: 15625 }, (_, i) => i), 0.01).length, 157);
  assert.equal(topFractionIndices([], 0.5), []);
});

test('correlateTopFractions (values from scipy 1.17.1)', () => {
  const pred = [0.3, 0.1, 0.9, 0.4, 0.8, 0.2, 0.7, 0.6];
  const truth = [50, 10, 90, 40, 80, 20, 60, 70];
  const [top, all, one] = correlateTopFractions(pred, truth, [0.5, 1, 0.1]);
  // Top half by truth = indices 2, 4, 6, 7: pred [0.9, 0.8, 0.7, 0.6] vs truth [90, 80, 60, 70].
  assert.is(top!.count, 4);
  close(top!.spearman, 0.8);
  close(top!.kendall, 2 / 3);
  assert.is(all!.count, 8);
  close(all!.spearman, 0.9523809523809524);
  close(all!.kendall, 0.8571428571428571);
  assert.is(one!.count, 1);
  assert.ok(Number.isNaN(one!.spearman) && Number.isNaN(one!.kendall));
});

test.run();
