// GM-NAS in the DARTS space (issue [darts], spec §5.1): the paper preset's constants, and a tiny GM
// search end to end on the CPU backend — splits only on normal-cell edges, groups (2,5) or (3,4) of
// minimal intra distance, DARTS-format leaf genotypes inside their masks, result and report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, validateSearchConfig } from '../../src/nas/config.js';
import { runSearch, expectedLeafCount } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { resolveHyper } from '../../src/search/presets.js';
import { renderReport } from '../../src/report/html.js';
import { dartsSpace } from '../../src/spaces/darts/space.js';
import { balancedMinCut } from '../../src/nas/cut.js';
import { retrainGenotype } from '../../src/nas/retrain.js';
import { Rng as EngineRng } from '../../src/engine/index.js';

test('--space darts --preset paper holds the spec §5.1 constants', () => {
  const c = defaultSearchConfig({ space: 'darts', preset: 'paper' });
  validateSearchConfig(c);
  assert.equal(
    [c.space, c.base, c.channels, c.cells, c.batchSize, c.splitEpochs, c.totalEpochs, c.branches, c.edgeCriterion, c.restart, c.fixSchedule],
    ['darts', 'darts2', 16, 8, 64, [2, 4, 6], 21, 2, 'min-intra', true, true],
  );
  assert.is(expectedLeafCount(c), 8);
  // selection: successive_halving.py's phases (epochs 0–29, 31–99 of the 600-epoch protocol)
  assert.equal([c.select, c.halvingEpochs], ['halving', 30]);
  assert.equal(dartsSpace.halvingProtocol!(c.halvingEpochs).phases, [{ from: 0, to: 30 }, { from: 31, to: 100 }]);
  const h = resolveHyper('darts2', dartsSpace.methodHyper!('darts2'));
  assert.equal([h.lr, h.momentum, h.nesterov, h.weightDecay, h.gradClip, h.archLr, h.archBetas, h.archWeightDecay, h.alphaInitMean, h.alphaInitStd],
    [0.025, 0.9, false, 3e-4, 5, 3e-4, [0.5, 0.999], 1e-3, 1e-3, 0]);
  assert.is(resolveHyper('snas', dartsSpace.methodHyper!('snas')).tauMin, 0.03);
  // quick: the same three split levels and 8 leaves, shrunk (docs/spaces.md "The quick DARTS search")
  const q = defaultSearchConfig({ space: 'darts' });
  validateSearchConfig(q);
  assert.equal([q.preset, q.channels, q.cells, q.splitEpochs, q.totalEpochs, q.gmRepeats, q.downsample, q.fixSchedule], ['quick', 4, 3, [1, 2, 3], 5, 1, 2, true]);
  const fs = defaultSearchConfig({ space: 'darts', preset: 'paper', method: 'fewshot' });
  validateSearchConfig(fs);
  assert.equal([fs.splitEpochs, fs.totalEpochs, fs.branches, fs.fixSchedule], [[0], 20, 7, true]);
});

test('tiny GM search in the DARTS space: normal-edge splits, (2,5)/(3,4) groups, DARTS genotypes', async () => {
  const c = { ...defaultSearchConfig({ space: 'darts', preset: 'tiny', base: 'darts' }), seed: 2 };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const r = await runSearch({ config: c, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });
  assert.is(r.space, 'darts');
  assert.is(r.leaves.length, 2);
  assert.is(r.splits.length, 1);
  const s = r.splits[0]!;
  assert.ok(s.edge < 14, `split edge ${s.edge} must be a normal-cell edge`);
  assert.ok(['2,5', '3,4'].includes(s.groups.map((g) => g.length).sort((a, b) => a - b).join(',')), JSON.stringify(s.groups));
  // the chosen partition has the smallest intra distance over both size tuples
  const best = Math.min(...[[2, 5], [3, 4]].map((sz) => balancedMinCut(s.distance!, sz).intraScore));
  const chosen = s.candidates!.find((x) => x.edge === s.edge)!;
  assert.ok(Math.abs(chosen.cutScore - balancedMinCut(s.distance!, s.groups.map((g) => g.length).sort((a, b) => a - b)).cutScore) < 1e-9);
  let intra = 0;
  const idx = s.groupIndices;
  for (const g of idx) for (let i = 0; i < g.length; i++) for (let j = i + 1; j < g.length; j++) intra += s.distance![s.groupIndices.flat().sort((a, b) => a - b).indexOf(g[i]!)]![s.groupIndices.flat().sort((a, b) => a - b).indexOf(g[j]!)]!;
  assert.ok(Math.abs(intra - best) < 1e-9, `intra ${intra} vs best ${best}`);
  assert.ok(s.candidates!.every((x) => x.edge < 14));
  for (const l of r.leaves) {
    const g = dartsSpace.parseGenotype(l.genotype);
    assert.ok(l.genotype.startsWith('Genotype(normal=['));
    assert.ok(dartsSpace.maskAdmits(dartsSpace.parseMask(l.mask), g), `${l.genotype} outside ${l.mask}`);
  }
  const html = renderReport(r);
  assert.ok(html.includes('Partition tree'));
  // the final architecture drawn as two cell DAGs with its 8 + 8 ops
  assert.is(html.split('class="cell-dag"').length - 1, 2);
  assert.ok(html.includes('>normal cell<') && html.includes('>reduce cell<'));
  // the tree boxes draw the 14 normal rows of each mask (7 cells each)
  assert.is(html.split('class="mask-cell"').length - 1, r.tree.nodes.length * 14 * 7);
});

test('the evaluation protocol fitted to a search: paper sizes at paper, aux head only on 32×32, cutout scaled', () => {
  const paper = dartsSpace.trainPresets!.paper!;
  const { epochs: _e, ...hyper } = paper.hyper;
  assert.equal(dartsSpace.evalProtocol!('paper', [3, 32, 32], { C: 16, N: 8 }), { hyper, channels: 36, cells: 20, notes: [] });
  const q = dartsSpace.evalProtocol!('quick', [1, 16, 16], { C: 8, N: 3 });
  assert.equal([q.channels, q.cells], [8, 3]);
  assert.equal(q.hyper, { ...hyper, auxWeight: 0, cutout: 8 });
  assert.equal([q.hyper.lr, q.hyper.gradClip, q.hyper.dropPathProb, q.hyper.weightDecay, q.hyper.nesterov], [0.025, 5, 0.2, 3e-4, false]);
});

test('the final retraining in the DARTS space follows its evaluation protocol (auxiliary head on 32×32 images)', async () => {
  const c = { ...defaultSearchConfig({ space: 'darts', preset: 'tiny', base: 'darts' }), downsample: 1 };
  const train = generateSynthetic({ split: 'train', size: 32, seed: 0 });
  const data = prepareSearchData({ ...c, batchSize: 4 }, train);
  assert.equal(data.imageShape.slice(1), [32, 32]);
  const genotype = dartsSpace.formatGenotype(dartsSpace.sampleSinglePath({ next: (() => { let s = 1; return () => (s = (s * 16807) % 2147483647) / 2147483647; })() }, dartsSpace.fullMask()));
  const be = new CpuBackend();
  const r = await retrainGenotype({ backend: be, config: c, data, test: generateSynthetic({ split: 'test', size: 8, seed: 1 }), genotype, epochs: 1 });
  const { epochs: _e, ...hyper } = dartsSpace.trainPresets!.paper!.hyper;
  assert.equal(r.protocol.hyper, { ...hyper, epochs: 1 });
  assert.match(r.protocol.description, /auxiliary head 0.4, drop-path 0.2, cutout 16/);
  // the auxiliary head was built: the trained network has its parameters
  const count = (aux: boolean): number => {
    const n = dartsSpace.buildNetwork(be, new EngineRng(0), { genotype: dartsSpace.parseGenotype(genotype), C: c.channels, N: c.cells, inputChannels: 3, numClasses: data.numClasses, auxiliary: aux });
    const k = n.parameters().reduce((a, p) => a + p.size, 0);
    n.dispose();
    return k;
  };
  assert.ok(count(true) > count(false));
  assert.is(r.parameters, count(true));
  assert.ok(Number.isFinite(r.testAccuracy));
});

test.run();
