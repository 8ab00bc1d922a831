// GM's second split on the MobileNet space is 3-way (B = 3) over a block's ops: 6 MBConvs on the 6 blocks
// without an identity shortcut (sizes 2+2+2), 6 MBConvs + zero on the other 15 (2+2+3). The reference
// code's 3-way cut never resets its running best inside the loops and so always returns
// {0,1},{2,3},{4,5,(6)} = {3×3},{5×5},{7×7(+zero)} (gmnas-spec.md §5.2). These tests check that the Wasm
// cut (src/nas/cut.ts, assembly/mincut.ts) is the exact balanced minimum for B = 3 at both sizes against
// a brute force written here independently (every permutation of the ops cut into consecutive groups),
// and show a matrix where the reference's grouping is not the minimum.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { balancedMinCut, chooseSplitEdgeRagged, chooseSplitEdge, initGmnasWasm } from '../../src/nas/cut.js';
import { MOBILE_OPS } from '../../src/spaces/mobilenet/ops.js';

test.before(async () => { await initGmnasWasm(); });

/** xorshift32 in [0, 1), reproducible. */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

function randomDistance(n: number, next: () => number): number[][] {
  const d = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i][j] = d[j][i] = 2 * next(); // 1 − cos ∈ [0, 2]
  return d;
}

function intra(d: number[][], groups: number[][]): number {
  let s = 0;
  for (const g of groups) for (let a = 0; a < g.length; a++) for (let b = a + 1; b < g.length; b++) s += d[g[a]][g[b]];
  return s;
}

/** A partition as a canonical string: groups sorted inside, then by size and smallest op. */
function key(groups: number[][]): string {
  return groups.map((g) => [...g].sort((a, b) => a - b))
    .sort((a, b) => a.length - b.length || a[0] - b[0]).map((g) => `{${g.join(',')}}`).join('');
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

/** Minimum intra distance over every way of cutting a permutation of 0..n−1 into consecutive groups of
 *  `sizes`, and every partition reaching it (within 1e-12). */
function bruteForce(d: number[][], sizes: number[]): { intra: number; optima: Set<string> } {
  let best = Infinity;
  const optima = new Set<string>();
  for (const p of permutations(d.length)) {
    const groups: number[][] = [];
    let at = 0;
    for (const s of sizes) { groups.push(p.slice(at, at + s)); at += s; }
    const v = intra(d, groups);
    if (v < best - 1e-12) { best = v; optima.clear(); }
    if (Math.abs(v - best) <= 1e-12) optima.add(key(groups));
  }
  return { intra: best, optima };
}

/** The reference's fixed 3-way grouping (spec §5.2). */
const referenceGroups = (n: number): number[][] => [[0, 1], [2, 3], n === 7 ? [4, 5, 6] : [4, 5]];

test('op order makes the reference grouping {3×3},{5×5},{7×7(+zero)}', () => {
  assert.equal(referenceGroups(7).map((g) => g.map((i) => MOBILE_OPS[i])),
    [['3x3_MBConv3', '3x3_MBConv6'], ['5x5_MBConv3', '5x5_MBConv6'], ['7x7_MBConv3', '7x7_MBConv6', 'zero']]);
});

test('the Wasm 3-way cut is the exact balanced minimum (brute force) on random 6- and 7-op matrices', () => {
  const next = uniform(22);
  let differs = 0, trials = 0;
  for (const n of [6, 7]) {
    const sizes = n === 6 ? [2, 2, 2] : [2, 2, 3];
    for (let t = 0; t < 40; t++) {
      const d = randomDistance(n, next);
      const cut = balancedMinCut(d, 3);
      assert.equal(cut.sizes, sizes);
      const bf = bruteForce(d, sizes);
      assert.ok(Math.abs(cut.intraScore - bf.intra) < 1e-12, `n=${n} trial ${t}: intra ${cut.intraScore} vs brute force ${bf.intra}`);
      assert.ok(Math.abs(intra(d, cut.groups) - bf.intra) < 1e-12, `n=${n} trial ${t}: groups do not reach the minimum`);
      assert.ok(bf.optima.has(key(cut.groups)), `n=${n} trial ${t}: ${key(cut.groups)} not among ${[...bf.optima]}`);
      if (intra(d, referenceGroups(n)) > bf.intra + 1e-12) differs++;
      trials++;
    }
  }
  // the fixed grouping is one of 15 (n = 6) or 105 (n = 7) partitions: on random matrices it is almost never the best
  assert.ok(differs > trials * 0.8, `reference grouping optimal in ${trials - differs} of ${trials} trials`);
});

test('a matrix where the reference grouping is not the minimum: 3×3_MBConv3 resembles 7×7_MBConv3, not 3×3_MBConv6', () => {
  // distances 1 − cos: small within {0,4}, {1,5}, {2,3,6}; large elsewhere
  const close = [[0, 4], [1, 5], [2, 3], [2, 6], [3, 6]];
  const d: number[][] = Array.from({ length: 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i === j ? 0 : 1.5)));
  for (const [a, b] of close) d[a][b] = d[b][a] = 0.1;
  const cut = balancedMinCut(d, 3);
  assert.equal(cut.groups, [[0, 4], [1, 5], [2, 3, 6]]);
  assert.ok(Math.abs(cut.intraScore - 0.5) < 1e-12);
  assert.is(bruteForce(d, [2, 2, 3]).intra, cut.intraScore);
  const reference = referenceGroups(7);
  // {0,1}: 1.5, {2,3}: 0.1, {4,5,6}: 3 × 1.5
  assert.ok(Math.abs(intra(d, reference) - 6.1) < 1e-12);
  assert.ok(intra(d, reference) > cut.intraScore);
});


// The search's choice among blocks of 6 and 7 ops (chooseSplitEdgeRagged): each block cut with the
// balanced sizes of its own op count, blocks compared by the mean intra distance per pair in a group
// (min-intra, spec §5.2), checked against the brute force above.
test('ragged blocks: each cut at its own sizes, the block of least intra distance per pair wins', () => {
  const sizesFor = (n: number, b: number) => { const small = Math.floor(n / b), large = n % b; return [...Array(b - large).fill(small), ...Array(large).fill(small + 1)]; };
  const pairs = (sizes: number[]) => sizes.reduce((a, s) => a + (s * (s - 1)) / 2, 0);
  const next = uniform(2024);
  for (let t = 0; t < 12; t++) {
    const branches = t % 2 ? 3 : 2;
    const blocks = [0, 1, 4, 5, 12].map((edge) => ({ edge, matrix: randomDistance(edge % 4 === 0 ? 6 : 7, next) }));
    const got = chooseSplitEdgeRagged(blocks, (n) => [sizesFor(n, branches)], { criterion: 'min-intra' });
    const brute = blocks.map(({ edge, matrix }) => {
      const sizes = sizesFor(matrix.length, branches);
      const b = bruteForce(matrix, sizes);
      return { edge, perPair: b.intra / pairs(sizes), intra: b.intra };
    });
    const want = brute.reduce((a, b) => (b.perPair < a.perPair ? b : a));
    assert.is(got.edge, want.edge, `trial ${t}`);
    assert.ok(Math.abs(got.intraScore - want.intra) < 1e-9);
    assert.equal(got.perEdge.map((p) => p.edge), [0, 1, 4, 5, 12]);
    got.perEdge.forEach((p, i) => assert.ok(Math.abs(p.intraScore - brute[i].intra) < 1e-9, `edge ${p.edge}`));
  }
  // one op count: exactly chooseSplitEdge
  const same = [2, 3, 5].map((edge) => ({ edge, matrix: randomDistance(7, next) }));
  assert.equal(chooseSplitEdgeRagged(same, () => [[2, 2, 3]], { criterion: 'min-intra' }), chooseSplitEdge(same, [2, 2, 3], { criterion: 'min-intra' }));
});

test.run();
