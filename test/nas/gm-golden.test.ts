// The gradient-matching score (gmEdgeDistance) against PyTorch: a tiny supernet with the recipe
// weights, fixed α and fixed batches gives every edge's distance matrix under each metric
// (test/goldens/gm-edge-distance.json, scripts/goldens/make_gm_goldens.py); the WebGPU backend gives
// the CPU's matrices; and the split chosen from those matrices is the one a brute force over every
// balanced partition and every edge picks, computed here independently of chooseSplitEdge.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/engine/backend.js';
import { Tensor, Rng as EngineRng, noGrad } from '../../src/engine/index.js';
import { Nb201Supernet, mixedSample } from '../../src/spaces/nb201/supernet.js';
import { fullMask } from '../../src/spaces/nb201/ops.js';
import { nb201Space } from '../../src/spaces/nb201/space.js';
import { maskBias, maskedSoftmax } from '../../src/search/relax.js';
import type { BaseMethod } from '../../src/search/method.js';
import { gmEdgeDistance, type GmMetric } from '../../src/nas/gm-score.js';
import { balancedMinCut, chooseSplitEdge, initGmnasWasm } from '../../src/nas/cut.js';
import { testBackends } from '../helpers/backends.js';
import { readGolden, fillRecipe, scaledValues, unitValues } from '../search/nb201-recipe.js';

interface Golden { C: number; N: number; inputChannels: number; numClasses: number; H: number; W: number; batch: number; repeats: number; alphaScale: number; distance: Record<GmMetric, number[][][]> }
const g = readGolden<Golden>('gm-edge-distance.json');
const METRICS: GmMetric[] = ['cos', 'l2', 'per-filter-cos'];

/** The pieces of a DARTS method gmEdgeDistance uses, on the golden supernet and α. */
function goldenMethod(be: Backend): { method: BaseMethod; dispose: () => void } {
  const mask = fullMask();
  const supernet = new Nb201Supernet(be, new EngineRng(1), { C: g.C, N: g.N, inputChannels: g.inputChannels, numClasses: g.numClasses, trackCellStats: true, mask });
  fillRecipe(supernet);
  const alpha = Tensor.fromArray(be, scaledValues('alpha', 30, g.alphaScale), [6, 5]);
  const bias = maskBias(be, mask, nb201Space);
  const method = {
    backend: be, supernet, mask, space: nb201Space, imageShape: [g.inputChannels, g.H, g.W] as const,
    alphaValues: () => alpha.data(),
    sampleArch: () => mixedSample(mask, noGrad(() => maskedSoftmax(alpha, bias))),
  } as unknown as BaseMethod;
  return { method, dispose: () => { supernet.dispose(); alpha.dispose(); bias.dispose(); } };
}

/** The golden's fixed batches, in order, for every edge. */
function goldenBatches(): { next: () => { x: Float32Array; y: Float32Array; n: number } } {
  let r = 0;
  return {
    next: () => {
      const k = r++ % g.repeats;
      return {
        x: Float32Array.from(unitValues(`gm-input-${k}`, g.batch * g.inputChannels * g.H * g.W)),
        y: Float32Array.from({ length: g.batch }, (_, i) => (i + k) % g.numClasses), n: g.batch,
      };
    },
  };
}

async function matrices(be: Backend, metric: GmMetric): Promise<number[][][]> {
  const { method, dispose } = goldenMethod(be);
  try {
    const out: number[][][] = [];
    for (let e = 0; e < 6; e++) out.push((await gmEdgeDistance(method, e, { repeats: g.repeats, metric, batches: goldenBatches() })).distance);
    return out;
  } finally {
    dispose();
  }
}

function close(a: number[][][], b: number[][][], rtol: number, atol: number, label: string): void {
  a.forEach((m, e) => m.forEach((row, i) => row.forEach((v, j) => {
    const w = b[e][i][j];
    assert.ok(Math.abs(v - w) <= atol + rtol * Math.abs(w), `${label}: edge ${e} [${i}][${j}] ${v} vs ${w}`);
  })));
}

const cpuMatrices = new Map<GmMetric, number[][][]>();

test('CPU: every edge\'s distance matrix equals PyTorch under cos, l2 and per-filter-cos', async () => {
  const { cpu } = await testBackends();
  for (const metric of METRICS) {
    const m = await matrices(cpu, metric);
    cpuMatrices.set(metric, m);
    close(m, g.distance[metric], 1e-4, 1e-5, `cpu ${metric}`);
  }
  // not a degenerate golden: the ops' gradients differ, and differently per edge
  const cos = g.distance.cos;
  assert.ok(cos.every((m) => m[0][1] > 0.05), 'distances too small to test anything');
  assert.ok(new Set(cos.map((m) => m[2][3].toFixed(4))).size > 3, 'edges give the same matrix');
});

test('WebGPU: the same matrices as the CPU backend', async () => {
  const { gpu } = await testBackends();
  if (!gpu) return;
  try {
    for (const metric of METRICS) close(await matrices(gpu, metric), cpuMatrices.get(metric)!, 1e-3, 1e-4, `webgpu ${metric}`);
  } finally {
    gpu.dispose();
  }
});

/** Every 2+3 split of 5 ops as group lists (smaller group first), by brute force. */
function balancedSplits(): number[][][] {
  const out: number[][][] = [];
  for (let a = 0; a < 5; a++) for (let b = a + 1; b < 5; b++) out.push([[a, b], [0, 1, 2, 3, 4].filter((k) => k !== a && k !== b)]);
  return out;
}
const cutOf = (m: number[][], groups: number[][]): number => {
  let s = 0;
  for (const i of groups[0]) for (const j of groups[1]) s += m[i][j];
  return s;
};

test('the split: groups are each matrix\'s balanced min-cut; the edge is the brute-force max-cut (and min-intra) choice', async () => {
  await initGmnasWasm();
  for (const metric of METRICS) {
    const ms = g.distance[metric];
    const choice = chooseSplitEdge(ms.map((matrix, edge) => ({ edge, matrix })), [2, 3]);
    const best = ms.map((m) => {
      let top: { groups: number[][]; cut: number } | null = null;
      for (const s of balancedSplits()) { const cut = cutOf(m, s); if (!top || cut > top.cut) top = { groups: s, cut }; }
      return top!;
    });
    ms.forEach((m, e) => {
      const cut = balancedMinCut(m, [2, 3]);
      assert.equal(cut.groups, best[e].groups, `${metric} edge ${e}: groups`);
      assert.equal(choice.perEdge[e].groups, best[e].groups);
      assert.ok(Math.abs(cut.cutScore - best[e].cut) < 1e-9);
    });
    let edge = 0;
    best.forEach((b, e) => { if (b.cut > best[edge].cut) edge = e; });
    assert.is(choice.edge, edge, `${metric}: chose edge ${choice.edge}, brute force ${edge}`);
    assert.equal(choice.groups, best[edge].groups);
    // min-intra: the edge whose best partition has the smallest within-group distance
    const intra = ms.map((m, e) => {
      let total = 0;
      for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) total += m[i][j];
      return total - best[e].cut;
    });
    let low = 0;
    intra.forEach((v, e) => { if (v < intra[low]) low = e; });
    assert.is(chooseSplitEdge(ms.map((matrix, e) => ({ edge: e, matrix })), [2, 3], { criterion: 'min-intra' }).edge, low, `${metric} min-intra`);
  }
});

test.run();
