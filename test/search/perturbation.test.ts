// Architecture selection by perturbation (src/search/perturbation.ts, `--derive perturbation`): the
// accuracy drops are recomputed here with the supernet's forward and an argmax count of our own, the
// choice per edge is the largest drop, later edges are measured with the earlier ones fixed to their
// chosen op, removing 'none' changes nothing, and finishLeaf / the config wire it in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, noGrad, keep } from '../../src/engine/index.js';
import { defaultSearchConfig, validateSearchConfig } from '../../src/nas/config.js';
import { prepareSearchData, createNodeMethod, finishLeaf, validationData } from '../../src/nas/phases.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler } from '../../src/data/sampler.js';
import { uploadBatch } from '../../src/search/batch.js';
import { deriveByPerturbation } from '../../src/search/perturbation.js';
import { fullMask } from '../../src/spaces/nb201/ops.js';
import type { BaseMethod } from '../../src/search/method.js';

const be = new CpuBackend();
const c = { ...defaultSearchConfig({ preset: 'tiny' }), syntheticSize: 96, valBatches: 3 };
const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 96, seed: 1 }));
const val = validationData(c, data);

/** a DARTS leaf trained a few steps, so that ops differ */
async function trainedMethod(mask = fullMask()): Promise<BaseMethod> {
  const m = createNodeMethod(c, be, data, 0, mask);
  const train = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 3, sampling: 'independent', augment: false, indices: data.split.weights });
  const valid = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 4, sampling: 'independent', augment: false, indices: data.split.arch });
  await m.trainEpoch({ steps: 6, train, valid, updateArch: true });
  return m;
}

/** validation accuracy (%) of the mixture `w`, counted here: BN in training mode, argmax of the logits */
async function accuracyOf(m: BaseMethod, w: Float32Array): Promise<number> {
  let right = 0, total = 0;
  const wasTraining = m.supernet.training;
  m.supernet.train(true);
  const t = Tensor.fromArray(be, w, [m.space.rows, m.space.cols]);
  for (const b of val()) {
    const logits = tidy(() => noGrad(() => keep(m.supernet.forward(uploadBatch(be, b, data.imageShape).x, m.space.mixedSample(m.mask, t)))));
    const v = await logits.data();
    logits.dispose();
    const k = v.length / b.n;
    for (let i = 0; i < b.n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
      if (best === b.y[i]) right++;
      total++;
    }
  }
  t.dispose();
  m.supernet.train(wasTraining);
  return (100 * right) / total;
}

test('drops are the accuracy lost when an op leaves the mixture; each edge keeps its largest drop, later edges see earlier ones fixed', async () => {
  const m = await trainedMethod();
  const weights = (await m.mixtureWeights())!;
  const r = await deriveByPerturbation(m, val, { weights, bn: 'train' });
  const cols = m.space.cols;
  const current = Float32Array.from(weights);
  assert.ok(Math.abs(r.baseAccuracy - await accuracyOf(m, current)) < 1e-6);
  for (let e = 0; e < 2; e++) { // two edges recomputed independently (the rest follow the same loop)
    const reference = await accuracyOf(m, current);
    for (let op = 0; op < cols; op++) {
      const w = Float32Array.from(current);
      w[e * cols + op] = 0;
      const drop = reference - await accuracyOf(m, w);
      assert.ok(Math.abs(r.drops[e * cols + op] - drop) < 1e-6, `edge ${e} op ${op}: ${r.drops[e * cols + op]} vs ${drop}`);
    }
    // 'none' adds zeros: taking it out cannot change a thing
    assert.is(r.drops[e * cols + 0], 0);
    current.fill(0, e * cols, (e + 1) * cols);
    current[e * cols + r.genotype[e]] = 1;
  }
  for (let e = 0; e < m.space.rows; e++) {
    const row = r.drops.slice(e * cols, (e + 1) * cols);
    assert.is(row[r.genotype[e]], Math.max(...row), `edge ${e}: chose op ${r.genotype[e]} of drops ${row.join(', ')}`);
  }
  assert.is(r.genotypeString, m.space.formatGenotype(r.genotype));
  m.dispose();
});

test('a leaf whose edge has a single op keeps it without measuring it', async () => {
  const mask = fullMask();
  mask.fill(0, 2 * 5, 3 * 5);
  mask[2 * 5 + 3] = 1; // edge 2: nor_conv_3x3 only
  const m = await trainedMethod(mask);
  const r = await deriveByPerturbation(m, val, { weights: (await m.mixtureWeights())!, bn: 'train' });
  assert.is(r.genotype[2], 3);
  assert.ok(r.drops.slice(10, 15).every((d) => Number.isNaN(d)));
  m.dispose();
});

test('finishLeaf with derive=perturbation records the α choice and the drops beside the derived genotype', async () => {
  const m = await trainedMethod();
  const alpha = await m.derive();
  const cp = { ...c, derive: 'perturbation' as const, pathTuneSteps: 0 };
  const leaf = await finishLeaf(cp, m, data, { id: 0, mask: fullMask(), fromEpoch: 0, toEpoch: 1, restartedAt: null }, [], 0);
  assert.ok(leaf.perturbation);
  assert.is(leaf.perturbation!.alphaGenotype, alpha.genotypeString);
  assert.is(leaf.perturbation!.drops.length, 30);
  const g = m.space.parseGenotype(leaf.genotype);
  for (let e = 0; e < 6; e++) {
    const row = leaf.perturbation!.drops.slice(e * 5, e * 5 + 5).map((d) => d ?? -Infinity);
    assert.is(row[g[e]], Math.max(...row));
  }
  m.dispose();
});

test('--derive: a bad value and RSPS (no α) are refused naming the flag', () => {
  const bad = { ...defaultSearchConfig({ preset: 'tiny' }), derive: 'magic' as unknown as 'alpha' };
  assert.throws(() => validateSearchConfig(bad), /--derive: expected one of alpha, perturbation/);
  const rsps = { ...defaultSearchConfig({ preset: 'tiny', base: 'rsps' }), derive: 'perturbation' as const };
  assert.throws(() => validateSearchConfig(rsps), /--derive: 'perturbation' .* --base rsps/);
  validateSearchConfig({ ...defaultSearchConfig({ preset: 'tiny' }), derive: 'perturbation' });
  // runs saved before the field existed have no `derive`: they stay valid (argmax α)
  const old = { ...defaultSearchConfig({ preset: 'tiny' }) } as Record<string, unknown>;
  delete old.derive;
  validateSearchConfig(old as unknown as ReturnType<typeof defaultSearchConfig>);
});

test.after(() => be.dispose());
test.run();
