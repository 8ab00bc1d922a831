// The CPU kernels against PyTorch: test/goldens/*.json hold inputs, outputs and gradients written
// by scripts/goldens/make_goldens.py (torch, float64 from float32 inputs). No Python is needed here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { convOutSize } from '../../src/engine/backend.js';
import type { BatchNormGeom, ConvGeom, PoolGeom, Storage } from '../../src/engine/backend.js';

// the compiled test runs from dist/test/engine/
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RTOL = 1e-4, ATOL = 1e-5;

interface GoldenTensor { shape: number[]; data: number[] }
interface GoldenCase { name: string; tensors: Record<string, GoldenTensor>; [param: string]: unknown }
interface GoldenFile { torch_version: string; generator: string; cases: GoldenCase[] }

function load(name: string): GoldenFile {
  const path = join(root, 'test', 'goldens', `${name}.json`);
  const doc = JSON.parse(readFileSync(path, 'utf8')) as GoldenFile;
  if (!doc.torch_version || !Array.isArray(doc.cases) || doc.cases.length === 0) {
    throw new Error(`${path}: not a golden file (needs torch_version and cases)`);
  }
  return doc;
}

function tensor(c: GoldenCase, name: string): GoldenTensor {
  const t = c.tensors[name];
  if (!t) throw new Error(`golden case "${c.name}" has no tensor "${name}"`);
  return t;
}

const be = new CpuBackend();
const up = (c: GoldenCase, name: string): Storage => be.upload(Float32Array.from(tensor(c, name).data));

async function expectClose(label: string, s: Storage, expected: GoldenTensor | number[]): Promise<void> {
  const want = Array.isArray(expected) ? expected : expected.data;
  const got = await be.read(s, want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = ATOL + RTOL * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      assert.unreachable(`${label}[${i}]: got ${got[i]}, PyTorch ${want[i]} (tol ${tol.toExponential(2)})`);
    }
  }
}

test('golden files record the torch version', () => {
  for (const name of ['conv2d', 'batch_norm', 'pool2d', 'softmax', 'cross_entropy', 'optim', 'relu6']) {
    assert.match(load(name).torch_version, /^\d+\.\d+/, name);
  }
});

for (const c of load('conv2d').cases) {
  test(`conv2d vs PyTorch: ${c.name}`, async () => {
    const [N, Cin, H, W] = tensor(c, 'x').shape;
    const [Cout, , KH, KW] = tensor(c, 'w').shape;
    const s = c.stride as number, p = c.padding as number, d = c.dilation as number;
    const g: ConvGeom = {
      N, Cin, H, W, Cout, KH, KW, OH: convOutSize(H, KH, s, p, d), OW: convOutSize(W, KW, s, p, d),
      strideH: s, strideW: s, padH: p, padW: p, dilH: d, dilW: d, groups: c.groups as number,
    };
    assert.equal([N, Cout, g.OH, g.OW], tensor(c, 'y').shape, 'output shape');
    const x = up(c, 'x'), w = up(c, 'w'), b = c.bias ? up(c, 'b') : null, dy = up(c, 'dy');
    const y = be.alloc(N * Cout * g.OH * g.OW), dx = be.alloc(N * Cin * H * W), dw = be.alloc(w.length);
    be.conv2d(x, w, b, y, g);
    await expectClose('y', y, tensor(c, 'y'));
    be.conv2dInputGrad(dy, w, dx, g);
    await expectClose('dx', dx, tensor(c, 'dx'));
    be.conv2dWeightGrad(dy, x, dw, g);
    await expectClose('dw', dw, tensor(c, 'dw'));
    if (b) {
      const db = be.alloc(Cout);
      be.channelSum(dy, db, { N, C: Cout, HW: g.OH * g.OW });
      await expectClose('db', db, tensor(c, 'db'));
    }
  });
}

for (const c of load('batch_norm').cases) {
  test(`batch norm vs PyTorch: ${c.name}`, async () => {
    const [N, C, H, W] = tensor(c, 'x').shape;
    const g: BatchNormGeom = { N, C, HW: H * W, eps: c.eps as number, momentum: c.momentum as number };
    const n = N * C * H * W;
    const x = up(c, 'x'), dy = up(c, 'dy'), rm = up(c, 'running_mean'), rv = up(c, 'running_var');
    const gamma = c.affine ? up(c, 'gamma') : null, beta = c.affine ? up(c, 'beta') : null;
    const y = be.alloc(n), dx = be.alloc(n);
    const dgamma = c.affine ? be.alloc(C) : null, dbeta = c.affine ? be.alloc(C) : null;
    if (c.training) {
      const mean = be.alloc(C), invStd = be.alloc(C);
      be.batchNormTrain(x, gamma, beta, y, mean, invStd, rm, rv, g);
      await expectClose('y', y, tensor(c, 'y'));
      await expectClose('saveMean', mean, tensor(c, 'save_mean'));
      await expectClose('saveInvStd', invStd, tensor(c, 'save_inv_std'));
      await expectClose('running mean', rm, tensor(c, 'new_running_mean'));
      await expectClose('running var', rv, tensor(c, 'new_running_var'));
      be.batchNormBackward(dy, x, gamma, mean, invStd, dx, dgamma, dbeta, g);
    } else {
      be.batchNormEval(x, gamma, beta, rm, rv, y, g);
      await expectClose('y', y, tensor(c, 'y'));
      be.batchNormEvalBackward(dy, x, gamma, rm, rv, dx, dgamma, dbeta, g);
    }
    await expectClose('dx', dx, tensor(c, 'dx'));
    if (dgamma && dbeta) {
      await expectClose('dgamma', dgamma, tensor(c, 'dgamma'));
      await expectClose('dbeta', dbeta, tensor(c, 'dbeta'));
    }
  });
}

for (const c of load('pool2d').cases) {
  test(`pool2d vs PyTorch: ${c.name}`, async () => {
    const [N, C, H, W] = tensor(c, 'x').shape;
    const k = c.kernel as number, s = c.stride as number, p = c.padding as number;
    const g: PoolGeom = {
      kind: c.kind as 'avg' | 'max', N, C, H, W, KH: k, KW: k, strideH: s, strideW: s, padH: p, padW: p,
      OH: convOutSize(H, k, s, p), OW: convOutSize(W, k, s, p), countIncludePad: c.count_include_pad as boolean,
    };
    assert.equal([N, C, g.OH, g.OW], tensor(c, 'y').shape, 'output shape');
    const x = up(c, 'x'), dy = up(c, 'dy'), y = be.alloc(N * C * g.OH * g.OW), dx = be.alloc(x.length);
    be.pool2d(x, y, g);
    await expectClose('y', y, tensor(c, 'y'));
    be.pool2dBackward(dy, x, dx, g);
    await expectClose('dx', dx, tensor(c, 'dx'));
  });
}

for (const c of load('softmax').cases) {
  test(`softmax vs PyTorch: ${c.name}`, async () => {
    const [rows, cols] = tensor(c, 'x').shape;
    const g = { rows, cols }, log = c.log as boolean;
    const x = up(c, 'x'), dy = up(c, 'dy'), y = be.alloc(rows * cols), dx = be.alloc(rows * cols);
    be.softmax(x, y, g, log);
    await expectClose('y', y, tensor(c, 'y'));
    be.softmaxBackward(dy, y, dx, g, log);
    await expectClose('dx', dx, tensor(c, 'dx'));
  });
}

for (const c of load('cross_entropy').cases) {
  test(`cross entropy vs PyTorch: ${c.name}`, async () => {
    const [rows, cols] = tensor(c, 'logits').shape;
    const g = { rows, cols }, smoothing = c.label_smoothing as number;
    const logits = up(c, 'logits'), labels = up(c, 'labels'), dloss = up(c, 'dloss');
    const loss = be.alloc(1), probs = be.alloc(rows * cols), dlogits = be.alloc(rows * cols);
    be.crossEntropy(logits, labels, loss, probs, g, smoothing);
    await expectClose('loss', loss, tensor(c, 'loss'));
    await expectClose('probs', probs, tensor(c, 'probs'));
    be.crossEntropyBackward(probs, labels, dloss, dlogits, g, smoothing);
    await expectClose('dlogits', dlogits, tensor(c, 'dlogits'));
  });
}

for (const c of load('optim').cases) {
  test(`optimizer vs torch.optim: ${c.name}`, async () => {
    const param = up(c, 'param0');
    const n = param.length, steps = c.steps as number;
    const grads = tensor(c, 'grads').data, after = tensor(c, 'params_after').data;
    assert.is(grads.length, steps * n, 'grads shape');
    const state1 = be.alloc(n), state2 = be.alloc(n);
    be.fill(state1, 0, n);
    be.fill(state2, 0, n);
    for (let t = 0; t < steps; t++) {
      const grad = be.upload(Float32Array.from(grads.slice(t * n, (t + 1) * n)));
      if (c.optimizer === 'sgd') {
        be.sgdStep(param, grad, state1, n, {
          lr: c.lr as number, momentum: c.momentum as number, dampening: c.dampening as number,
          nesterov: c.nesterov as boolean, weightDecay: c.weight_decay as number,
        });
      } else {
        be.adamStep(param, grad, state1, state2, n, {
          lr: c.lr as number, beta1: c.beta1 as number, beta2: c.beta2 as number, eps: c.eps as number,
          weightDecay: c.weight_decay as number, step: t + 1,
        });
      }
      be.release(grad);
      await expectClose(`params after step ${t + 1}`, param, after.slice(t * n, (t + 1) * n));
    }
  });
}

// ReLU6 (scripts/goldens/make_mobilenet_goldens.py): x holds 0 and 6 exactly, where PyTorch's
// gradient is 0 (hardtanh's rule), and values on both clipped sides
for (const c of load('relu6').cases) {
  test(`relu6 vs PyTorch: ${c.name}`, async () => {
    const n = tensor(c, 'x').data.length;
    const x = up(c, 'x'), dy = up(c, 'dy'), y = be.alloc(n), dx = be.alloc(n);
    be.relu6(x, y, n);
    await expectClose('relu6 y', y, tensor(c, 'y'));
    be.relu6Backward(dy, x, dx, n);
    await expectClose('relu6 dx', dx, tensor(c, 'dx'));
  });
}

test.run();
