// GM splitting on planted gradients: five "ops" whose shared-weight gradients come from two clusters
// (a known 2+3 structure) plus noise. The distance matrix → balanced min-cut must recover the clusters,
// and among several edges the one with the clearest structure (least noise) must be chosen. Also the
// three distance metrics against hand-computed values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradientDistance, distanceMatrix } from '../../src/nas/gm-score.js';
import { chooseSplitEdge, balancedMinCut, initGmnasWasm } from '../../src/nas/cut.js';
import { Rng } from '../../src/data/rng.js';

type Grad = { data: Float32Array; shape: readonly number[] }[];

/** Gradients of 5 ops over two tensors ([8,3,3,3] conv-like and [8] BN-like): ops in the same planted
 *  group share a centroid, the two centroids `angle` degrees apart (so the cross distance is about
 *  1 − cos angle); `noise` is the per-element noise std relative to the centroids'. */
function planted(groups: number[][], noise: number, rng: Rng, angle = 90): Grad[] {
  const shapes = [[8, 3, 3, 3], [8]];
  const randn = (): Float32Array[] => shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
  const a = randn(), ortho = randn();
  // make `ortho` orthogonal to `a` over the flattened vector, then mix: b = cos·a + sin·ortho
  const dot = (x: Float32Array[], y: Float32Array[]): number => x.reduce((s, t, k) => s + t.reduce((u, v, i) => u + v * y[k][i], 0), 0);
  const proj = dot(ortho, a) / dot(a, a);
  ortho.forEach((t, k) => t.forEach((v, i) => { t[i] = v - proj * a[k][i]; }));
  const scale = Math.sqrt(dot(a, a) / dot(ortho, ortho));
  const rad = (angle * Math.PI) / 180;
  const b = a.map((t, k) => t.map((v, i) => Math.cos(rad) * v + Math.sin(rad) * scale * ortho[k][i]));
  const centroids = groups.length === 1 ? [a] : [a, b];
  const out: Grad[] = [];
  for (let op = 0; op < 5; op++) {
    const g = groups.findIndex((gr) => gr.includes(op));
    out.push(shapes.map((shape, t) => ({ shape, data: centroids[g][t].map((v) => v + noise * rng.normal()) })));
  }
  return out;
}

test('metrics: cos, per-filter cos and l2 equal hand-computed values', () => {
  const a: Grad = [{ shape: [2, 2], data: Float32Array.of(1, 0, 0, 1) }, { shape: [2], data: Float32Array.of(1, 1) }];
  const b: Grad = [{ shape: [2, 2], data: Float32Array.of(0, 1, 0, 1) }, { shape: [2], data: Float32Array.of(1, -1) }];
  // flattened a = (1,0,0,1,1,1), b = (0,1,0,1,1,-1): dot 1, |a| = 2, |b| = 2 → 1 − 1/(4 + 1e-6)
  assert.ok(Math.abs(gradientDistance(a, b, 'cos') - (1 - 1 / (4 + 1e-6))) < 1e-12);
  // per filter of the 2-D tensor only: rows (1,0)·(0,1) → 1 − 0; (0,1)·(0,1) → 1 − 1/(1+1e-6)
  assert.ok(Math.abs(gradientDistance(a, b, 'per-filter-cos') - (1 + 1 - 1 / (1 + 1e-6))) < 1e-12);
  // squared differences: 1+1+0+0 + 0+4
  assert.is(gradientDistance(a, b, 'l2'), 6);
  const d = distanceMatrix([a, b, a], 'cos');
  assert.is(d[0][0], 0);
  assert.ok(Math.abs(d[0][2]) < 1e-6);
  assert.is(d[0][1], d[1][0]);
});

test('the min-cut of planted gradients recovers the planted groups, for every metric', async () => {
  await initGmnasWasm();
  const rng = new Rng(11);
  for (const groups of [[[0, 1], [2, 3, 4]], [[1, 3], [0, 2, 4]], [[2, 4], [0, 1, 3]]]) {
    for (const metric of ['cos', 'per-filter-cos', 'l2'] as const) {
      const cut = balancedMinCut(distanceMatrix(planted(groups, 0.3, rng), metric), [2, 3]);
      assert.equal(cut.groups, groups, `${metric}: ${JSON.stringify(cut.groups)} vs planted ${JSON.stringify(groups)}`);
    }
  }
});

test('the edge with the clearest planted structure is chosen, and its cut is the planted one', async () => {
  await initGmnasWasm();
  const rng = new Rng(5);
  // edge 4's groups pull in opposite directions (150°); the others' less so, and edge 2 has no groups
  const plan: Record<number, { groups: number[][]; angle: number }> = {
    0: { groups: [[0, 4], [1, 2, 3]], angle: 60 },
    1: { groups: [[1, 2], [0, 3, 4]], angle: 90 },
    2: { groups: [[0, 1, 2, 3, 4]], angle: 0 },
    4: { groups: [[0, 3], [1, 2, 4]], angle: 150 },
    5: { groups: [[2, 3], [0, 1, 4]], angle: 110 },
  };
  const matrices = Object.entries(plan).map(([e, p]) => ({ edge: Number(e), matrix: distanceMatrix(planted(p.groups, 0.3, rng, p.angle), 'cos') }));
  const choice = chooseSplitEdge(matrices, [2, 3], { criterion: 'max-cut' });
  assert.is(choice.edge, 4);
  assert.equal(choice.groups, [[0, 3], [1, 2, 4]]);
  // the chosen cut separates the planted groups: every cross distance exceeds every within distance
  const m = matrices.find((x) => x.edge === 4)!.matrix;
  const within = [m[0][3], m[1][2], m[1][4], m[2][4]];
  const cross = [0, 3].flatMap((i) => [1, 2, 4].map((j) => m[i][j]));
  assert.ok(Math.min(...cross) > Math.max(...within));
});

test.run();
