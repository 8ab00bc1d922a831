// Per-level branching (`--branches 2,3`, spec §5.2's `--split_num 2,3`): config checks that name the
// flag, the leaf count Π branches, the CLI's parsing of --branches / --width-mult / --resolution, and
// a tiny random-split search on NB201 whose second level splits into three groups (6 leaves). The
// GM + ProxylessNAS search with 2 then 3 on the MobileNet space is in mobilenet-search.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, validateSearchConfig, levelBranches, type SearchConfig } from '../../src/nas/config.js';
import { runSearch, expectedLeafCount } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { configFromFlags } from '../../src/cli/search.js';
import { getSpace } from '../../src/spaces/registry.js';
import { fitToResolution, padDataset, downsampleDataset, shrinkForNetwork } from '../../src/data/dataset.js';

const throwsFlag = (fn: () => unknown, re: RegExp): void => {
  try { fn(); } catch (e) { assert.match((e as Error).message, re); return; }
  assert.unreachable(`expected an error matching ${re}`);
};

test('mobilenet presets split 2 then 3 (6 leaves); NB201 and DARTS keep one count for every level', () => {
  for (const preset of ['tiny', 'quick', 'paper'] as const) {
    const c = defaultSearchConfig({ space: 'mobilenet', preset });
    validateSearchConfig(c);
    assert.is(c.base, 'proxyless');
    assert.equal(levelBranches(c), [2, 3]);
    assert.is(expectedLeafCount(c), 6);
  }
  const paper = defaultSearchConfig({ space: 'mobilenet', preset: 'paper' });
  assert.equal([paper.splitEpochs, paper.totalEpochs, paper.batchSize, paper.channels, paper.restart, paper.edgeCriterion], [[40, 80], 160, 512, 32, false, 'min-intra']);
  for (const space of ['nb201', 'darts']) {
    const c = defaultSearchConfig({ space, preset: 'quick' });
    assert.is(c.branches, 2);
    assert.is(expectedLeafCount(c), 2 ** c.splitEpochs.length);
  }
  // few-shot and one-shot on mobilenet take no per-level list
  validateSearchConfig(defaultSearchConfig({ space: 'mobilenet', preset: 'quick', method: 'fewshot' }));
  validateSearchConfig(defaultSearchConfig({ space: 'mobilenet', preset: 'quick', method: 'oneshot' }));
});

test('bad per-level branching is refused before any work, naming --branches or --groups', () => {
  const mb = (over: Partial<SearchConfig>): SearchConfig => ({ ...defaultSearchConfig({ space: 'mobilenet', preset: 'tiny' }), ...over });
  throwsFlag(() => validateSearchConfig(mb({ splitEpochs: [1] })), /^--branches: 2,3 gives 2 level\(s\) but --split-epochs 1 has 1/);
  throwsFlag(() => validateSearchConfig(mb({ branches: [2, 7] })), /^--branches: expected integers in 2\.\.6/);
  throwsFlag(() => validateSearchConfig(mb({ branches: [1, 3] })), /^--branches/);
  throwsFlag(() => validateSearchConfig(mb({ groupSizes: [3, 4] })), /^--groups: 2 sizes for --branches 2,3/);
  throwsFlag(() => validateSearchConfig(mb({ branches: 2, groupSizes: [4, 4] })), /^--groups: sizes 4\+4 add up to 8, but MobileNet \(ProxylessNAS\) decisions have 6 or 7 ops/);
  validateSearchConfig(mb({ branches: 3, groupSizes: [2, 2, 3] }));
  const nb = defaultSearchConfig({ space: 'nb201', preset: 'tiny' });
  throwsFlag(() => validateSearchConfig({ ...nb, branches: [2, 6] }), /^--branches: expected integers in 2\.\.5/);
  validateSearchConfig({ ...nb, branches: [2, 3] });
  assert.is(expectedLeafCount({ ...nb, branches: [2, 3] }), 6);
});

test('CLI: --branches 2,3, --width-mult, --resolution', () => {
  const c = configFromFlags({ space: 'nb201', branches: '2,3', preset: 'tiny' });
  assert.equal(c.branches, [2, 3]);
  assert.is(configFromFlags({ branches: '3', preset: 'tiny' }).branches, 3);
  throwsFlag(() => configFromFlags({ branches: '2,x' }), /^--branches 2,x: expected a count like 2/);
  throwsFlag(() => configFromFlags({ space: 'mobilenet', 'split-epochs': '2' }), /^--branches: 2,3 gives 2 level/);
  const m = configFromFlags({ space: 'mobilenet', 'width-mult': '0.5', resolution: '16' });
  assert.equal([m.channels, m.resolution, m.downsample], [16, 16, 1]);
  throwsFlag(() => configFromFlags({ space: 'mobilenet', 'width-mult': '0.3' }), /^--width-mult 0\.3: width multiplier 0\.3: must be a positive multiple of 1\/32/);
  throwsFlag(() => configFromFlags({ space: 'nb201', 'width-mult': '0.5' }), /^--width-mult: the nb201 space has no width multiplier/);
  throwsFlag(() => configFromFlags({ space: 'mobilenet', 'width-mult': '0.5', channels: '8' }), /^--width-mult and --channels/);
  throwsFlag(() => configFromFlags({ resolution: '16', downsample: '2' }), /^--resolution and --downsample/);
  throwsFlag(() => configFromFlags({ resolution: '2' }), /^--resolution/);
});

test('fitToResolution: padding to k·R then shrinking by k, as the existing pad and downsample do', () => {
  const ds = generateSynthetic({ split: 'train', size: 6, seed: 3 }); // 32×32
  const small = { ...ds, ...downsampleDataset(padDataset(ds, 32), 1) };
  const fm = { ...small, height: 28, width: 28, images: new Uint8Array(6 * 3 * 28 * 28).map((_, i) => (i * 37) % 251) };
  assert.equal(fitToResolution(fm, 16).images, shrinkForNetwork(fm, 2).images);
  assert.equal(fitToResolution(fm, 14).images, downsampleDataset(fm, 2).images);
  assert.equal(fitToResolution(fm, 32).images, padDataset(fm, 32).images);
  assert.equal(fitToResolution(fm, 8).images, downsampleDataset(padDataset(fm, 32), 4).images);
  assert.is(fitToResolution(fm, 28), fm);
});

test('random splits 2 then 3 on NB201: the second level makes three groups, 6 leaves', async () => {
  const c: SearchConfig = {
    ...defaultSearchConfig({ space: 'nb201', method: 'random', preset: 'tiny', base: 'darts' }),
    seed: 3, syntheticSize: 64, branches: [2, 3], retrainEpochs: 0, pathTuneSteps: 0, select: 'supernet-val-acc',
  };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const r = await runSearch({ config: c, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });
  const depth = new Map(r.tree.nodes.map((n) => [n.id, n.depth]));
  assert.equal(r.splits.map((s) => s.groups.length), [2, 3, 3]);
  for (const s of r.splits) assert.is(s.groups.length, depth.get(s.node) === 0 ? 2 : 3);
  assert.is(r.leaves.length, 6);
  const space = getSpace('nb201');
  for (const l of r.leaves) assert.ok(space.maskAdmits(space.parseMask(l.mask), space.parseGenotype(l.genotype)));
});

test.run();
