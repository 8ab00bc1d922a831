// The whole search on the CPU backend at the 'tiny' preset: tree shape, split records, leaves, final
// pick; kill-and-resume ends exactly as an uninterrupted run; every method on the same code path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch, StopRequested, type SearchResult } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { FileStore } from '../../src/nas/file-store.js';
import { prepareSearchData, type SearchData } from '../../src/nas/phases.js';
import { NB201_OPS, parseMask, enabledOps } from '../../src/spaces/nb201/ops.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';

function tinyData(): SearchData {
  return prepareSearchData(tinyConfig(), generateSynthetic({ split: 'train', size: 128, seed: 0 }));
}

function tinyConfig(over: Partial<SearchConfig> = {}): SearchConfig {
  const method = over.method ?? 'gm';
  return { ...defaultSearchConfig({ method, preset: 'tiny', base: over.base ?? 'darts' }), seed: 3, syntheticSize: 128, ...over };
}

const be = new CpuBackend();
const data = tinyData();

function checkResult(r: SearchResult, c: SearchConfig, leaves: number): void {
  assert.is(r.space, 'nb201');
  assert.is(r.method, c.method);
  assert.is(r.seed, c.seed);
  assert.equal(r.config, c);
  assert.is(r.leaves.length, leaves);
  for (const l of r.leaves) {
    const mask = parseMask(l.mask);
    const g = parseGenotype(l.genotype);
    g.forEach((op, e) => assert.ok(enabledOps(mask, e).includes(op), `leaf ${l.node}: ${l.genotype} outside its mask ${l.mask}`));
    assert.ok(l.val.accuracy >= 0 && l.val.accuracy <= 100);
    assert.ok(Number.isFinite(l.val.loss));
    assert.ok(l.supernetVal && l.supernetVal.accuracy >= 0 && l.supernetVal.accuracy <= 100, `leaf ${l.node} supernet score`);
    assert.ok(Number.isFinite(l.supernetVal!.loss));
  }
  assert.ok(r.leaves.some((l) => l.genotype === r.final.genotype && l.node === r.final.node));
  assert.is(r.final.selectedBy, c.select);
  const nodes = r.tree.nodes;
  for (const s of r.splits) {
    const children = nodes.filter((n) => n.parent === s.node);
    assert.is(children.length, s.groups.length);
    assert.equal(s.groups.flat().sort(), [...NB201_OPS].sort());
  }
}

test('GM: two split levels give 4 leaves with 2+3 groups; the distance matrices are valid', async () => {
  const c = tinyConfig();
  const r = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  checkResult(r, c, 4);
  assert.is(r.splits.length, 3);
  for (const s of r.splits) {
    assert.equal(s.groups.map((g) => g.length).sort(), [2, 3]);
    assert.ok(s.distance && s.distance.length === 5);
    for (let i = 0; i < 5; i++) {
      assert.ok(Math.abs(s.distance![i][i]) < 1e-9);
      for (let j = 0; j < 5; j++) {
        assert.ok(Math.abs(s.distance![i][j] - s.distance![j][i]) < 1e-9);
        assert.ok(s.distance![i][j] >= -1e-6 && s.distance![i][j] <= 2 + 1e-6, `distance ${s.distance![i][j]} outside [0, 2]`);
      }
    }
    // the chosen edge has the largest cut distance of the candidates
    const best = Math.max(...s.candidates!.map((k) => k.cutScore));
    assert.ok(Math.abs(s.cutScore! - best) < 1e-12);
  }
  // level-2 splits only use edges unsplit in the parent
  const rootEdge = r.splits[0].edge;
  for (const s of r.splits.slice(1)) assert.is.not(s.edge, rootEdge);
  assert.ok(r.timings['split.level0'] > 0 && r.timings.leaves > 0);
});

test('--select supernet-val-acc picks the leaf whose supernet (mixed θ) scores best, not its single path', async () => {
  const c = tinyConfig({ select: 'supernet-val-acc' });
  const r = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  checkResult(r, c, 4);
  const best = Math.max(...r.leaves.map((l) => l.supernetVal!.accuracy));
  assert.is(r.leaves.find((l) => l.node === r.final.node)!.supernetVal!.accuracy, best);
  assert.equal(r.final.scores.map((s) => s.score), r.leaves.map((l) => l.supernetVal!.accuracy));
  // the mixed supernet and the derived single path are different networks: their losses differ
  assert.ok(r.leaves.some((l) => Math.abs(l.supernetVal!.loss - l.val.loss) > 1e-6), 'supernet score equals the single-path score');
});

test('few-shot splits one edge into one sub-supernet per op; random splits are balanced; one-shot has one leaf', async () => {
  const fs = tinyConfig({ method: 'fewshot' });
  const r1 = await runSearch({ config: fs, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  checkResult(r1, fs, 5);
  assert.is(r1.splits[0].edge, 0);
  assert.equal(r1.splits[0].groups, NB201_OPS.map((o) => [o]));
  const rnd = tinyConfig({ method: 'random' });
  const r2 = await runSearch({ config: rnd, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  checkResult(r2, rnd, 4);
  assert.ok(r2.splits.every((s) => s.distance === null));
  const one = tinyConfig({ method: 'oneshot' });
  const r3 = await runSearch({ config: one, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  checkResult(r3, one, 1);
  assert.is(r3.splits.length, 0);
});

test('a killed run resumes to the same splits and final genotype as an uninterrupted one', async () => {
  for (const base of ['darts', 'rsps'] as const) {
    const c = tinyConfig({ base });
    const dirA = mkdtempSync(join(tmpdir(), 'gmnas-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'gmnas-b-'));
    try {
      const full = await runSearch({ config: c, backend: be, data, store: new FileStore(dirA), deviceName: 'cpu' });
      // kill after 2 saved epochs (the root's warmup and the first child's), then resume twice more
      let stopped = 0;
      for (const stopAt of [2, 3]) {
        try {
          await runSearch({ config: c, backend: be, data, store: new FileStore(dirB), deviceName: 'cpu', resume: stopped > 0, stopAfterEpochs: stopAt });
        } catch (e) {
          if (!(e instanceof StopRequested)) throw e;
          stopped++;
        }
      }
      assert.is(stopped, 2);
      const resumed = await runSearch({ config: c, backend: be, data, store: new FileStore(dirB), deviceName: 'cpu', resume: true });
      assert.equal(resumed.splits, full.splits, `${base}: splits differ after resume`);
      assert.is(resumed.final.genotype, full.final.genotype);
      assert.equal(resumed.leaves.map((l) => [l.genotype, l.val]), full.leaves.map((l) => [l.genotype, l.val]));
      assert.ok(existsSync(join(dirB, 'result.json')));
      assert.ok(existsSync(join(dirB, 'checkpoints', 'node-0.safetensors')));
      const saved = JSON.parse(readFileSync(join(dirB, 'result.json'), 'utf8'));
      assert.is(saved.final.genotype, full.final.genotype);
    } finally {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  }
});

test('resuming with a different configuration is refused, naming the difference', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmnas-c-'));
  try {
    const c = tinyConfig();
    try { await runSearch({ config: c, backend: be, data, store: new FileStore(dir), deviceName: 'cpu', stopAfterEpochs: 1 }); } catch (e) { if (!(e instanceof StopRequested)) throw e; }
    await rejects(() => runSearch({ config: { ...c, seed: 4 }, backend: be, data, store: new FileStore(dir), deviceName: 'cpu', resume: true }), /different configuration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad configurations are rejected with the flag named', async () => {
  const bad: [Partial<SearchConfig>, RegExp][] = [
    [{ splitEpochs: [2, 1] }, /--split-epochs/],
    [{ splitEpochs: [1, 3], totalEpochs: 3 }, /--epochs/],
    [{ method: 'fewshot', splitEpochs: [0], branches: 2 }, /--branches/],
    [{ groupSizes: [1, 1] }, /--groups/],
    [{ select: 'bench' }, /--select/],
    [{ method: 'oneshot', splitEpochs: [1] }, /--split-epochs/],
    [{ gmMetric: 'dot' as never }, /--gm-metric/],
  ];
  for (const [over, re] of bad) {
    await rejects(() => runSearch({ config: tinyConfig(over), backend: be, data, store: new MemoryStore(), deviceName: 'cpu' }), re);
  }
});

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try { await fn(); } catch (e) { assert.match((e as Error).message, re); return; }
  assert.unreachable(`expected a rejection matching ${re}`);
}

test.run();
