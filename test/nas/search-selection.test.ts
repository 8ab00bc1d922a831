// The final pick among leaves, inside a whole tiny search on the CPU backend: val-acc and val-loss take
// the best leaf by the score they name (checked against the leaves' own records), and successive
// halving runs to completion (its schedule is checked before the first epoch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch, expectedLeafCount, halvingSchedule } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';

function tinyConfig(over: Partial<SearchConfig> = {}): SearchConfig {
  return { ...defaultSearchConfig({ method: over.method ?? 'gm', preset: 'tiny', base: 'darts' }), seed: 5, syntheticSize: 128, ...over };
}
const be = new CpuBackend();
const data = prepareSearchData(tinyConfig(), generateSynthetic({ split: 'train', size: 128, seed: 1 }));

test('val-acc picks the leaf with the highest validation accuracy, val-loss the one with the lowest loss', async () => {
  for (const select of ['val-acc', 'val-loss'] as const) {
    const r = await runSearch({ config: tinyConfig({ select }), backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
    assert.is(r.leaves.length, 4);
    // the best leaf computed here from the leaves' records (first one wins a tie, as documented)
    let best = r.leaves[0];
    for (const l of r.leaves) {
      if (select === 'val-acc' ? l.val.accuracy > best.val.accuracy : l.val.loss < best.val.loss) best = l;
    }
    assert.is(r.final.node, best.node, `${select} picked node ${r.final.node}, the best is ${best.node}`);
    assert.is(r.final.genotype, best.genotype);
    assert.is(r.final.selectedBy, select);
    assert.equal(r.final.scores.map((s) => s.score), r.leaves.map((l) => (select === 'val-acc' ? l.val.accuracy : l.val.loss)));
  }
});

test('--select halving runs inside a search: two rounds over four leaves, the winner is the last round\'s best', async () => {
  const c = tinyConfig({ select: 'halving' });
  const r = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  assert.is(r.final.selectedBy, 'halving');
  const rounds = r.final.halving!.rounds;
  assert.is(rounds.length, 2);
  assert.equal(rounds.map((x) => x.epochs), [c.halvingEpochs, 2 * c.halvingEpochs]);
  assert.equal(rounds[0].candidates, r.leaves.map((l) => l.node));
  assert.is(rounds[0].kept.length, 2);
  assert.equal([...rounds[1].candidates].sort(), [...rounds[0].kept].sort());
  const last = rounds[1];
  const top = last.candidates[last.scores.indexOf(Math.max(...last.scores))];
  assert.is(r.final.node, top);
  assert.is(r.final.genotype, r.leaves.find((l) => l.node === top)!.genotype);
});

test('the halving schedule exists for every leaf count a config can give', () => {
  for (const method of ['gm', 'random', 'fewshot', 'oneshot'] as const) {
    const n = expectedLeafCount(tinyConfig({ method }));
    const s = halvingSchedule(n);
    assert.is(s.length, n === 1 ? 0 : Math.ceil(Math.log2(n)), `${method}: ${n} leaves`);
  }
});

test.run();
