// Successive halving by the DARTS space's reference schedule (GM's successive_halving.py, spec §5.1):
// the schedule's constants, the picks against a plain transcription of the script's arithmetic, and a
// search whose halving pauses and resumes leaf trainings that end exactly as uninterrupted ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler } from '../../src/data/sampler.js';
import { hashSeed } from '../../src/data/rng.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { runSearch } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData, validationData } from '../../src/nas/phases.js';
import { initGmnasWasm } from '../../src/nas/cut.js';
import { runPhasedHalving, checkHalvingProtocol } from '../../src/nas/phased-halving.js';
import { trainStandalone } from '../../src/search/standalone.js';
import { dartsSpace } from '../../src/spaces/darts/space.js';

test('the DARTS halving protocol: phases 0–29 and 31–99 of a 600-epoch cosine, scaled by the first phase', () => {
  assert.equal(dartsSpace.halvingProtocol!(30), { horizon: 600, phases: [{ from: 0, to: 30 }, { from: 31, to: 100 }], reduction: 'gm-moving-average' });
  assert.equal(dartsSpace.halvingProtocol!(1), { horizon: 20, phases: [{ from: 0, to: 1 }, { from: 1, to: 3 }], reduction: 'gm-moving-average' });
  assert.equal(dartsSpace.halvingProtocol!(3), { horizon: 60, phases: [{ from: 0, to: 3 }, { from: 3, to: 10 }], reduction: 'gm-moving-average' });
  checkHalvingProtocol(dartsSpace.halvingProtocol!(1));
  assert.throws(() => checkHalvingProtocol({ horizon: 10, phases: [{ from: 0, to: 5 }, { from: 4, to: 8 }], reduction: 'last' }), /phase 1/);
  assert.throws(() => dartsSpace.halvingProtocol!(0), /positive/);
});

/** successive_halving.py's arithmetic, transcribed independently (float64, plain loops). */
function referencePicks(acc: number[][]): { phase1: number[]; phase2: number[]; scores2: number[] } {
  const movingAvg = (l: number[]): number => {
    let avg = 0;
    l.forEach((v, id) => { avg = (avg * id * 0.1 + v * 0.9) / (id + 1); });
    return avg;
  };
  const top = (scores: number[], k: number): number[] => scores.map((s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map((x) => x[1]);
  const s1 = acc.map((a) => movingAvg(a.slice(0, 30)));
  const phase1 = top(s1, 4);
  const s2 = acc.map((a, i) => (phase1.includes(i) ? movingAvg(a.slice(31, 100)) : 0));
  const phase2 = top(s2, 2);
  return { phase1, phase2, scores2: s2 };
}

test('runPhasedHalving keeps the candidates successive_halving.py keeps (8 → 4 → 2) and picks the better phase-2 score', async () => {
  await initGmnasWasm();
  for (const seed of [1, 2, 3, 4, 5]) {
    let s = seed * 7919;
    const rnd = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
    // learning curves that cross: different asymptotes and speeds, plus noise
    const acc = Array.from({ length: 8 }, () => {
      const top = 60 + 30 * rnd(), speed = 2 + 40 * rnd();
      return Array.from({ length: 100 }, (_, e) => top * (1 - Math.exp(-(e + 1) / speed)) + 3 * (rnd() - 0.5));
    });
    const calls: [number[], number][] = [];
    const res = await runPhasedHalving(8, dartsSpace.halvingProtocol!(30), async (alive, to) => {
      calls.push([alive, to]);
      return alive.map((i) => acc[i]!.slice(0, to));
    });
    const ref = referencePicks(acc);
    assert.equal(calls.map((c) => c[1]), [30, 100]);
    assert.equal(calls[0]![0], [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(calls[1]![0], [...ref.phase1].sort((a, b) => a - b), `seed ${seed}: phase 1`);
    assert.equal(res.rounds[0]!.kept, ref.phase1);
    assert.equal(res.rounds[1]!.kept, ref.phase2, `seed ${seed}: phase 2`);
    assert.is(res.winner, ref.phase2[0]);
    res.rounds[1]!.candidates.forEach((cand, k) => assert.ok(Math.abs(res.rounds[1]!.scores[k]! - ref.scores2[cand]!) < 1e-9));
  }
});

test('a search with --select halving in the DARTS space: paused leaf trainings end as uninterrupted ones', async () => {
  const c = { ...defaultSearchConfig({ space: 'darts', preset: 'tiny', base: 'darts' }), seed: 3, splitEpochs: [1, 2], totalEpochs: 3, select: 'halving' as const, retrainEpochs: 0 };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const be = new CpuBackend();
  const r = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  const h = r.final.halving!;
  assert.is(r.final.selectedBy, 'halving');
  assert.equal(h.protocol!.phases, [{ from: 0, to: 1 }, { from: 1, to: 3 }]);
  assert.equal(h.rounds.map((x) => [x.candidates.length, x.kept.length, x.epochs]), [[4, 2, 1], [2, 1, 3]]);
  assert.is(r.final.node, h.rounds[1]!.kept[0]);
  // the winner trained alone, without pauses and without the other leaves in between, gives the same
  // per-epoch validation accuracies (same seed, same 20-epoch cosine, CPU backend: exact)
  const leaf = r.leaves.find((l) => l.node === r.final.node)!;
  const ev = dartsSpace.evalProtocol!(c.preset, data.imageShape, { C: c.channels, N: c.cells });
  const seed = hashSeed(c.seed, 0x4a1f, leaf.node);
  const alone = await trainStandalone({
    backend: be, space: dartsSpace,
    network: { genotype: dartsSpace.parseGenotype(leaf.genotype), C: c.channels, N: c.cells, inputChannels: data.imageShape[0], numClasses: data.numClasses },
    seed, imageShape: data.imageShape,
    train: new BatchSampler(data.train, { batchSize: ev.hyper.batchSize, seed, sampling: 'independent', augment: data.augment ?? true, indices: data.split.weights }),
    stepsPerEpoch: c.stepsPerEpoch!, hyper: { ...ev.hyper, epochs: h.protocol!.horizon },
    evaluate: validationData(c, data), evalEvery: 1, afterEpoch: (e) => e.epoch + 1 < 3,
  });
  alone.network.dispose();
  assert.equal(alone.history.map((e) => e.eval!.accuracy), h.rounds[1]!.curves![h.rounds[1]!.candidates.indexOf(r.final.node)]);
});

test.run();
