// Issue [nb201] item 1: on the built-in synthetic dataset, architecture matters — a stand-alone NB201
// network whose cells are all nor_conv_3x3 beats networks whose cells only skip or average-pool, by a
// clear margin, with the same seed, data and training (NB201 stand-alone recipe — nesterov SGD,
// cosine, wd 5e-4 — at lr 0.05; C = 8, N = 1, no augmentation). Runs on the WebGPU backend
// (lavapipe in CI); GMNAS_LEARNABILITY_CPU=1 runs it on the CPU reference (~2 min of an idle core).
//
// Why lr 0.05 and not the recipe's 0.1: at batch 32 on 400 images, lr 0.1 leaves the conv network on
// the chance plateau for a seed-dependent time — 53.5 % or 12.5 % after 8 epochs depending only on
// f32 rounding order (the fused and unfused kernels, which agree to 1e-6, land on either side), 91.5 %
// or 10 % for two seeds at 800 images × 10 epochs. At lr 0.05 it leaves the plateau within 2 epochs
// for every seed and rounding tried (seeds 1, 2 and lr 0.025: 75–80 % test accuracy at 8–10 epochs),
// so the test measures the dataset, not luck. The skip and pool networks stay near chance (10 %).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { WebGpuBackend } from '../../src/engine/webgpu/webgpu-backend.js';
import type { Backend } from '../../src/engine/backend.js';
import { trainStandalone } from '../../src/search/standalone.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler, evalBatches } from '../../src/data/sampler.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';

const ON_CPU = process.env.GMNAS_LEARNABILITY_CPU === '1';
const C = 8, N = 1, TRAIN = 400, TEST = 200, EPOCHS = 8, BATCH = 32, SEED = 1, LR = 0.05;
const CONV = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|';
const SKIP = '|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|';
const POOL = '|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|avg_pool_3x3~1|avg_pool_3x3~2|';

async function testAccuracy(be: Backend, genotype: string): Promise<{ accuracy: number; seconds: number }> {
  const t0 = Date.now();
  const train = generateSynthetic({ split: 'train', size: TRAIN });
  const testSet = generateSynthetic({ split: 'test', size: TEST });
  const sampler = new BatchSampler(train, { batchSize: BATCH, seed: SEED });
  const { network, history } = await trainStandalone({
    backend: be, seed: SEED, imageShape: [3, 32, 32], train: sampler, stepsPerEpoch: sampler.batchesPerEpoch,
    network: { genotype: parseGenotype(genotype), C, N, inputChannels: 3, numClasses: 10 },
    hyper: { epochs: EPOCHS, batchSize: BATCH, lr: LR }, evaluate: () => evalBatches(testSet, 100),
  });
  network.dispose();
  return { accuracy: history[history.length - 1].eval!.accuracy, seconds: (Date.now() - t0) / 1000 };
}

test('all-nor_conv_3x3 cells beat all-skip and skip/avg-pool cells by > 10 points', async () => {
  const be: Backend = ON_CPU ? new CpuBackend() : await WebGpuBackend.create();
  const conv = await testAccuracy(be, CONV);
  const skip = await testAccuracy(be, SKIP);
  const pool = await testAccuracy(be, POOL);
  be.dispose();
  console.log(`  test accuracy: conv ${conv.accuracy.toFixed(1)} % (${conv.seconds.toFixed(0)} s), skip ${skip.accuracy.toFixed(1)} % ` +
    `(${skip.seconds.toFixed(0)} s), skip/pool ${pool.accuracy.toFixed(1)} % (${pool.seconds.toFixed(0)} s)`);
  assert.ok(conv.accuracy >= 25, `conv network ${conv.accuracy} % should be well above chance (10 %)`);
  assert.ok(conv.accuracy >= skip.accuracy + 10, `conv ${conv.accuracy} % vs skip ${skip.accuracy} %`);
  assert.ok(conv.accuracy >= pool.accuracy + 10, `conv ${conv.accuracy} % vs skip/pool ${pool.accuracy} %`);
});

test.run();
