import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  balancedGroupSizes, balancedMinCut, chooseSplitEdge, gmnasWasm, initGmnasWasm, partitionCount,
  MAX_CUT_OPS,
} from '../../src/nas/cut.js';

// ---------------------------------------------------------------------------------------------------
// Independent references

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function symmetric(n: number, entry: (i: number, j: number) => number): number[][] {
  const m = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) m[i][j] = m[j][i] = entry(i, j);
  }
  return m;
}

function cutDistance(m: number[][], labels: number[]): number {
  let cut = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) if (labels[i] !== labels[j]) cut += m[i][j];
  }
  return cut;
}

/**
 * Brute force over all B^n label vectors in lexicographic order: keep those with the right group
 * sizes whose equal-size groups are ordered by smallest op (one labelling per partition), maximise the
 * cut distance directly; the first maximum (strict >) wins, i.e. the lexicographically smallest.
 */
function bruteForceCut(m: number[][], sizes: number[]): { labels: number[]; cut: number } {
  const n = m.length;
  const B = sizes.length;
  const labels = new Array<number>(n).fill(0);
  let best: { labels: number[]; cut: number } | null = null;
  const total = B ** n;
  for (let code = 0; code < total; code++) {
    let rest = code;
    for (let i = n - 1; i >= 0; i--) { labels[i] = rest % B; rest = Math.floor(rest / B); }
    const counts = new Array<number>(B).fill(0);
    const firstOp = new Array<number>(B).fill(Infinity);
    labels.forEach((g, i) => { counts[g]++; firstOp[g] = Math.min(firstOp[g], i); });
    if (counts.some((c, g) => c !== sizes[g])) continue;
    let canonical = true;
    for (let p = 0; p < B; p++) {
      for (let q = p + 1; q < B; q++) if (sizes[p] === sizes[q] && firstOp[p] > firstOp[q]) canonical = false;
    }
    if (!canonical) continue;
    const cut = cutDistance(m, labels);
    if (best === null || cut > best.cut) best = { labels: [...labels], cut };
  }
  if (!best) throw new Error('no partition');
  return best;
}

/** GM's mincut_split_201 as the spec describes it: 5 ops, G1 = pair (a<b) in lexicographic order, min intra with strict <. */
function gmSplit201(D: number[][]): { g1: number[]; g2: number[]; edgeScore: number } {
  let best: { g1: number[]; g2: number[]; intra: number } | null = null;
  let upperSum = 0;
  for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) upperSum += D[i][j];
  for (let a = 0; a < 5; a++) {
    for (let b = a + 1; b < 5; b++) {
      const [c, d, f] = [0, 1, 2, 3, 4].filter((x) => x !== a && x !== b);
      const intra = D[a][b] + D[c][d] + D[c][f] + D[d][f];
      if (best === null || intra < best.intra) best = { g1: [a, b], g2: [c, d, f], intra };
    }
  }
  return { g1: best!.g1, g2: best!.g2, edgeScore: upperSum - best!.intra };
}

function groupsOf(labels: number[], B: number): number[][] {
  const groups: number[][] = Array.from({ length: B }, () => []);
  labels.forEach((g, i) => groups[g].push(i));
  return groups;
}

function assertValidPartition(groups: number[][], n: number, sizes: number[]) {
  assert.equal(groups.map((g) => g.length), sizes);
  const all = groups.flat().sort((a, b) => a - b);
  assert.equal(all, Array.from({ length: n }, (_, i) => i));
  for (const g of groups) assert.equal(g, [...g].sort((a, b) => a - b));
}

// ---------------------------------------------------------------------------------------------------

test('balanced group sizes: as equal as possible, smaller groups first', () => {
  assert.equal(balancedGroupSizes(5, 2), [2, 3]);
  assert.equal(balancedGroupSizes(6, 2), [3, 3]);
  assert.equal(balancedGroupSizes(7, 3), [2, 2, 3]);
  assert.equal(balancedGroupSizes(5, 5), [1, 1, 1, 1, 1]);
  assert.equal(balancedGroupSizes(12, 5), [2, 2, 2, 3, 3]);
});

test('partition counts match closed forms', () => {
  assert.is(partitionCount([2, 3]), 10);
  assert.is(partitionCount([3, 3]), 10);            // C(6,3)/2
  assert.is(partitionCount([6, 6]), 462);           // C(12,6)/2
  assert.is(partitionCount([4, 4, 4]), 5775);       // 12!/(4!^3·3!)
  assert.is(partitionCount([1, 1, 1, 1, 1]), 1);
  assert.is(partitionCount([2, 2, 2]), 15);
});

test('exact cut equals a TS brute force on random real-valued matrices (n 2..9, B 2..4, given sizes)', () => {
  const random = rng(1);
  let cases = 0;
  for (let n = 2; n <= 9; n++) {
    // A branching factor exercises the default sizes; explicit size lists include unbalanced and unordered ones.
    const choices: { sizes: number[]; arg: number | number[] }[] = [];
    for (let B = 2; B <= Math.min(4, n); B++) choices.push({ sizes: balancedGroupSizes(n, B), arg: B });
    const explicit: Record<number, number[][]> = {
      5: [[3, 2], [1, 4], [4, 1], [1, 1, 3], [2, 1, 2]], 7: [[2, 5], [3, 4], [1, 2, 2, 2]], 8: [[1, 3, 1, 3], [5, 3]],
    };
    for (const sizes of explicit[n] ?? []) choices.push({ sizes, arg: sizes });
    for (const { sizes, arg } of choices) {
      const trials = n <= 7 ? 25 : 4;
      for (let t = 0; t < trials; t++) {
        const m = symmetric(n, () => random() * 2);
        const expected = bruteForceCut(m, sizes);
        const got = balancedMinCut(m, arg);
        assert.equal(got.labels, expected.labels, `n=${n} sizes=${sizes} trial ${t}`);
        assert.equal(got.groups, groupsOf(expected.labels, sizes.length));
        assert.ok(Math.abs(got.cutScore - expected.cut) < 1e-12);
        let total = 0;
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) total += m[i][j];
        assert.ok(Math.abs(got.intraScore + got.cutScore - total) < 1e-12);
        cases++;
      }
    }
  }
  assert.ok(cases > 400);
});

test('exact cut equals the brute force on integer matrices with many exact ties', () => {
  const random = rng(2);
  for (let n = 2; n <= 8; n++) {
    for (let B = 2; B <= Math.min(4, n); B++) {
      const sizes = balancedGroupSizes(n, B);
      for (let t = 0; t < 12; t++) {
        const levels = 1 + (t % 3); // values in {0..levels}: few distinct values → ties
        const m = symmetric(n, () => Math.floor(random() * (levels + 1)));
        const expected = bruteForceCut(m, sizes);
        const got = balancedMinCut(m, B);
        assert.equal(got.labels, expected.labels, `n=${n} B=${B} trial ${t} ${JSON.stringify(m)}`);
        assert.is(got.cutScore, expected.cut);
      }
    }
  }
});

test('all-equal matrices: the lexicographically smallest canonical partition wins', () => {
  const ones = (n: number) => symmetric(n, () => 1);
  assert.equal(balancedMinCut(ones(5), 2).groups, [[0, 1], [2, 3, 4]]);
  assert.equal(balancedMinCut(ones(5), [3, 2]).groups, [[0, 1, 2], [3, 4]]);
  assert.equal(balancedMinCut(ones(6), 3).groups, [[0, 1], [2, 3], [4, 5]]);
  assert.equal(balancedMinCut(ones(7), 3).groups, [[0, 1], [2, 3], [4, 5, 6]]);
  assert.equal(balancedMinCut(ones(5), [2, 1, 2]).groups, [[0, 1], [2], [3, 4]]);
  // every partition has the same cut: sizes [2,3] cut 6 pairs of distance 1
  assert.is(balancedMinCut(ones(5), 2).cutScore, 6);
  assert.is(balancedMinCut(ones(5), 2).intraScore, 4);
  const zeros = symmetric(4, () => 0);
  assert.equal(balancedMinCut(zeros, 2).groups, [[0, 1], [2, 3]]);
});

test('GM NB201 split (5 ops, 2+3): same groups and edge score as GM\'s procedure, ties included', () => {
  const random = rng(3);
  for (let t = 0; t < 300; t++) {
    const m = t % 2 === 0
      ? symmetric(5, () => Math.floor(random() * 3) / 2)   // {0, 0.5, 1}: ties
      : symmetric(5, () => random() * 2);
    const gm = gmSplit201(m);
    const got = balancedMinCut(m, 2);
    assert.equal(got.groups, [gm.g1, gm.g2], JSON.stringify(m));
    assert.ok(Math.abs(got.cutScore - gm.edgeScore) < 1e-12);
  }
});

test('the cut recovers planted clusters', () => {
  const cluster = [0, 2, 1, 0, 2, 1, 1, 0, 2];
  const random = rng(4);
  const m = symmetric(9, (i, j) => (cluster[i] === cluster[j] ? 0.1 : 0.9) + 0.05 * random());
  const got = balancedMinCut(m, 3);
  assert.equal(got.groups, [[0, 3, 7], [1, 4, 8], [2, 5, 6]]);
});

test('negative distances (no pruning path) still give the exact optimum', () => {
  const random = rng(5);
  for (let t = 0; t < 40; t++) {
    const m = symmetric(7, () => random() * 2 - 1);
    const sizes = [3, 4];
    assert.equal(balancedMinCut(m, sizes).labels, bruteForceCut(m, sizes).labels);
  }
  // ties without pruning: integer entries in {-1, 0, 1}
  for (let t = 0; t < 60; t++) {
    const n = 4 + (t % 5);
    const sizes = balancedGroupSizes(n, 2 + (t % 3 === 0 && n >= 6 ? 1 : 0));
    const m = symmetric(n, () => Math.floor(random() * 3) - 1);
    assert.equal(balancedMinCut(m, sizes).labels, bruteForceCut(m, sizes).labels, JSON.stringify(m));
  }
  assert.equal(balancedMinCut(symmetric(6, () => -1), 3).groups, [[0, 1], [2, 3], [4, 5]]);
});

test('each partition is enumerated exactly once (no permuted duplicates of equal-size groups)', () => {
  // A negative entry disables pruning, so every partition reaches a leaf of the search.
  const m = symmetric(9, (i, j) => (i + j) % 5 - 1);
  for (const sizes of [[4, 5], [3, 3, 3], [2, 2, 2, 3], [2, 3, 2, 2], [1, 1, 1, 1, 1, 4], [3, 6]]) {
    balancedMinCut(m, sizes);
    assert.is(gmnasWasm().lastPartitionsVisited(), partitionCount(sizes), `sizes ${sizes}`);
  }
  // and the closed form itself, against the brute force's canonical filter on 3^6 label vectors
  let canonical = 0;
  for (let code = 0; code < 3 ** 6; code++) {
    const labels = Array.from({ length: 6 }, (_, i) => Math.floor(code / 3 ** (5 - i)) % 3);
    const counts = [0, 1, 2].map((g) => labels.filter((l) => l === g).length);
    const first = [0, 1, 2].map((g) => labels.indexOf(g));
    if (counts.every((c) => c === 2) && first[0] < first[1] && first[1] < first[2]) canonical++;
  }
  assert.is(canonical, partitionCount([2, 2, 2]));
});

test('only the upper triangle and no diagonal are read; asymmetry within tolerance is accepted', () => {
  const random = rng(6);
  const m = symmetric(6, () => random());
  for (let i = 0; i < 6; i++) m[i][i] = 100 * (i + 1);
  const reference = bruteForceCut(m, [3, 3]);
  const jittered = m.map((row, i) => row.map((v, j) => (i > j ? v * (1 + 1e-9) : v)));
  const got = balancedMinCut(jittered, 2);
  assert.equal(got.labels, reference.labels);
  assert.ok(Math.abs(got.cutScore - reference.cut) < 1e-12);
  // Float64Array rows are accepted too
  assert.equal(balancedMinCut(m.map((r) => Float64Array.from(r)), 2).labels, reference.labels);
});

test('n = 12 with B = 2 and B = 3: exact (checked by bitmask / label brute force) and better than random partitions', () => {
  const random = rng(7);
  for (const B of [2, 3]) {
    const m = symmetric(12, () => random());
    const sizes = balancedGroupSizes(12, B);
    const got = balancedMinCut(m, B);
    assertValidPartition(got.groups, 12, sizes);
    assert.ok(Math.abs(cutDistance(m, got.labels) - got.cutScore) < 1e-12);
    const exact = bruteForceCut(m, sizes);
    assert.equal(got.labels, exact.labels);
    for (let t = 0; t < 200; t++) {
      const perm = Array.from({ length: 12 }, (_, i) => i);
      for (let i = 11; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [perm[i], perm[j]] = [perm[j], perm[i]]; }
      const labels = new Array<number>(12);
      let at = 0;
      sizes.forEach((size, g) => { for (let k = 0; k < size; k++) labels[perm[at++]] = g; });
      assert.ok(cutDistance(m, labels) <= got.cutScore + 1e-12);
    }
  }
});

test('larger searches stay exact (n = 16, B = 4; the time: npm run bench -- --sections algorithms)', () => {
  const random = rng(8);
  const cluster = Array.from({ length: 16 }, (_, i) => (i * 7) % 4);
  const m = symmetric(16, (i, j) => (cluster[i] === cluster[j] ? 0 : 1) + 0.01 * random());
  const got = balancedMinCut(m, 4);
  const expected: number[][] = [[], [], [], []];
  cluster.forEach((c, i) => expected[c].push(i));
  expected.sort((a, b) => a[0] - b[0]);
  assert.equal(got.groups, expected);
  assert.ok(gmnasWasm().lastPartitionsVisited() >= 1);
});

test('chooseSplitEdge picks the edge whose cut separates the most dissimilar ops', () => {
  const random = rng(9);
  const noisy = () => symmetric(5, () => 0.4 + 0.1 * random());
  const planted = symmetric(5, (i, j) => ([1, 3].includes(i) === [1, 3].includes(j) ? 0.05 : 1.5));
  const matrices = new Map<number, number[][]>([[4, noisy()], [2, planted], [0, noisy()], [5, noisy()]]);
  const choice = chooseSplitEdge(matrices, 2);
  assert.is(choice.edge, 2);
  assert.equal(choice.groups, [[1, 3], [0, 2, 4]]);
  assert.ok(Math.abs(choice.cutScore - 9) < 1e-12);
  assert.equal(choice.perEdge.map((e) => e.edge), [0, 2, 4, 5]);
  for (const e of choice.perEdge) {
    const single = balancedMinCut(matrices.get(e.edge)!, 2);
    assert.equal(e.groups, single.groups);
    assert.is(e.cutScore, single.cutScore);
    if (e.edge !== 2) assert.ok(e.cutScore < choice.cutScore);
  }
  assert.is(choice.criterion, 'max-cut');
});

test('chooseSplitEdge: ties go to the lowest edge id whatever the input order', () => {
  const same = symmetric(5, (i, j) => (i + j) % 3);
  const lower = symmetric(5, () => 0.1);
  const choice = chooseSplitEdge([
    { edge: 5, matrix: same }, { edge: 1, matrix: lower }, { edge: 3, matrix: same }, { edge: 4, matrix: same },
  ], [2, 3]);
  assert.is(choice.edge, 3);
  const zeros = symmetric(5, () => 0);
  assert.is(chooseSplitEdge([{ edge: 3, matrix: zeros }, { edge: 2, matrix: zeros }], 2).edge, 2);
});

test('chooseSplitEdge: min-intra criterion (GM DARTS space) differs from max-cut where it should', () => {
  // edge 0: every distance 1 → cut 6, intra 4. edge 1: every distance 0.5 → cut 3, intra 2.
  const matrices = [{ edge: 0, matrix: symmetric(5, () => 1) }, { edge: 1, matrix: symmetric(5, () => 0.5) }];
  assert.is(chooseSplitEdge(matrices, 2).edge, 0);
  const byIntra = chooseSplitEdge(matrices, 2, { criterion: 'min-intra' });
  assert.is(byIntra.edge, 1);
  assert.is(byIntra.intraScore, 2);
  assert.is(byIntra.criterion, 'min-intra');
});

test('chooseSplitEdge on random edges agrees with per-edge brute force and B = 3', () => {
  const random = rng(10);
  for (let t = 0; t < 30; t++) {
    const edges = Array.from({ length: 6 }, (_, e) => ({ edge: e, matrix: symmetric(6, () => Math.floor(random() * 4)) }));
    const cuts = edges.map(({ matrix }) => bruteForceCut(matrix, [2, 2, 2]));
    let best = 0;
    cuts.forEach((c, e) => { if (c.cut > cuts[best].cut) best = e; });
    const choice = chooseSplitEdge(edges, 3);
    assert.is(choice.edge, best);
    assert.equal(choice.labels, cuts[best].labels);
  }
});

test('validation errors name what is wrong', () => {
  const good = symmetric(5, () => 1);
  assert.throws(() => balancedMinCut([[0, 1], [1, 0, 2]], 2), /square: row 1 has 3 entries, expected 2/);
  assert.throws(() => balancedMinCut([[0]], 2), /at least 2 rows/);
  const asym = symmetric(4, () => 1); asym[2][0] = 0.5;
  assert.throws(() => balancedMinCut(asym, 2), /not symmetric: \[0\]\[2\] = 1 but \[2\]\[0\] = 0.5/);
  const nan = symmetric(4, () => 1); nan[1][3] = NaN;
  assert.throws(() => balancedMinCut(nan, 2), /distance\[1\]\[3\] must be a finite number, got NaN/);
  const inf = symmetric(4, () => 1); inf[0][0] = Infinity;
  assert.throws(() => balancedMinCut(inf, 2), /distance\[0\]\[0\] must be a finite number/);
  assert.throws(() => balancedMinCut(symmetric(MAX_CUT_OPS + 1, () => 1), 2), /at most 32/);
  assert.throws(() => balancedMinCut(good, [2, 2]), /sum to 4, but there are 5 ops/);
  assert.throws(() => balancedMinCut(good, [5]), /between 2 and 5 group sizes/);
  assert.throws(() => balancedMinCut(good, [0, 5]), /positive integers/);
  assert.throws(() => balancedMinCut(good, 1), /integer in \[2, 5\].*got 1/);
  assert.throws(() => balancedMinCut(good, 6), /integer in \[2, 5\].*got 6/);
  assert.throws(() => balancedMinCut(good, 2.5), /got 2.5/);
  assert.throws(() => balancedMinCut(symmetric(32, () => 1), 8), /partitions, more than/);
  assert.throws(() => chooseSplitEdge([], 2), /no candidate edges/);
  assert.throws(() => chooseSplitEdge([{ edge: 1, matrix: good }, { edge: 1, matrix: good }], 2), /edge 1 is given twice/);
  assert.throws(() => chooseSplitEdge([{ edge: -1, matrix: good }], 2), /not a non-negative integer/);
  assert.throws(() => chooseSplitEdge([{ edge: 0, matrix: good }, { edge: 1, matrix: symmetric(4, () => 1) }], 2),
    /edge 1 has a 4×4 distance matrix but edge 0 has 5×5/);
  const badEdge = symmetric(5, () => 1); badEdge[4][1] = 3;
  assert.throws(() => chooseSplitEdge([{ edge: 0, matrix: good }, { edge: 7, matrix: badEdge }], 2),
    /distance of edge 7 is not symmetric/);
  assert.throws(() => chooseSplitEdge([{ edge: 0, matrix: good }], 2, { criterion: 'max' as never }), /criterion must be/);
});

test('async initialisation path works and reuses the instance', async () => {
  await initGmnasWasm();
  const a = gmnasWasm();
  await initGmnasWasm();
  assert.is(gmnasWasm(), a);
  assert.is(a.MAX_ITEMS.value, MAX_CUT_OPS);
});

test.run();
