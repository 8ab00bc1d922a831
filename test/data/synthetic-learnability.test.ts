// Issue [nb201] item 1: on the built-in synthetic dataset, architecture matters — a stand-alone NB201
// network whose cells are all nor_conv_3x3 beats networks whose cells only skip or average-pool, by a
// clear margin, with the same seed, data and training (NB201 stand-alone recipe: nesterov SGD 0.1,
// cosine, wd 5e-4; C = 8, N = 1, no augmentation). Runs on the WebGPU backend (lavapipe in CI),
// where the three trainings take seconds; GMNAS_LEARNABILITY_CPU=1 runs them on the CPU reference.
//
// Cost: the label lives in local orientation/frequency (second-order statistics; see synthetic.ts), so
// every network first sits at chance for ~1000 image passes; the conv network pulls away after that.
// Measured at 4 epochs on the CPU backend: conv 32.5 %, all-skip 14.0 %,
// skip/avg-pool 12.0 % (chance 10 %); at the 8 epochs used here on lavapipe: conv 53.5 %, skip 13.5 %, skip/pool 10.0 %. At ~600 passes — what 60 s of CPU buys for the
// conv network (~75 ms per image forward+backward on the reference kernels) — no network is above
// chance yet. On the CPU the three networks take ~2 min of an idle core, hence WebGPU by default.
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
const C = 8, N = 1, TRAIN = 400, TEST = 200, EPOCHS = 8, BATCH = 32, SEED = 1;
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
    hyper: { epochs: EPOCHS, batchSize: BATCH }, evaluate: () => evalBatches(testSet, 100),
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
