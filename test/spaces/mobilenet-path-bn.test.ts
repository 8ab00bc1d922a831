// `--path-bn-recalibrate K` (src/nas/bn-recalibrate.ts, finishLeaf in src/nas/phases.ts): a leaf's
// derived path is scored in eval mode after its BN running statistics were re-estimated on K fixed
// training batches. Checked against statistics computed here: after finishLeaf the stem BN's running
// mean / variance are the average over the K batches of the per-channel batch mean / unbiased
// variance of the stem convolution's output (counted in this file on the host), and not what they
// were before; the score equals an eval-mode evaluation with those statistics; NB201's presets do not
// set it; a bad value is refused naming the flag.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { tidy, noGrad, keep, type Tensor, type Module } from '../../src/engine/index.js';
import { defaultSearchConfig, validateSearchConfig } from '../../src/nas/config.js';
import { prepareSearchData, createNodeMethod, finishLeaf, validationData } from '../../src/nas/phases.js';
import { recalibrationBatches } from '../../src/nas/bn-recalibrate.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler } from '../../src/data/sampler.js';
import { uploadBatch } from '../../src/search/batch.js';
import { getSpace } from '../../src/spaces/registry.js';
import type { BatchNorm2d } from '../../src/engine/nn/layers.js';

const be = new CpuBackend();
const K = 3;
const c = { ...defaultSearchConfig({ space: 'mobilenet', preset: 'tiny' }), syntheticSize: 96, valBatches: 2, pathTuneSteps: 2, pathBnRecalibrate: K };
const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 96, seed: 1 }));

function moduleAt(root: Module, path: string): Module {
  const m = root.namedModules().find(([p]) => p === path);
  if (!m) throw new Error(`no module ${path}`);
  return m[1];
}

test('finishLeaf re-estimates the path\'s BN statistics on K batches before scoring it', async () => {
  const m = createNodeMethod(c, be, data, 0, getSpace('mobilenet').fullMask());
  try {
    const train = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 3, sampling: 'independent', augment: false, indices: data.split.weights });
    const valid = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 4, sampling: 'independent', augment: false, indices: data.split.arch });
    await m.trainEpoch({ steps: 4, train, valid, updateArch: true });
    const bn = moduleAt(m.supernet, 'first_conv.bn') as BatchNorm2d;
    const conv = moduleAt(m.supernet, 'first_conv.conv') as Module & { forward(x: Tensor): Tensor };
    const before = Array.from(await bn.runningMean!.data());
    const leaf = await finishLeaf(c, m, data, { id: 0, mask: m.mask, fromEpoch: 0, toEpoch: 1, restartedAt: null }, [], 0);
    // the statistics counted here: the stem convolution (weights as the path tuning left them) on the
    // same K batches, per channel mean and unbiased variance, averaged over the batches
    const C = bn.channels;
    const mean = new Float64Array(C), vr = new Float64Array(C);
    for (const b of recalibrationBatches(c, data, K)) {
      const x = uploadBatch(be, b, data.imageShape).x;
      const y = tidy(() => noGrad(() => keep(conv.forward(x))));
      const [n, ch, h, w] = y.shape;
      const v = await y.data();
      y.dispose(); x.dispose();
      const cnt = n * h * w;
      for (let k = 0; k < ch; k++) {
        let s = 0, s2 = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < h * w; j++) { const t = v[(i * ch + k) * h * w + j]; s += t; s2 += t * t; }
        const mu = s / cnt;
        mean[k] += mu / K;
        vr[k] += ((s2 - cnt * mu * mu) / (cnt - 1)) / K;
      }
    }
    const rm = await bn.runningMean!.data(), rv = await bn.runningVar!.data();
    for (let k = 0; k < C; k++) {
      assert.ok(Math.abs(rm[k] - mean[k]) < 1e-4 * (1 + Math.abs(mean[k])), `running mean ${k}: ${rm[k]} vs ${mean[k]}`);
      assert.ok(Math.abs(rv[k] - vr[k]) < 1e-3 * (1 + vr[k]), `running var ${k}: ${rv[k]} vs ${vr[k]}`);
    }
    assert.ok(before.some((b, k) => Math.abs(b - rm[k]) > 1e-4), 'the statistics changed');
    // the score is the eval-mode one with exactly these statistics
    const again = await m.evaluate(validationData(c, data), { arch: m.space.parseGenotype(leaf.genotype), bn: 'eval' });
    assert.is(leaf.val.accuracy, again.accuracy);
    assert.ok(Math.abs(leaf.val.loss - again.loss) < 1e-9);
    assert.ok(leaf.valUntuned);
  } finally {
    m.dispose();
  }
});

test('--path-bn-recalibrate: only MobileNet quick sets it; a bad value is refused naming the flag', () => {
  assert.is(defaultSearchConfig({ space: 'mobilenet', preset: 'quick' }).pathBnRecalibrate, 8);
  for (const space of ['nb201', 'darts']) {
    for (const preset of ['paper', 'quick', 'tiny'] as const) assert.is(defaultSearchConfig({ space, preset }).pathBnRecalibrate, undefined);
  }
  assert.throws(() => validateSearchConfig({ ...c, pathBnRecalibrate: -1 }), /--path-bn-recalibrate: expected an integer >= 0/);
  assert.throws(() => validateSearchConfig({ ...c, pathBnRecalibrate: 1.5 }), /--path-bn-recalibrate/);
});

test.run();
