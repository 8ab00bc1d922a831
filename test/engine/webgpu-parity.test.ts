// The non-spatial WGSL kernels against the CPU reference backend, on random data and odd shapes:
// elementwise, weighted sums (chunked past 8 inputs), reductions (one and two passes), dropout masks
// (bit-exact), softmax family, cross-entropy, accuracy counts, channel copies, optimizers.
// Outputs start from random values so "other entries untouched" is checked too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, Storage } from '../../src/engine/backend.js';
import { assertClose, randn, randu, testBackends, testingWasm } from '../helpers/backends.js';

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

let seed = 1000;
const next = () => seed++;

/**
 * Run `op` on both backends. `inputs` are uploaded; `outputs` are initial contents of the storages
 * the op writes (they are read back and returned after the op). Returns [cpu results, gpu results].
 */
async function onBoth(inputs: Float32Array[], outputs: Float32Array[],
  op: (b: Backend, ins: Storage[], outs: Storage[]) => void): Promise<[Float32Array[], Float32Array[]]> {
  const results: Float32Array[][] = [];
  for (const b of [cpu, gpu!]) {
    const ins = inputs.map((a) => b.upload(a));
    const outs = outputs.map((a) => b.upload(a));
    op(b, ins, outs);
    const got: Float32Array[] = [];
    for (const o of outs) got.push(await b.read(o));
    for (const s of [...ins, ...outs]) b.release(s);
    results.push(got);
  }
  return [results[0], results[1]];
}

async function check(label: string, inputs: Float32Array[], outputs: Float32Array[],
  op: (b: Backend, ins: Storage[], outs: Storage[]) => void, rtol = 1e-5, atol = 1e-6): Promise<void> {
  const [c, g] = await onBoth(inputs, outputs, op);
  c.forEach((want, k) => assertClose(g[k], want, rtol, atol, `${label} output ${k}`));
}

const SIZES = [1, 7, 255, 256, 257, 1000, 65537];

test('fill, copy, scale, relu, reluBackward, broadcastScalar', async () => {
  if (!gpu) return;
  for (const n of SIZES) {
    const x = randn(n, next()), dy = randn(n, next()), junk = () => randn(n + 3, next());
    await check(`fill n=${n}`, [], [junk()], (b, _, [o]) => b.fill(o, -2.5, n));
    await check(`copy n=${n}`, [x], [junk()], (b, [a], [o]) => b.copy(a, o, n));
    await check(`scale n=${n}`, [x], [junk()], (b, [a], [o]) => b.scale(a, 0.37, o, n));
    await check(`relu n=${n}`, [x], [junk()], (b, [a], [o]) => b.relu(a, o, n));
    await check(`reluBackward n=${n}`, [dy, x], [junk()], (b, [d, a], [o]) => b.reluBackward(d, a, o, n));
    await check(`broadcastScalar n=${n}`, [randn(2, next())], [junk()], (b, [s], [o]) => b.broadcastScalar(s, -1.5, o, n));
  }
});

test('relu6, relu6Backward (values spread over both bounds, exact bounds included)', async () => {
  if (!gpu) return;
  for (const n of SIZES) {
    const x = randn(n, next()).map((v, i) => (i % 11 === 0 ? 6 : i % 13 === 0 ? 0 : 5 * v + 3));
    const dy = randn(n, next()), junk = () => randn(n + 3, next());
    await check(`relu6 n=${n}`, [x], [junk()], (b, [a], [o]) => b.relu6(a, o, n));
    await check(`relu6Backward n=${n}`, [dy, x], [junk()], (b, [d, a], [o]) => b.relu6Backward(d, a, o, n));
    await check(`relu6Backward dy=x n=${n}`, [x], [junk()], (b, [a], [o]) => b.relu6Backward(a, a, o, n));
  }
});

test('add, mul, addInPlace (also with one storage in two roles)', async () => {
  if (!gpu) return;
  for (const n of SIZES) {
    const a = randn(n, next()), c = randn(n, next()), junk = () => randn(n, next());
    await check(`add n=${n}`, [a, c], [junk()], (b, [p, q], [o]) => b.add(p, q, o, n));
    await check(`mul n=${n}`, [a, c], [junk()], (b, [p, q], [o]) => b.mul(p, q, o, n));
    await check(`add x+x n=${n}`, [a], [junk()], (b, [p], [o]) => b.add(p, p, o, n));
    await check(`mul x*x n=${n}`, [a], [junk()], (b, [p], [o]) => b.mul(p, p, o, n));
    await check(`addInPlace n=${n}`, [c], [a], (b, [x], [acc]) => b.addInPlace(acc, x, n, -0.75));
    await check(`addInPlace acc=x n=${n}`, [], [a], (b, _, [acc]) => b.addInPlace(acc, acc, n, 0.5));
  }
});

test('mulBroadcast and mulBroadcastGradS (one and two passes)', async () => {
  if (!gpu) return;
  const shapes = [
    { outer: 1, mid: 1, inner: 1 }, { outer: 3, mid: 5, inner: 7 }, { outer: 64, mid: 16, inner: 1024 },
    { outer: 2, mid: 1, inner: 40000 }, { outer: 1000, mid: 3, inner: 1 }, { outer: 5, mid: 300, inner: 9 },
  ];
  for (const g of shapes) {
    const n = g.outer * g.mid * g.inner;
    const x = randn(n, next()), dy = randn(n, next()), s = randn(g.mid, next());
    const label = `${g.outer}x${g.mid}x${g.inner}`;
    await check(`mulBroadcast ${label}`, [x, s], [randn(n, next())], (b, [xx, ss], [o]) => b.mulBroadcast(xx, ss, o, g));
    await check(`mulBroadcastGradS ${label}`, [dy, x], [randn(g.mid + 2, next())],
      (b, [d, xx], [o]) => b.mulBroadcastGradS(d, xx, o, g), 1e-4, 1e-4);
    await check(`mulBroadcastGradS dy=x ${label}`, [x], [randn(g.mid, next())],
      (b, [xx], [o]) => b.mulBroadcastGradS(xx, xx, o, g), 1e-4, 1e-4);
  }
});

test('weightedSum: 0..11 inputs (chunked), repeated inputs, the weights among the inputs', async () => {
  if (!gpu) return;
  for (const n of [1, 333, 4099]) {
    for (const k of [0, 1, 2, 3, 5, 8, 9, 11]) {
      const xs = Array.from({ length: k }, () => randn(n, next()));
      const w = randn(12, next());
      const wIndex = Array.from({ length: k }, (_, j) => (j * 5 + 3) % 12);
      await check(`weightedSum n=${n} k=${k}`, [w, ...xs], [randn(n, next())],
        (b, [ws, ...xss], [o]) => b.weightedSum(xss, ws, wIndex, o, n), 1e-5, 1e-5);
    }
    // the same storage three times, and the weight storage itself as an input
    const x = randn(n, next()), w = randn(Math.max(n, 4), next());
    await check(`weightedSum repeats n=${n}`, [x, w], [randn(n, next())],
      (b, [xs, ws], [o]) => b.weightedSum([xs, xs, ws, xs], ws, [0, 1, 2, 3], o, n), 1e-5, 1e-5);
  }
});

test('scaleByElement and scaleInPlaceByElement', async () => {
  if (!gpu) return;
  for (const n of SIZES) {
    const x = randn(n, next()), w = randn(6, next());
    await check(`scaleByElement n=${n}`, [x, w], [randn(n, next())], (b, [xx, ww], [o]) => b.scaleByElement(xx, ww, 4, o, n));
    await check(`scaleInPlaceByElement n=${n}`, [w], [x], (b, [ww], [xx]) => b.scaleInPlaceByElement(xx, ww, 2, n));
  }
});

test('dot, sumSquares, sum, nonFiniteCount: one-pass and two-pass, outIndex leaves the rest alone', async () => {
  if (!gpu) return;
  for (const n of [0, 1, 100, 2047, 2048, 2049, 100003, 1 << 20]) {
    const a = randn(n, next()), c = randn(n, next());
    const out = () => randn(4, next());
    const tol = 1e-5 * Math.sqrt(n + 1);
    await check(`dot n=${n}`, [a, c], [out()], (b, [p, q], [o]) => b.dot(p, q, o, 2, n), 1e-4, tol);
    await check(`dot x.x n=${n}`, [a], [out()], (b, [p], [o]) => b.dot(p, p, o, 1, n), 1e-4, tol);
    await check(`sumSquares n=${n}`, [a], [out()], (b, [p], [o]) => b.sumSquares(p, o, 3, n), 1e-4, tol);
    await check(`sum n=${n}`, [a], [out()], (b, [p], [o]) => b.sum(p, o, n), 1e-4, tol);
    const bad = a.slice();
    for (let i = 0; i < n; i += 97) bad[i] = [NaN, Infinity, -Infinity][i % 3];
    await check(`nonFiniteCount n=${n}`, [bad], [out()], (b, [p], [o]) => b.nonFiniteCount(p, o, 1, n), 0, 0);
  }
});

test('dropoutMask matches the CPU bit for bit', async () => {
  if (!gpu) return;
  for (const [n, p, s] of [[1, 0.5, 0], [1000, 0.1, 7], [70001, 0.3, 123456789], [4096, 0, 42], [513, 0.999, 4294967295]]) {
    const [c, g] = await onBoth([], [randn(n, next())], (b, _, [m]) => b.dropoutMask(m, n, p, s));
    for (let i = 0; i < n; i++) {
      if (c[0][i] !== g[0][i]) assert.unreachable(`dropoutMask n=${n} p=${p} seed=${s}: index ${i} cpu ${c[0][i]} gpu ${g[0][i]}`);
    }
    if (n >= 1000 && p > 0) {
      const kept = c[0].filter((v) => v !== 0).length / n;
      assert.ok(Math.abs(kept - (1 - p)) < 0.03, `keep rate ${kept} for p=${p}`);
    }
  }
});

test('softmax and log-softmax forward and backward', async () => {
  if (!gpu) return;
  for (const [rows, cols] of [[1, 1], [3, 10], [64, 10], [5, 100], [2, 1000], [70, 3]]) {
    const g = { rows, cols };
    const n = rows * cols;
    const x = randn(n, next()).map((v) => v * 4), dy = randn(n, next());
    for (const log of [false, true]) {
      await check(`softmax log=${log} ${rows}x${cols}`, [x], [randn(n, next())], (b, [xx], [y]) => b.softmax(xx, y, g, log), 1e-4, 1e-6);
      // backward from the CPU's forward output, so only the backward kernel is compared
      const y = new Float32Array(n);
      {
        const xs = cpu.upload(x), ys = cpu.alloc(n);
        cpu.softmax(xs, ys, g, log);
        y.set(await cpu.read(ys));
        cpu.release(xs); cpu.release(ys);
      }
      await check(`softmaxBackward log=${log} ${rows}x${cols}`, [dy, y], [randn(n, next())],
        (b, [d, yy], [dx]) => b.softmaxBackward(d, yy, dx, g, log), 1e-4, 1e-5);
    }
  }
});

test('crossEntropy (with label smoothing) forward, backward, correctCount', async () => {
  if (!gpu) return;
  for (const [rows, cols] of [[1, 2], [7, 10], [64, 10], [3, 200], [300, 5]]) {
    const g = { rows, cols };
    const n = rows * cols;
    const logits = randn(n, next()).map((v) => v * 3);
    const labels = randu(rows, 0, cols, next()).map(Math.floor);
    for (const smoothing of [0, 0.1]) {
      await check(`crossEntropy s=${smoothing} ${rows}x${cols}`, [logits, labels], [randn(1, next()), randn(n, next())],
        (b, [l, lab], [loss, probs]) => b.crossEntropy(l, lab, loss, probs, g, smoothing), 1e-4, 1e-6);
      const probs = new Float32Array(n);
      {
        const l = cpu.upload(logits), lab = cpu.upload(labels), loss = cpu.alloc(1), p = cpu.alloc(n);
        cpu.crossEntropy(l, lab, loss, p, g, smoothing);
        probs.set(await cpu.read(p));
        for (const s of [l, lab, loss, p]) cpu.release(s);
      }
      await check(`crossEntropyBackward s=${smoothing} ${rows}x${cols}`, [probs, labels, new Float32Array([1.7])],
        [randn(n, next())], (b, [p, lab, dl], [dx]) => b.crossEntropyBackward(p, lab, dl, dx, g, smoothing), 1e-5, 1e-7);
    }
    // ties: the first maximum wins; make some rows have their max at the label
    const tied = logits.slice();
    for (let r = 0; r < rows; r += 3) tied.fill(1, r * cols, (r + 1) * cols);
    const lab2 = labels.map((v, r) => (r % 2 ? v : 0));
    await check(`correctCount ${rows}x${cols}`, [tied, lab2], [randn(3, next())],
      (b, [l, lab], [o]) => b.correctCount(l, lab, o, 1, g), 0, 0);
  }
});

test('crossEntropy with an invalid label gives NaN on the GPU (the CPU throws)', async () => {
  if (!gpu || testingWasm()) return; // the wasm backend throws as the CPU does
  const g = { rows: 2, cols: 3 };
  const l = gpu.upload(randn(6, next())), lab = gpu.upload(new Float32Array([1, 3])), loss = gpu.alloc(1), p = gpu.alloc(6);
  gpu.crossEntropy(l, lab, loss, p, g, 0);
  assert.ok(Number.isNaN((await gpu.read(loss))[0]));
  for (const s of [l, lab, loss, p]) gpu.release(s);
});

test('copyChannels: copy and accumulate, offsets, odd HW', async () => {
  if (!gpu) return;
  const cases = [
    { N: 2, HW: 9, srcC: 5, srcOffset: 1, dstC: 7, dstOffset: 3, count: 3 },
    { N: 3, HW: 1, srcC: 4, srcOffset: 0, dstC: 4, dstOffset: 0, count: 4 },
    { N: 64, HW: 1024, srcC: 16, srcOffset: 0, dstC: 32, dstOffset: 16, count: 16 },
  ];
  for (const c of cases) {
    for (const accumulate of [false, true]) {
      const g = { ...c, accumulate };
      await check(`copyChannels ${JSON.stringify(g)}`, [randn(c.N * c.srcC * c.HW, next())], [randn(c.N * c.dstC * c.HW, next())],
        (b, [s], [d]) => b.copyChannels(s, d, g));
    }
  }
});

test('sgdStep (plain, momentum, nesterov, dampening, weight decay) over several steps', async () => {
  if (!gpu) return;
  const n = 1537;
  const variants = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 5e-4 },
    { lr: 0.025, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 3e-4 },
    { lr: 0.025, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 3e-4 },
    { lr: 0.01, momentum: 0.5, dampening: 0.1, nesterov: false, weightDecay: 0 },
  ];
  for (const p of variants) {
    const grads = [randn(n, next()), randn(n, next()), randn(n, next())];
    await check(`sgdStep ${JSON.stringify(p)}`, grads, [randn(n, next()), new Float32Array(n)],
      (b, gs, [param, buf]) => { for (const gr of gs) b.sgdStep(param, gr, p.momentum ? buf : null, n, p); }, 1e-5, 1e-6);
  }
});

test('adamStep over several steps (bias correction, weight decay)', async () => {
  if (!gpu) return;
  const n = 2049;
  for (const wd of [0, 1e-3]) {
    const grads = [randn(n, next()), randn(n, next()), randn(n, next()), randn(n, next())];
    await check(`adamStep wd=${wd}`, grads, [randn(n, next()), new Float32Array(n), new Float32Array(n)],
      (b, gs, [param, m, v]) => gs.forEach((gr, t) =>
        b.adamStep(param, gr, m, v, n, { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd, step: t + 1 })),
      1e-4, 1e-6);
  }
});

test('clipFactor (clipping and not)', async () => {
  if (!gpu) return;
  for (const k of [1, 5, 300, 5000]) {
    const sq = randu(k, 0, 2, next());
    for (const maxNorm of [0.5, 1e6]) {
      await check(`clipFactor k=${k} max=${maxNorm}`, [sq], [randn(2, next())], (b, [s], [o]) => b.clipFactor(s, k, maxNorm, o), 1e-5, 1e-7);
    }
  }
});

test('a 1-D kernel beyond 65535 workgroups (folded grid) covers every element', async () => {
  if (!gpu) return;
  const n = 65535 * 256 + 4099;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 1000) - 500;
  const xs = gpu.upload(x), out = gpu.alloc(n);
  gpu.fill(out, 7, n);
  gpu.scale(xs, 0.5, out, n);
  const y = await gpu.read(out);
  for (let i = 0; i < n; i++) {
    if (y[i] !== x[i] * 0.5) assert.unreachable(`scale over a folded grid: index ${i} got ${y[i]}, expected ${x[i] * 0.5}`);
  }
  gpu.release(xs);
  gpu.release(out);
});

test('bad arguments give clear errors naming the op and storage', async () => {
  if (!gpu) return;
  const a = gpu.alloc(10), o = gpu.alloc(5);
  assert.throws(() => gpu!.add(a, a, o, 10), /add: out holds 5 values, needs 10/);
  assert.throws(() => gpu!.weightedSum([a], a, [0, 1], o, 5), /weightedSum: 1 inputs but 2 weight indices/);
  assert.throws(() => gpu!.dropoutMask(a, 10, 1, 0), /dropoutMask: drop probability 1/);
  gpu.release(a);
  gpu.release(o);
});

test.run();
