// The autograd machinery itself: topological order on DAGs with fan-out, accumulation, noGrad,
// release of saved tensors, clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import {
  Tensor, tidy, noGrad, backward, add, mul, mulScalar, relu, sum, conv2d, batchNorm, crossEntropy, linear, globalAvgPool,
} from '../../src/engine/index.js';

const be = new CpuBackend();

test('diamond DAG: d/dx of (x·x + 3x)·x = 3x² + 6x, gradients from every path accumulate', async () => {
  const x = Tensor.fromArray(be, [1, -2, 0.5], [3]).param('x');
  tidy(() => {
    const a = mul(x, x);            // x used twice here
    const b = mulScalar(x, 3);      // and again here
    const y = mul(add(a, b), x);    // and once more
    backward(sum(y));
  });
  const g = await x.grad!.data();
  [1, -2, 0.5].forEach((v, i) => assert.ok(Math.abs(g[i] - (3 * v * v + 6 * v)) < 1e-5, `x=${v}: ${g[i]}`));
});

test('a deep chain does not overflow the stack (iterative topological sort)', async () => {
  const x = Tensor.fromArray(be, [0.5], [1]).param();
  tidy(() => {
    let h = x;
    for (let i = 0; i < 20000; i++) h = mulScalar(h, 1);
    backward(sum(h));
  });
  assert.is((await x.grad!.data())[0], 1);
});

test('gradients accumulate across backward calls until zeroed', async () => {
  const x = Tensor.fromArray(be, [2], [1]).param();
  for (let k = 0; k < 3; k++) tidy(() => backward(sum(mul(x, x))));
  assert.is((await x.grad!.data())[0], 12);
});

test('noGrad records nothing; a graph without trainable leaves cannot be back-propagated', () => {
  const x = Tensor.fromArray(be, [1, 2], [2]).param();
  const y = noGrad(() => relu(x));
  assert.is(y.node, null);
  assert.throws(() => backward(sum(y)), /does not depend on any tensor that requires grad/);
});

test('back-propagating again through a consumed graph is a clear error', () => {
  const x = Tensor.fromArray(be, [1, 2], [2]).param();
  const y = relu(x);
  const z = mul(y, y);        // recorded before the first backward: holds y as input
  backward(sum(y));           // consumes y's node
  assert.is(y.node, null);
  assert.throws(() => backward(sum(z)), /already consumed/);
});

test('non-scalar roots need a seed; shapes in the message', () => {
  const x = Tensor.fromArray(be, [1, 2], [2]).param();
  assert.throws(() => backward(relu(x)), /\[2\]/);
});

test('saved tensors are released: memory returns to baseline after a training step', async () => {
  const rngW = Float32Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.sin(i));
  const w = Tensor.fromArray(be, rngW, [4, 3, 3, 3]).param();
  const fcw = Tensor.fromArray(be, Float32Array.from({ length: 10 * 4 }, (_, i) => Math.cos(i)), [10, 4]).param();
  const x = Tensor.fromArray(be, Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 8, 8]);
  const y = Tensor.fromArray(be, [1, 7], [2]);
  const step = () => tidy(() => {
    const h = relu(batchNorm(conv2d(x, w, null, { padding: 1 }), { gamma: null, beta: null, runningMean: null, runningVar: null, training: true }));
    const loss = crossEntropy(linear(globalAvgPool(h), fcw), y);
    backward(loss);
  });
  step();
  const base = be.memoryStats().liveBytes; // now includes the two gradients
  for (let k = 0; k < 5; k++) {
    w.grad!.dispose(); w.grad = null; fcw.grad!.dispose(); fcw.grad = null;
    step();
    assert.is(be.memoryStats().liveBytes, base, `step ${k}: live bytes ${be.memoryStats().liveBytes} vs ${base}`);
  }
});

test('use after dispose names the tensor', () => {
  const t = Tensor.fromArray(be, [1], [1]);
  t.name = 'alpha';
  t.dispose();
  assert.throws(() => relu(t), /alpha.*after dispose/);
});

test('shape errors name the op and the shapes', () => {
  const a = Tensor.zeros(be, [2, 3]), b = Tensor.zeros(be, [3, 2]);
  assert.throws(() => add(a, b), /add: shapes \[2, 3\] and \[3, 2\]/);
  const x = Tensor.zeros(be, [1, 3, 5, 5]), w = Tensor.zeros(be, [4, 2, 3, 3]);
  assert.throws(() => conv2d(x, w), /conv2d\(input \[1, 3, 5, 5\], weight \[4, 2, 3, 3\]\).*3 channels/);
  assert.throws(() => linear(Tensor.zeros(be, [2, 5]), Tensor.zeros(be, [3, 4])), /linear:.*5 features/);
});

test.run();
