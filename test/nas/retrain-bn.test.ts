// The retraining protocol's test pass (src/nas/retrain.ts, version 2): BN statistics re-estimated over
// fixed training batches before the test images are scored. Checked on a tiny NB201 retraining on the
// CPU backend: the stem BN's running mean / variance equal the average over the protocol's batches of
// the stem convolution's per-channel batch mean / unbiased variance, computed here on the host from
// the trained stem weights; the figure with the statistics training left is what `bnBatches: 0` (the
// version-1 protocol) reports for the same seed; and BN's cumulative-average mode gives the same
// statistics through the fused ReLU → conv → BN sequence as through the separate layers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng as EngineRng, batchNormsByPath, relu } from '../../src/engine/index.js';
import { BatchNorm2d, Conv2d, Lambda, Sequential } from '../../src/engine/nn/layers.js';
import { withSwitches } from '../../src/engine/switches.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { retrainGenotype, bnReestimationSampler, RETRAIN_PROTOCOL_VERSION, RETRAIN_HYPER } from '../../src/nas/retrain.js';
import { reestimateBatchNorm } from '../../src/nas/bn-recalibrate.js';
import { Rng } from '../../src/data/rng.js';

const be = new CpuBackend();
const ARCH = '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|';

/** Per-channel mean and unbiased variance of stem-conv outputs, averaged over batches (host arithmetic). */
function stemStatistics(weight: Float32Array, wShape: readonly number[], batches: { x: Float32Array; n: number }[], shape: readonly number[]): { mean: Float64Array; variance: Float64Array } {
  const [Cout, Cin, K] = [wShape[0]!, wShape[1]!, wShape[2]!];
  const [, H, W] = [shape[0]!, shape[1]!, shape[2]!];
  const pad = (K - 1) / 2;
  const mean = new Float64Array(Cout), variance = new Float64Array(Cout);
  for (const b of batches) {
    for (let co = 0; co < Cout; co++) {
      let s = 0, s2 = 0;
      for (let i = 0; i < b.n; i++) {
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
          let v = 0;
          for (let ci = 0; ci < Cin; ci++) for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) {
            const yy = y + ky - pad, xx = x + kx - pad;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            v += weight[((co * Cin + ci) * K + ky) * K + kx]! * b.x[((i * Cin + ci) * H + yy) * W + xx]!;
          }
          s += v; s2 += v * v;
        }
      }
      const m = b.n * H * W, mu = s / m;
      mean[co] += mu / batches.length;
      variance[co] += (s2 - m * mu * mu) / (m - 1) / batches.length;
    }
  }
  return { mean, variance };
}

test('retrainGenotype re-estimates BN over the protocol\'s training batches before the test pass', async () => {
  const c = { ...defaultSearchConfig({ space: 'nb201', preset: 'tiny' }), seed: 4 };
  const data = prepareSearchData({ ...c, batchSize: 8 }, generateSynthetic({ split: 'train', size: 160, seed: 0 }));
  const testSet = generateSynthetic({ split: 'test', size: 40, seed: 1 });
  const K = 3, SEED = 11;
  let checked = false;
  const r = await retrainGenotype({
    backend: be, config: c, data, test: testSet, genotype: ARCH, epochs: 1, bnBatches: K, seed: SEED,
    inspect: async (net) => {
      const bns = batchNormsByPath(net);
      const stemBn = bns.get('stem.1')!;
      const conv = net.namedModules().find(([p]) => p === 'stem.0')![1] as Conv2d;
      const sampler = bnReestimationSampler(data.train, SEED, RETRAIN_HYPER.batchSize);
      const batches = Array.from({ length: K }, () => sampler.next());
      const want = stemStatistics(await conv.weight.data(), conv.weight.shape, batches, data.imageShape);
      const rm = await stemBn.runningMean!.data(), rv = await stemBn.runningVar!.data();
      for (let ch = 0; ch < rm.length; ch++) {
        assert.ok(Math.abs(rm[ch]! - want.mean[ch]!) < 1e-4 * (1 + Math.abs(want.mean[ch]!)), `stem running mean ${ch}: ${rm[ch]} vs ${want.mean[ch]}`);
        assert.ok(Math.abs(rv[ch]! - want.variance[ch]!) < 1e-3 * (1 + want.variance[ch]!), `stem running var ${ch}: ${rv[ch]} vs ${want.variance[ch]}`);
      }
      assert.ok([...bns.values()].every((b) => !b.cumulativeAverage), 'cumulative-average mode switched off afterwards');
      checked = true;
    },
  });
  assert.ok(checked);
  assert.is(r.protocol.version, RETRAIN_PROTOCOL_VERSION);
  assert.is(r.protocol.bnBatches, K);
  assert.match(r.protocol.description, /re-estimated over 3 fixed training batches/);
  assert.ok(r.trainingStatsTest, 'the training-statistics figure is kept beside the protocol\'s');
  // the version-1 figure: the same training scored with the statistics it left
  const old = await retrainGenotype({ backend: be, config: c, data, test: testSet, genotype: ARCH, epochs: 1, bnBatches: 0, seed: SEED });
  assert.is(old.trainingStatsTest, undefined);
  assert.is(old.protocol.bnBatches, 0);
  assert.ok(Math.abs(old.testLoss - r.trainingStatsTest!.loss) < 1e-6, `${old.testLoss} vs ${r.trainingStatsTest!.loss}`);
  assert.is(old.testAccuracy, r.trainingStatsTest!.accuracy);
  assert.ok(Math.abs(old.testLoss - r.testLoss) > 1e-6, 're-estimated statistics change the test loss');
});

test('BN cumulative-average mode: the fused ReLU → conv → BN sequence keeps the same statistics as the separate layers', async () => {
  const rng = new Rng(3);
  const host = Array.from({ length: 4 }, (_, k) => Float32Array.from({ length: 2 * 3 * 5 * 5 }, () => (rng.next() - 0.5) * (1 + k)));
  const stats = async (fusion: boolean): Promise<number[]> => {
    const conv = new Conv2d(be, new EngineRng(1), 3, 4, 3, { padding: 1 });
    const bn = new BatchNorm2d(be, 4);
    const net = new Sequential(new Lambda(relu, 'relu'), conv, bn);
    const batches = host.map((x) => ({ x: Tensor.fromArray(be, x, [2, 3, 5, 5]), y: Tensor.zeros(be, [2]), n: 2 }));
    withSwitches({ fusion }, () => reestimateBatchNorm(net, (x) => { net.forward(x); }, batches));
    for (const b of batches) { b.x.dispose(); b.y.dispose(); }
    return [...await bn.runningMean!.data(), ...await bn.runningVar!.data()];
  };
  const fused = await stats(true), plain = await stats(false);
  fused.forEach((v, i) => assert.ok(Math.abs(v - plain[i]!) < 1e-5, `statistic ${i}: fused ${v} vs separate ${plain[i]}`));
  // and not the momentum-0.1 update the layers would do without the mode: the mean of 4 batches' statistics
  assert.ok(plain.slice(4).some((v) => Math.abs(v - 1) > 0.05));
});

test.run();
