// Rank correlation between predicted and true scores (issue [rank], the paper's Table 7 protocol):
// Spearman's ρ with average ranks for ties, Kendall's τ-b (tie-aware) by Knight's O(n log n) algorithm,
// and the "top fraction by truth" subsets the protocol correlates over. Conventions follow scipy.stats:
// a constant input has no defined correlation and gives NaN. Browser-safe.

function checkPair(x: ArrayLike<number>, y: ArrayLike<number>, fn: string): void {
  if (x.length !== y.length) throw new Error(`${fn}: x has ${x.length} values but y has ${y.length}`);
  if (x.length < 2) throw new Error(`${fn}: needs at least 2 pairs, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new Error(`${fn}: x[${i}] is ${x[i]}, expected a finite number`);
    if (!Number.isFinite(y[i]!)) throw new Error(`${fn}: y[${i}] is ${y[i]}, expected a finite number`);
  }
}

/** 1-based ranks, ascending; tied values share the mean of the ranks they span (scipy's 'average'). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson's correlation coefficient; NaN when either input is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'pearson');
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]!; my += y[i]!; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx, dy = y[i]! - my;
    sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** Spearman's ρ: Pearson's r of the average ranks. NaN when either input is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'spearman');
  return pearson(averageRanks(x), averageRanks(y));
}

/** Σ t(t-1)/2 over runs of equal values in an already sorted sequence read through `at`. */
function tiedPairs(n: number, at: (i: number) => number): number {
  let pairs = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && at(end) === at(start)) end++;
    const t = end - start;
    pairs += (t * (t - 1)) / 2;
    start = end;
  }
  return pairs;
}

/** Sorts `a` ascending in place (bottom-up merge sort) and returns the number of inversions (i<j, a[i]>a[j]). */
function sortCountingInversions(a: Float64Array): number {
  const n = a.length;
  let src: Float64Array = a, dst: Float64Array = new Float64Array(n);
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (src[j]! < src[i]!) { inversions += mid - i; dst[k++] = src[j++]!; }
        else dst[k++] = src[i++]!;
      }
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
    }
    [src, dst] = [dst, src];
  }
  if (src !== a) a.set(src);
  return inversions;
}

/**
 * Kendall's τ-b = (C − D) / √((n0 − n1)(n0 − n2)), ties in x (n1 pairs) and y (n2 pairs) excluded from
 * the denominator; pairs tied in both count in neither C nor D. Knight's algorithm: sort by (x, y), then
 * the discordant pairs are the inversions of y in that order. NaN when either input is constant.
 */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair(x, y, 'kendallTau');
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]!);
  const n0 = (n * (n - 1)) / 2;
  const n1 = tiedPairs(n, (i) => x[order[i]!]!);
  // Pairs tied in x and y: runs where both agree (the sort makes them adjacent).
  let n3 = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && x[order[end]!] === x[order[start]!] && y[order[end]!] === y[order[start]!]) end++;
    const t = end - start;
    n3 += (t * (t - 1)) / 2;
    start = end;
  }
  const ys = Float64Array.from(order, (i) => y[i]!);
  const discordant = sortCountingInversions(ys);
  const n2 = tiedPairs(n, (i) => ys[i]!);
  const denominator = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denominator === 0) return NaN;
  const tau = (n0 - n1 - n2 + n3 - 2 * discordant) / denominator;
  return Math.max(-1, Math.min(1, tau));
}

/**
 * Indices of the best `fraction` of items by `truth` (higher is better unless `higherIsBetter` is false):
 * the k = ⌈fraction·n⌉ best (at least 1), plus any that tie with the k-th so the subset does not depend
 * on row order. Ascending index order.
 */
export function topFractionIndices(truth: ArrayLike<number>, fraction: number, higherIsBetter = true): number[] {
  const n = truth.length;
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`topFractionIndices: fraction ${fraction} is not in (0, 1]`);
  if (n === 0) return [];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(truth[i]!)) throw new Error(`topFractionIndices: truth[${i}] is ${truth[i]}, expected a finite number`);
  }
  const exact = fraction * n;
  // 0.05 * 100 is 5.000000000000001 in floating point: treat near-integers as integers.
  const k = Math.min(n, Math.max(1, Math.abs(exact - Math.round(exact)) < 1e-9 ? Math.round(exact) : Math.ceil(exact)));
  const sign = higherIsBetter ? -1 : 1;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => sign * (truth[a]! - truth[b]!) || a - b);
  const cutoff = truth[order[k - 1]!]!;
  let end = k;
  while (end < n && truth[order[end]!] === cutoff) end++;
  return order.slice(0, end).sort((a, b) => a - b);
}

export interface TopCorrelation {
  /** The requested fraction (1 = all items). */
  readonly fraction: number;
  /** Items in the subset. */
  readonly count: number;
  /** NaN when the subset has fewer than 2 items or a constant side. */
  readonly spearman: number;
  readonly kendall: number;
}

/**
 * Spearman and Kendall between `predicted` and `truth` over the best `fraction` of items by truth, for
 * each fraction (the Table 7 protocol: correlation among the top architectures).
 */
export function correlateTopFractions(predicted: ArrayLike<number>, truth: ArrayLike<number>, fractions: readonly number[], higherIsBetter = true): TopCorrelation[] {
  if (predicted.length !== truth.length) throw new Error(`correlateTopFractions: ${predicted.length} predictions but ${truth.length} truth values`);
  return fractions.map((fraction) => {
    const idx = topFractionIndices(truth, fraction, higherIsBetter);
    if (idx.length < 2) return { fraction, count: idx.length, spearman: NaN, kendall: NaN };
    const p = idx.map((i) => predicted[i]!), t = idx.map((i) => truth[i]!);
    return { fraction, count: idx.length, spearman: spearman(p, t), kendall: kendallTau(p, t) };
  });
}
