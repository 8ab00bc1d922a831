// End-to-end: a small CNN learns a generated task to > 90 % train accuracy in 200 SGD steps on both
// backends, and device memory stays flat over a 500-step loop (pool statistics).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testBackends } from '../helpers/backends.js';
import type { Backend } from '../../src/engine/backend.js';
import {
  Tensor, tidy, backward, relu, crossEntropy, correctCount, globalAvgPool, maxPool2d, Rng,
  Conv2d, BatchNorm2d, Linear, SGD, clipGradNorm, Module,
} from '../../src/engine/index.js';

/** Task: 12×12 one-channel images with a bright bar that is horizontal (class 0), vertical (1),
 *  diagonal (2) or anti-diagonal (3), at a random position, on noise. Needs spatial filters. */
function makeTask(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed), S = 12;
  const x = new Float32Array(n * S * S), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 4; y[i] = c;
    const r0 = 2 + rng.int(S - 4), c0 = 2 + rng.int(S - 4);
    for (let p = 0; p < S * S; p++) x[i * S * S + p] = 0.3 * rng.normal();
    for (let t = -2; t <= 2; t++) {
      const [r, cc] = c === 0 ? [r0, c0 + t] : c === 1 ? [r0 + t, c0] : c === 2 ? [r0 + t, c0 + t] : [r0 + t, c0 - t];
      if (r >= 0 && r < S && cc >= 0 && cc < S) x[i * S * S + r * S + cc] += 1.5;
    }
  }
  return { x, y };
}

class SmallCnn extends Module {
  c1: Conv2d; b1: BatchNorm2d; c2: Conv2d; b2: BatchNorm2d; fc: Linear;
  constructor(be: Backend, rng: Rng) {
    super();
    this.c1 = this.child('c1', new Conv2d(be, rng, 1, 8, 3, { padding: 1 }));
    this.b1 = this.child('b1', new BatchNorm2d(be, 8));
    this.c2 = this.child('c2', new Conv2d(be, rng, 8, 16, 3, { padding: 1 }));
    this.b2 = this.child('b2', new BatchNorm2d(be, 16));
    this.fc = this.child('fc', new Linear(be, rng, 16, 4));
  }
  forward(x: Tensor): Tensor {
    let h = relu(this.b1.forward(this.c1.forward(x)));
    h = maxPool2d(h, { kernel: 2 });
    h = relu(this.b2.forward(this.c2.forward(h)));
    return this.fc.forward(globalAvgPool(h));
  }
}

async function trainSteps(be: Backend, steps: number, onStep?: (k: number) => void): Promise<number> {
  const data = makeTask(256, 5);
  const model = new SmallCnn(be, new Rng(1));
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  const B = 32, S = 12;
  const xs: Tensor[] = [], ys: Tensor[] = [];
  for (let b = 0; b < 256 / B; b++) {
    xs.push(Tensor.fromArray(be, data.x.subarray(b * B * S * S, (b + 1) * B * S * S), [B, 1, S, S]));
    ys.push(Tensor.fromArray(be, data.y.subarray(b * B, (b + 1) * B), [B]));
  }
  for (let k = 0; k < steps; k++) {
    const b = k % xs.length;
    tidy(() => {
      opt.zeroGrad();
      backward(crossEntropy(model.forward(xs[b]), ys[b]));
      clipGradNorm(model.parameters(), 5);
      opt.step();
    });
    onStep?.(k);
    if (k % 50 === 49) await be.sync(); // let the queue drain now and then, as a real loop's logging would
  }
  model.eval();
  let correct = 0;
  for (let b = 0; b < xs.length; b++) {
    const c = tidy(() => correctCount(model.forward(xs[b]), ys[b]));
    correct += (await c.data())[0];
    c.dispose();
  }
  for (const t of [...xs, ...ys]) t.dispose();
  opt.dispose();
  model.dispose();
  return correct / 256;
}

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

test('small CNN reaches > 90 % train accuracy in 200 steps (CPU backend)', async () => {
  const acc = await trainSteps(cpu, 200);
  console.log(`  cpu train accuracy ${(acc * 100).toFixed(1)} %`);
  assert.ok(acc > 0.9, `accuracy ${acc}`);
});

test('small CNN reaches > 90 % train accuracy in 200 steps (WebGPU backend)', async () => {
  if (!gpu) return;
  const acc = await trainSteps(gpu, 200);
  console.log(`  webgpu train accuracy ${(acc * 100).toFixed(1)} %`);
  assert.ok(acc > 0.9, `accuracy ${acc}`);
});

test('device memory stays flat over a 500-step training loop (WebGPU pool statistics)', async () => {
  const be = gpu ?? cpu;
  let createdAt50 = 0, liveAt50 = 0, peakAt50 = 0;
  const live: number[] = [];
  await trainSteps(be, 500, (k) => {
    const s = be.memoryStats();
    if (k === 49) { createdAt50 = s.created; liveAt50 = s.liveBytes; peakAt50 = s.peakBytes; }
    if (k >= 49) live.push(s.liveBytes);
  });
  const s = be.memoryStats();
  console.log(`  ${be.kind}: buffers created after step 50: ${createdAt50}, at the end: ${s.created}; peak ${peakAt50} → ${s.peakBytes} bytes`);
  assert.ok(live.every((v) => v === liveAt50), `live bytes drifted: ${Math.min(...live)}..${Math.max(...live)}`);
  // eval at the end allocates a few new shapes; training itself must not create buffers after warm-up
  assert.ok(s.created - createdAt50 <= 8, `buffers created during steps 50-500: ${s.created - createdAt50}`);
  assert.ok(s.peakBytes <= peakAt50 * 1.05 + 65536, `peak grew from ${peakAt50} to ${s.peakBytes}`);
});

test.run();
