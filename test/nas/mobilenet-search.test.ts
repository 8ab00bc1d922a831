// The search pipeline on the MobileNet space (CPU backend, tiny preset shrunk further: one split level,
// one GM repeat): GM scores every block, splits one of them into balanced groups of its own op count
// (3+4 or 3+3), the children's masks partition the block's ops, and every leaf's genotype is admitted
// by its mask and formats as the space's text genotype.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { getSpace } from '../../src/spaces/registry.js';

const space = getSpace('mobilenet');

test('GM + DARTS on mobilenet: one split of a block into groups of its own op count, leaves inside their masks', async () => {
  const c: SearchConfig = {
    ...defaultSearchConfig({ space: 'mobilenet', method: 'gm', preset: 'tiny', base: 'darts' }),
    seed: 5, syntheticSize: 64, splitEpochs: [1], branches: 2, totalEpochs: 2, gmRepeats: 1, retrainEpochs: 0, select: 'supernet-val-acc', valBatches: 1,
  };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const r = await runSearch({ config: c, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });
  assert.is(r.space, 'mobilenet');
  assert.is(r.splits.length, 1);
  const s = r.splits[0];
  const opsOfBlock = space.decisions[s.edge].ops;
  assert.equal(s.groups.map((g) => g.length).sort(), opsOfBlock.length === 7 ? [3, 4] : [3, 3]);
  assert.equal(s.groups.flat().sort(), [...opsOfBlock].sort());
  assert.is(r.leaves.length, 2);
  for (const l of r.leaves) {
    const mask = space.parseMask(l.mask);
    const g = space.parseGenotype(l.genotype);
    assert.ok(space.maskAdmits(mask, g), `leaf ${l.node}: ${l.genotype} outside ${l.mask}`);
    assert.is(space.enabledOps(mask, s.edge).length, opsOfBlock.length === 7 ? (l.node === r.tree.nodes[0].children[0] ? s.groups[0].length : s.groups[1].length) : 3);
  }
  assert.ok(r.leaves.some((l) => l.genotype === r.final.genotype));
});

test('GM + ProxylessNAS on mobilenet, 2 then 3 branches: 6 leaves, three groups at level 1, leaves inside their masks', async () => {
  const c: SearchConfig = {
    ...defaultSearchConfig({ space: 'mobilenet', method: 'gm', preset: 'tiny' }),
    seed: 7, syntheticSize: 64, batchSize: 4, retrainEpochs: 0, select: 'val-acc',
  };
  assert.is(c.base, 'proxyless');
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const r = await runSearch({ config: c, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });
  assert.equal(r.splits.map((s) => s.groups.length), [2, 3, 3]);
  for (const s of r.splits) {
    const n = space.decisions[s.edge].ops.length;
    const sizes = s.groups.map((g) => g.length).sort();
    assert.equal(sizes, s.groups.length === 2 ? (n === 7 ? [3, 4] : [3, 3]) : (n === 7 ? [2, 2, 3] : [2, 2, 2]));
    assert.equal(s.groups.flat().sort(), [...space.decisions[s.edge].ops].sort());
  }
  // the two level-1 nodes split blocks other than the root's
  assert.ok(r.splits.slice(1).every((s) => s.edge !== r.splits[0].edge));
  assert.is(r.leaves.length, 6);
  for (const l of r.leaves) {
    assert.ok(space.maskAdmits(space.parseMask(l.mask), space.parseGenotype(l.genotype)), `leaf ${l.node}: ${l.genotype} outside ${l.mask}`);
    assert.ok(l.alpha && l.alpha.length === space.rows * space.cols);
  }
  assert.ok(r.leaves.some((l) => l.genotype === r.final.genotype));
});

test.run();
