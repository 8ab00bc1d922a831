// Deployment budgets (src/nas/budget.ts, --max-flops / --max-params) on the MobileNet space's cost model:
// the up-front check against the obviously cheapest architecture (zero where a block may skip, else
// 3x3_MBConv3, priced by mobileNetCost directly), the descent's result within budget and never worse
// than needed on a small masked space enumerated by brute force, the flags' checks, and a tiny search
// whose every leaf and final pick respect the budget.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, validateSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { configFromFlags } from '../../src/cli/search.js';
import { getSpace } from '../../src/spaces/registry.js';
import { costFunction, checkBudgetFeasible, cheapestReached, fitToBudget, withinBudget, budgetExcess } from '../../src/nas/budget.js';
import { mobileNetCost } from '../../src/spaces/mobilenet/cost.js';
import { parseOp } from '../../src/spaces/mobilenet/ops.js';
import { BLOCK_OPS } from '../../src/spaces/mobilenet/mask.js';

const space = getSpace('mobilenet');
const sizes = { C: 8, N: 1, inputChannels: 1, numClasses: 10 };
const cost = costFunction(space, sizes, 16);
const throwsRe = (fn: () => unknown, re: RegExp): void => {
  try { fn(); } catch (e) { assert.match((e as Error).message, re); return; }
  assert.unreachable(`expected an error matching ${re}`);
};

test('the cheapest architecture: zero where allowed, else 3x3_MBConv3; a budget below it is refused naming the flag', () => {
  const cheapest = BLOCK_OPS.map((ops) => parseOp(ops.length === 7 ? 'zero' : '3x3_MBConv3'));
  const want = mobileNetCost(cheapest, { widthMult: 0.25, inputChannels: 1, numClasses: 10 }, 16);
  const got = cheapestReached(space, space.fullMask(), cost, { maxMacs: 1 });
  assert.equal([got.cost.macs, got.cost.params], [want.macs, want.params]);
  throwsRe(() => checkBudgetFeasible(space, space.fullMask(), cost, { maxMacs: want.macs - 1 }), /^--max-flops: no architecture fits: the cheapest, .* has \d+ multiply-adds > --max-flops/);
  throwsRe(() => checkBudgetFeasible(space, space.fullMask(), cost, { maxParams: want.params - 1 }), /^--max-params: no architecture fits/);
  checkBudgetFeasible(space, space.fullMask(), cost, { maxMacs: want.macs, maxParams: want.params });
});

test('the descent ends within budget, and on a small masked space at most the brute-force α loss ×1 + one move', () => {
  // blocks 1, 5 and 9 keep three ops each, the others one: 27 genotypes to enumerate
  let mask = space.fullMask();
  for (let d = 0; d < space.rows; d++) mask = space.restrictMask(mask, d, d === 1 || d === 5 || d === 9 ? [1, 3, 5] : [0]);
  const alpha = new Float32Array(space.rows * space.cols);
  [[1, 5, 2], [5, 5, 1.5], [9, 5, 1], [1, 3, 1], [5, 3, 0.2], [9, 3, 0.9]].forEach(([d, j, v]) => { alpha[d * space.cols + j] = v; });
  const start = space.derive(alpha, mask);
  const all: number[][] = [];
  for (const a of [1, 3, 5]) for (const b of [1, 3, 5]) for (const c of [1, 3, 5]) { const g = [...start]; g[1] = a; g[5] = b; g[9] = c; all.push(g); }
  const top = cost(start).macs, bottom = Math.min(...all.map((g) => cost(g).macs));
  const alphaSum = (g: readonly number[]) => g.reduce((s, j, d) => s + alpha[d * space.cols + j], 0);
  for (const f of [0.2, 0.5, 0.8]) {
    const budget = { maxMacs: bottom + f * (top - bottom) };
    const g = fitToBudget(space, start, mask, alpha, cost, budget)!;
    assert.ok(g && withinBudget(cost(g), budget), `budget ${budget.maxMacs}: ${g}`);
    assert.ok(space.maskAdmits(mask, g));
    const feasible = all.filter((x) => withinBudget(cost(x), budget));
    const best = Math.max(...feasible.map(alphaSum));
    // greedy, not exact: it keeps at least the α of the best feasible genotype minus the largest single α step
    assert.ok(alphaSum(g) >= best - 2 - 1e-9, `budget ${budget.maxMacs}: α ${alphaSum(g)} vs best ${best}`);
  }
  assert.is(fitToBudget(space, start, mask, alpha, cost, { maxMacs: bottom - 1 }), null);
  assert.ok(budgetExcess(cost(start), { maxMacs: top }) === 1);
});

test('flags: --max-flops / --max-params parse counts, need a space with a cost model', () => {
  const c = configFromFlags({ space: 'mobilenet', 'max-flops': '300M', 'max-params': '4.5k' });
  assert.equal([c.maxMacs, c.maxParams], [3e8, 4500]);
  assert.is(configFromFlags({ space: 'mobilenet', 'max-flops': '3e8' }).maxMacs, 3e8);
  throwsRe(() => configFromFlags({ space: 'mobilenet', 'max-flops': 'lots' }), /^--max-flops lots: expected a positive count/);
  throwsRe(() => configFromFlags({ space: 'nb201', 'max-params': '1M' }), /^--max-params: the nb201 space has no cost model/);
  throwsRe(() => validateSearchConfig({ ...defaultSearchConfig({ space: 'mobilenet' }), maxMacs: -1 }), /^--max-flops: expected a positive number/);
});

test('a tiny search under a budget: every leaf and the final pick within it, moved leaves keep their own pick', async () => {
  const base: SearchConfig = {
    ...defaultSearchConfig({ space: 'mobilenet', method: 'random', preset: 'tiny' }),
    seed: 11, syntheticSize: 64, batchSize: 4, retrainEpochs: 0, pathTuneSteps: 0, select: 'supernet-val-acc',
  };
  const data = prepareSearchData(base, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const tcost = costFunction(space, { C: base.channels, N: 1, inputChannels: data.imageShape[0], numClasses: data.numClasses }, data.imageShape[1]);
  const low = cheapestReached(space, space.fullMask(), tcost, { maxMacs: 1 }).cost.macs;
  const high = tcost(space.derive(new Float32Array(space.rows * space.cols).fill(0).map((_, i) => (i % space.cols) === 5 ? 1 : 0), space.fullMask())).macs;
  const c = { ...base, maxMacs: Math.round(low + 0.3 * (high - low)) };
  const r = await runSearch({ config: c, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });
  assert.is(r.leaves.length, 6);
  for (const l of r.leaves) {
    assert.ok(l.cost && l.cost.macs <= c.maxMacs, `leaf ${l.node}: ${l.cost?.macs} > ${c.maxMacs}`);
    assert.equal(l.cost, tcost(space.parseGenotype(l.genotype)));
    if (l.unconstrained) assert.ok(l.unconstrained.cost.macs > c.maxMacs);
  }
  assert.ok(r.leaves.some((l) => l.unconstrained), 'no leaf needed moving: the budget tested nothing');
  assert.ok(r.final.cost && r.final.cost.macs <= c.maxMacs);
});

test.run();
