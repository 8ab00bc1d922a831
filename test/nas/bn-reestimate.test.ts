// reestimateBatchNorm (src/nas/bn-recalibrate.ts) on a stand-alone network, as
// experiments/bn-eval-noise.mjs uses it: every BN's running mean / variance become the plain average
// over the batches of the per-channel batch mean / unbiased variance (counted here on the host, not by
// the engine), whatever the statistics were before; the BN momentum and the train/eval mode are
// restored afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor } from '../../src/engine/index.js';
import { BatchNorm2d, Sequential } from '../../src/engine/nn/layers.js';
import { reestimateBatchNorm } from '../../src/nas/bn-recalibrate.js';
import { Rng } from '../../src/data/rng.js';

const be = new CpuBackend();

test('reestimateBatchNorm: running statistics = plain average of the batch statistics', async () => {
  const C = 3, H = 4, W = 4, n = 5, K = 4;
  const bn = new BatchNorm2d(be, C);
  const net = new Sequential(bn);
  const rng = new Rng(7);
  // statistics that differ from the batches': one training-mode pass on shifted data first
  const shifted = Tensor.fromArray(be, Array.from({ length: n * C * H * W }, () => 10 + rng.next()), [n, C, H, W]);
  net.train(true);
  net.forward(shifted).dispose();
  net.eval();
  const host = Array.from({ length: K }, (_, k) => Float32Array.from({ length: n * C * H * W }, (_, i) => (rng.next() - 0.5) * (1 + k) + (i % 7) * 0.1));
  const batches = host.map((x) => ({ x: Tensor.fromArray(be, x, [n, C, H, W]), y: Tensor.zeros(be, [n]), n }));
  reestimateBatchNorm(net, (x) => { net.forward(x); }, batches);
  const mean = new Float64Array(C), vr = new Float64Array(C);
  const cnt = n * H * W;
  for (const x of host) {
    for (let c = 0; c < C; c++) {
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < H * W; j++) { const t = x[(i * C + c) * H * W + j]!; s += t; s2 += t * t; }
      const mu = s / cnt;
      mean[c] += mu / K;
      vr[c] += (s2 - cnt * mu * mu) / (cnt - 1) / K;
    }
  }
  const rm = await bn.runningMean!.data(), rv = await bn.runningVar!.data();
  for (let c = 0; c < C; c++) {
    assert.ok(Math.abs(rm[c]! - mean[c]!) < 1e-5, `running mean ${c}: ${rm[c]} vs ${mean[c]}`);
    assert.ok(Math.abs(rv[c]! - vr[c]!) < 1e-4 * (1 + vr[c]!), `running var ${c}: ${rv[c]} vs ${vr[c]}`);
  }
  assert.is(bn.momentum, 0.1);
  assert.is(bn.cumulativeAverage, false);
  assert.is(net.training, false);
  for (const b of batches) { b.x.dispose(); b.y.dispose(); }
  shifted.dispose();
});

test.run();
