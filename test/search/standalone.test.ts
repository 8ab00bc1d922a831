// Stand-alone training of one genotype: the NB201 preset, a learnable task learned, per-epoch cosine
// learning rates, and evaluation agreeing with a direct count.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, noGrad } from '../../src/engine/index.js';
import { trainStandalone, evaluateNetwork, DEFAULT_STANDALONE_PRESET, resolveStandaloneHyper, type HostBatch } from '../../src/search/index.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { Rng } from '../../src/data/rng.js';

const be = new CpuBackend();

/** 4 classes told apart by which image quadrant is bright. */
function task(seed: number, n: number): HostBatch {
  const r = new Rng(seed);
  const y = new Float32Array(n).map(() => r.int(4));
  const x = new Float32Array(n * 8 * 8);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 64; p++) {
      const quadrant = (p >= 32 ? 2 : 0) + (p % 8 >= 4 ? 1 : 0);
      x[i * 64 + p] = 0.5 * r.normal() + (quadrant === y[i] ? 1.5 : 0);
    }
  }
  return { x, y, n };
}

test('the NB201 stand-alone preset is ADL 200E', () => {
  assert.equal({ ...DEFAULT_STANDALONE_PRESET }, { epochs: 200, batchSize: 256, lr: 0.1, lrMin: 0, momentum: 0.9, nesterov: true, weightDecay: 5e-4, gradClip: 0 });
  assert.throws(() => resolveStandaloneHyper({ epochs: 0 }), /epochs must be a positive integer/);
});

test('trains a genotype to well above chance; evaluation matches a direct count', async () => {
  let k = 0;
  const train = { next: () => task(100 + (k++ % 8), 16) };
  const test1 = [task(1, 32), task(2, 32)];
  const lrs: number[] = [];
  const { network, history } = await trainStandalone({
    backend: be, seed: 1, imageShape: [1, 8, 8], train, stepsPerEpoch: 8,
    network: { genotype: parseGenotype('|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|'), C: 4, N: 1, inputChannels: 1, numClasses: 4 },
    hyper: { epochs: 4, lr: 0.05 }, evaluate: test1, onEpoch: (e) => lrs.push(e.lr),
  });
  assert.is(history.length, 4);
  assert.equal(lrs, [0, 1, 2, 3].map((e) => 0.05 * (1 + Math.cos(Math.PI * e / 4)) / 2));
  const final = history[3].eval!;
  assert.ok(final.accuracy >= 75, `test accuracy ${final.accuracy}`);
  // direct count in eval mode
  network.eval();
  let correct = 0;
  for (const b of test1) {
    const logits = await tidy(() => noGrad(() => network.forward(Tensor.fromArray(be, b.x, [b.n, 1, 8, 8])))).data();
    for (let i = 0; i < b.n; i++) {
      const row = Array.from(logits.slice(i * 4, i * 4 + 4));
      if (row.indexOf(Math.max(...row)) === b.y[i]) correct++;
    }
  }
  assert.ok(Math.abs(final.accuracy - (100 * correct) / 64) < 1e-9);
  const again = await evaluateNetwork(network, test1, [1, 8, 8]);
  assert.equal(again, final);
  network.dispose();
});

test.run();
