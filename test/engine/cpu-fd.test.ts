// Finite-difference checks of every backward kernel of the CPU backend.
//
// Each check projects a kernel's output on a fixed random vector r to get a scalar loss
// L(x) = sum_i r_i * y_i(x), runs the backward kernel with dy = r, and compares each gradient entry
// with the f64 central difference (L(x + e) - L(x - e)) / (x+e - (x-e)) where the perturbed inputs
// are the f32 values actually stored. Linear kernels (conv, pooling, matmul) use a large step, which
// is exact up to rounding; smooth non-linear ones use 1e-2..1e-3; piecewise ones (relu, max pool)
// use inputs kept well away from their kinks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Rng } from '../../src/engine/rng.js';
import { convOutSize } from '../../src/engine/backend.js';
import type { BatchNormGeom, ConvGeom, PoolGeom, Storage } from '../../src/engine/backend.js';

const be = new CpuBackend();
const rng = new Rng(20240611);

function randn(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

async function projected(out: Storage, r: Float32Array): Promise<number> {
  const y = await be.read(out, r.length);
  let s = 0;
  for (let i = 0; i < r.length; i++) s += r[i] * y[i];
  return s;
}

interface FdCase {
  name: string;
  /** the storage being perturbed and its current contents */
  input: Storage;
  values: Float32Array;
  /** runs the forward kernel(s) so that `out` holds the output for the current input */
  forward: () => void;
  out: Storage;
  r: Float32Array;
  /** gradient from the backward kernel with dy = r */
  analytic: Float32Array;
  eps: number;
  rtol?: number;
  atol?: number;
}

/** Compares the analytic gradient with central differences on every input entry. */
async function fdCheck(c: FdCase): Promise<void> {
  const rtol = c.rtol ?? 2e-3, atol = c.atol ?? 1e-4;
  assert.is(c.analytic.length, c.values.length, `${c.name}: gradient length`);
  let gradScale = 0;
  for (const v of c.analytic) gradScale = Math.max(gradScale, Math.abs(v));
  for (let j = 0; j < c.values.length; j++) {
    const v = c.values[j];
    const plus = Math.fround(v + c.eps), minus = Math.fround(v - c.eps);
    be.write(c.input, new Float32Array([plus]), j);
    c.forward();
    const lp = await projected(c.out, c.r);
    be.write(c.input, new Float32Array([minus]), j);
    c.forward();
    const lm = await projected(c.out, c.r);
    be.write(c.input, new Float32Array([v]), j);
    const fd = (lp - lm) / (plus - minus);
    const a = c.analytic[j];
    const tol = atol * Math.max(1, gradScale) + rtol * Math.max(Math.abs(a), Math.abs(fd));
    if (!(Math.abs(a - fd) <= tol)) {
      assert.unreachable(`${c.name}: d/dx[${j}] analytic ${a} vs finite difference ${fd} (tol ${tol.toExponential(2)})`);
    }
  }
  c.forward(); // leave the output consistent with the restored input
}

async function backwardOf(run: (dy: Storage, out: Storage) => void, dyValues: Float32Array, n: number): Promise<Float32Array> {
  const dy = be.upload(dyValues), out = be.alloc(n);
  run(dy, out);
  const v = await be.read(out, n);
  be.release(dy); be.release(out);
  return v;
}

// ---- convolution -----------------------------------------------------------------------------

function convGeom(N: number, Cin: number, H: number, W: number, Cout: number, K: number,
  o: { stride?: number; pad?: number; dil?: number; groups?: number; KW?: number } = {}): ConvGeom {
  const stride = o.stride ?? 1, pad = o.pad ?? 0, dil = o.dil ?? 1, KW = o.KW ?? K;
  return {
    N, Cin, H, W, Cout, KH: K, KW,
    OH: convOutSize(H, K, stride, pad, dil), OW: convOutSize(W, KW, stride, pad, dil),
    strideH: stride, strideW: stride, padH: pad, padW: pad, dilH: dil, dilW: dil, groups: o.groups ?? 1,
  };
}

const convCases: [string, ConvGeom, boolean][] = [
  ['3x3 pad 1, odd 5x7 input', convGeom(2, 3, 5, 7, 4, 3, { pad: 1 }), true],
  ['3x3 stride 2 pad 1 on 7x6', convGeom(2, 2, 7, 6, 3, 3, { stride: 2, pad: 1 }), false],
  ['3x3 dilation 2 pad 2', convGeom(1, 2, 7, 7, 2, 3, { pad: 2, dil: 2 }), true],
  ['groups 2, 1x3 kernel', convGeom(2, 4, 5, 5, 6, 1, { KW: 3, groups: 2, pad: 1 }), true],
  ['depthwise 3x3 stride 2', convGeom(2, 4, 6, 5, 4, 3, { stride: 2, pad: 1, groups: 4 }), false],
  ['1x1 no padding', convGeom(3, 3, 4, 3, 5, 1), true],
  ['5x5 pad 2 dilation 1 stride 3', convGeom(1, 2, 8, 9, 3, 5, { stride: 3, pad: 2 }), true],
];

for (const [label, g, withBias] of convCases) {
  test(`conv2d gradients: ${label}`, async () => {
    const xN = g.N * g.Cin * g.H * g.W, wN = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
    const yN = g.N * g.Cout * g.OH * g.OW;
    const xv = randn(xN), wv = randn(wN, 0.5), bv = randn(g.Cout), r = randn(yN);
    const x = be.upload(xv), w = be.upload(wv), b = withBias ? be.upload(bv) : null, y = be.alloc(yN);
    const forward = () => be.conv2d(x, w, b, y, g);
    forward();
    const dx = await backwardOf((dy, out) => be.conv2dInputGrad(dy, w, out, g), r, xN);
    const dw = await backwardOf((dy, out) => be.conv2dWeightGrad(dy, x, out, g), r, wN);
    await fdCheck({ name: `${label} dx`, input: x, values: xv, forward, out: y, r, analytic: dx, eps: 0.25 });
    await fdCheck({ name: `${label} dw`, input: w, values: wv, forward, out: y, r, analytic: dw, eps: 0.25 });
    if (b) {
      const db = await backwardOf((dy, out) => be.channelSum(dy, out, { N: g.N, C: g.Cout, HW: g.OH * g.OW }), r, g.Cout);
      await fdCheck({ name: `${label} dbias`, input: b, values: bv, forward, out: y, r, analytic: db, eps: 0.25 });
      be.release(b);
    }
    be.release(x); be.release(w); be.release(y);
  });
}

// ---- batch norm ------------------------------------------------------------------------------

for (const affine of [true, false]) {
  test(`batchNormBackward (affine ${affine}) matches finite differences of batchNormTrain`, async () => {
    const g: BatchNormGeom = { N: 3, C: 2, HW: 5, eps: 1e-5, momentum: 0.1 };
    const n = g.N * g.C * g.HW;
    const xv = randn(n), gv = new Float32Array([1.3, -0.7]), bv = new Float32Array([0.2, -0.4]), r = randn(n);
    for (let i = 0; i < n; i++) xv[i] += 0.5; // a non-zero mean
    const x = be.upload(xv), gamma = affine ? be.upload(gv) : null, beta = affine ? be.upload(bv) : null;
    const y = be.alloc(n), mean = be.alloc(g.C), invStd = be.alloc(g.C);
    const forward = () => be.batchNormTrain(x, gamma, beta, y, mean, invStd, null, null, g);
    forward();
    const dgS = be.alloc(g.C), dbS = be.alloc(g.C);
    const dx = await backwardOf((dy, out) => be.batchNormBackward(dy, x, gamma, mean, invStd, out,
      affine ? dgS : null, affine ? dbS : null, g), r, n);
    await fdCheck({ name: 'bn dx', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 1e-2, rtol: 5e-3, atol: 5e-4 });
    if (gamma && beta) {
      const dgamma = await be.read(dgS, g.C), dbeta = await be.read(dbS, g.C);
      await fdCheck({ name: 'bn dgamma', input: gamma, values: gv, forward, out: y, r, analytic: dgamma, eps: 1e-2 });
      await fdCheck({ name: 'bn dbeta', input: beta, values: bv, forward, out: y, r, analytic: dbeta, eps: 1e-2 });
    }
  });
}

for (const affine of [true, false]) {
  test(`batchNormEvalBackward (affine ${affine}) matches finite differences of batchNormEval`, async () => {
    const g: BatchNormGeom = { N: 2, C: 3, HW: 4, eps: 1e-5, momentum: 0.1 };
    const n = g.N * g.C * g.HW;
    const xv = randn(n), r = randn(n);
    const gv = new Float32Array([0.8, 1.5, -1.1]), bv = new Float32Array([0.1, 0.0, -0.3]);
    const rm = be.upload(new Float32Array([0.3, -0.2, 0.05])), rv = be.upload(new Float32Array([0.5, 2.0, 1.2]));
    const x = be.upload(xv), gamma = affine ? be.upload(gv) : null, beta = affine ? be.upload(bv) : null;
    const y = be.alloc(n);
    const forward = () => be.batchNormEval(x, gamma, beta, rm, rv, y, g);
    forward();
    const dgS = be.alloc(g.C), dbS = be.alloc(g.C);
    const dx = await backwardOf((dy, out) => be.batchNormEvalBackward(dy, x, gamma, rm, rv, out,
      affine ? dgS : null, affine ? dbS : null, g), r, n);
    await fdCheck({ name: 'bn eval dx', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 1e-2 });
    if (gamma && beta) {
      await fdCheck({ name: 'bn eval dgamma', input: gamma, values: gv, forward, out: y, r, analytic: await be.read(dgS, g.C), eps: 1e-2 });
      await fdCheck({ name: 'bn eval dbeta', input: beta, values: bv, forward, out: y, r, analytic: await be.read(dbS, g.C), eps: 1e-2 });
    }
  });
}

// ---- pooling ---------------------------------------------------------------------------------

function poolGeom(kind: 'avg' | 'max', N: number, C: number, H: number, W: number, k: number, s: number, p: number,
  countIncludePad = false): PoolGeom {
  return {
    kind, N, C, H, W, KH: k, KW: k, strideH: s, strideW: s, padH: p, padW: p, countIncludePad,
    OH: convOutSize(H, k, s, p), OW: convOutSize(W, k, s, p),
  };
}

const poolCases: [string, PoolGeom][] = [
  ['avg 3x3 s1 p1 count_include_pad=false', poolGeom('avg', 2, 2, 5, 6, 3, 1, 1, false)],
  ['avg 3x3 s1 p1 count_include_pad=true', poolGeom('avg', 2, 2, 5, 6, 3, 1, 1, true)],
  ['avg 2x2 s2 on odd 5x7', poolGeom('avg', 1, 3, 5, 7, 2, 2, 0)],
  ['avg 3x3 s2 p1 count_include_pad=true', poolGeom('avg', 1, 2, 7, 6, 3, 2, 1, true)],
  ['max 3x3 s2 p1', poolGeom('max', 2, 2, 7, 6, 3, 2, 1)],
  ['max 3x3 s1 p1', poolGeom('max', 1, 2, 5, 5, 3, 1, 1)],
  ['max 2x2 s2', poolGeom('max', 1, 3, 6, 4, 2, 2, 0)],
];

for (const [label, g] of poolCases) {
  test(`pool2dBackward: ${label}`, async () => {
    const xN = g.N * g.C * g.H * g.W, yN = g.N * g.C * g.OH * g.OW;
    let xv: Float32Array;
    if (g.kind === 'max') {
      // distinct values 0.05 apart: a step of 1e-3 never changes which input is a window's maximum
      const perm = rng.shuffle(Array.from({ length: xN }, (_, i) => i)) as number[];
      xv = Float32Array.from(perm, (k) => (k - xN / 2) * 0.05);
    } else {
      xv = randn(xN);
    }
    const r = randn(yN);
    const x = be.upload(xv), y = be.alloc(yN);
    const forward = () => be.pool2d(x, y, g);
    forward();
    const dx = await backwardOf((dy, out) => be.pool2dBackward(dy, x, out, g), r, xN);
    await fdCheck({ name: label, input: x, values: xv, forward, out: y, r, analytic: dx, eps: g.kind === 'max' ? 1e-3 : 0.25 });
    be.release(x); be.release(y);
  });
}

test('globalAvgPoolBackward matches finite differences', async () => {
  const g = { N: 2, C: 3, HW: 7 };
  const n = g.N * g.C * g.HW;
  const xv = randn(n), r = randn(g.N * g.C);
  const x = be.upload(xv), y = be.alloc(g.N * g.C);
  const forward = () => be.globalAvgPool(x, y, g);
  forward();
  const dx = await backwardOf((dy, out) => be.globalAvgPoolBackward(dy, out, g), r, n);
  await fdCheck({ name: 'globalAvgPool', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 0.25 });
});

// ---- dense -----------------------------------------------------------------------------------

test('matmul gradients via transposed matmuls: Y = A @ B', async () => {
  const M = 3, K = 4, N = 5;
  const av = randn(M * K), bv = randn(K * N), r = randn(M * N);
  const a = be.upload(av), b = be.upload(bv), y = be.alloc(M * N);
  const forward = () => be.matmul(a, b, y, { M, N, K, transA: false, transB: false });
  forward();
  // dA = dY @ B^T, dB = A^T @ dY
  const da = await backwardOf((dy, out) => be.matmul(dy, b, out, { M, N: K, K: N, transA: false, transB: true }), r, M * K);
  const db = await backwardOf((dy, out) => be.matmul(a, dy, out, { M: K, N, K: M, transA: true, transB: false }), r, K * N);
  await fdCheck({ name: 'dA', input: a, values: av, forward, out: y, r, analytic: da, eps: 0.25 });
  await fdCheck({ name: 'dB', input: b, values: bv, forward, out: y, r, analytic: db, eps: 0.25 });
});

test('linear-layer gradients: Y = X @ W^T + bias', async () => {
  const rows = 4, In = 3, Out = 5;
  const xv = randn(rows * In), wv = randn(Out * In), bv = randn(Out), r = randn(rows * Out);
  const x = be.upload(xv), w = be.upload(wv), b = be.upload(bv), xw = be.alloc(rows * Out), y = be.alloc(rows * Out);
  const forward = () => {
    be.matmul(x, w, xw, { M: rows, N: Out, K: In, transA: false, transB: true });
    be.addRowBias(xw, b, y, { rows, cols: Out });
  };
  forward();
  // dX = dY @ W, dW = dY^T @ X, db = column sums of dY
  const dx = await backwardOf((dy, out) => be.matmul(dy, w, out, { M: rows, N: In, K: Out, transA: false, transB: false }), r, rows * In);
  const dw = await backwardOf((dy, out) => be.matmul(dy, x, out, { M: Out, N: In, K: rows, transA: true, transB: false }), r, Out * In);
  const db = await backwardOf((dy, out) => be.columnSum(dy, out, { rows, cols: Out }), r, Out);
  await fdCheck({ name: 'dX', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 0.25 });
  await fdCheck({ name: 'dW', input: w, values: wv, forward, out: y, r, analytic: dw, eps: 0.25 });
  await fdCheck({ name: 'db', input: b, values: bv, forward, out: y, r, analytic: db, eps: 0.25 });
});

// ---- softmax family --------------------------------------------------------------------------

for (const log of [false, true]) {
  test(`softmaxBackward (log ${log}) matches finite differences`, async () => {
    const g = { rows: 3, cols: 6 };
    const n = g.rows * g.cols;
    const xv = randn(n, 1.5), r = randn(n);
    const x = be.upload(xv), y = be.alloc(n);
    const forward = () => be.softmax(x, y, g, log);
    forward();
    const dx = await backwardOf((dy, out) => be.softmaxBackward(dy, y, out, g, log), r, n);
    await fdCheck({ name: log ? 'logSoftmax' : 'softmax', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 1e-2 });
  });
}

for (const smoothing of [0, 0.1]) {
  test(`crossEntropyBackward (label smoothing ${smoothing}) matches finite differences`, async () => {
    const g = { rows: 4, cols: 5 };
    const n = g.rows * g.cols;
    const xv = randn(n, 2);
    const labels = be.upload(new Float32Array([2, 0, 4, 2]));
    const x = be.upload(xv), loss = be.alloc(1), probs = be.alloc(n);
    const forward = () => be.crossEntropy(x, labels, loss, probs, g, smoothing);
    forward();
    const dlossValue = 1.7; // a non-unit upstream gradient, so the dloss factor is checked too
    const r = new Float32Array([dlossValue]);
    const dx = await backwardOf((dloss, out) => be.crossEntropyBackward(probs, labels, dloss, out, g, smoothing), r, n);
    await fdCheck({ name: 'crossEntropy', input: x, values: xv, forward, out: loss, r, analytic: dx, eps: 1e-2 });
  });
}

// ---- elementwise -----------------------------------------------------------------------------

test('mulBroadcast gradients (mulBroadcastGradS for s, mulBroadcast for x)', async () => {
  const g = { outer: 3, mid: 4, inner: 5 };
  const n = g.outer * g.mid * g.inner;
  const xv = randn(n), sv = randn(g.mid), r = randn(n);
  const x = be.upload(xv), s = be.upload(sv), y = be.alloc(n);
  const forward = () => be.mulBroadcast(x, s, y, g);
  forward();
  const ds = await backwardOf((dy, out) => be.mulBroadcastGradS(dy, x, out, g), r, g.mid);
  const dx = await backwardOf((dy, out) => be.mulBroadcast(dy, s, out, g), r, n);
  await fdCheck({ name: 'ds', input: s, values: sv, forward, out: y, r, analytic: ds, eps: 0.25 });
  await fdCheck({ name: 'dx', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 0.25 });
});

test('reluBackward matches finite differences away from 0', async () => {
  const n = 40;
  const xv = randn(n);
  for (let i = 0; i < n; i++) if (Math.abs(xv[i]) < 0.05) xv[i] = xv[i] < 0 ? -0.3 : 0.3;
  const r = randn(n);
  const x = be.upload(xv), y = be.alloc(n);
  const forward = () => be.relu(x, y, n);
  forward();
  const dx = await backwardOf((dy, out) => be.reluBackward(dy, x, out, n), r, n);
  await fdCheck({ name: 'relu', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 1e-3 });
  // and the gradient really is zero on the negative side
  for (let i = 0; i < n; i++) if (xv[i] < 0) assert.is(dx[i], 0);
});

test('relu6Backward matches finite differences away from 0 and 6', async () => {
  const n = 60;
  const xv = randn(n, 5);
  for (let i = 0; i < n; i++) {
    if (Math.abs(xv[i]) < 0.05) xv[i] = xv[i] < 0 ? -0.3 : 0.3;
    if (Math.abs(xv[i] - 6) < 0.05) xv[i] = xv[i] < 6 ? 5.7 : 6.3;
  }
  xv[0] = 7.5; xv[1] = -2; xv[2] = 3; // both clipped sides and the linear part always present
  const r = randn(n);
  const x = be.upload(xv), y = be.alloc(n);
  const forward = () => be.relu6(x, y, n);
  forward();
  const dx = await backwardOf((dy, out) => be.relu6Backward(dy, x, out, n), r, n);
  await fdCheck({ name: 'relu6', input: x, values: xv, forward, out: y, r, analytic: dx, eps: 1e-3 });
  // zero gradient on both clipped sides, the upstream gradient in between
  for (let i = 0; i < n; i++) assert.is(dx[i], xv[i] > 0 && xv[i] < 6 ? r[i] : 0);
  // forward values at and beyond the bounds
  const at = be.upload(Float32Array.of(-1, 0, 6, 6.5, 2.25)), o = be.alloc(5);
  be.relu6(at, o, 5);
  assert.equal(Array.from(await be.read(o)), [0, 0, 6, 6, 2.25]);
});

test('weightedSum gradients (scaleByElement for xs, dot for w)', async () => {
  const n = 12;
  const x0v = randn(n), x1v = randn(n), wv = randn(3), r = randn(n);
  const x0 = be.upload(x0v), x1 = be.upload(x1v), w = be.upload(wv), y = be.alloc(n);
  const wIndex = [2, 0];
  const forward = () => be.weightedSum([x0, x1], w, wIndex, y, n);
  forward();
  // dL/dw[wIndex[k]] = r . xs[k]; w[1] is unused, so its gradient is 0
  const rS = be.upload(r), dwS = be.alloc(3);
  be.fill(dwS, 0, 3);
  be.dot(rS, x0, dwS, 2, n);
  be.dot(rS, x1, dwS, 0, n);
  const dw = await be.read(dwS, 3);
  const dx0 = await backwardOf((dy, out) => be.scaleByElement(dy, w, 2, out, n), r, n);
  await fdCheck({ name: 'dw', input: w, values: wv, forward, out: y, r, analytic: dw, eps: 0.25 });
  await fdCheck({ name: 'dx0', input: x0, values: x0v, forward, out: y, r, analytic: dx0, eps: 0.25 });
});

test.run();
