// The fused kernels of the NB201 fast path against the CPU composition of the unfused kernels they
// replace, on the CPU backend and on WebGPU:
//   - the fused ReLU on the convolution's input (forward reads max(x, 0), the input gradient is
//     masked by x > 0 and optionally added in place, the weight gradient reads max(x, 0)), subgroup
//     and portable shader variants, 4- and 8-column tiles;
//   - batch-norm statistics + deferred apply vs batchNormTrain; the BN backward from the statistics
//     with dy scaled on read vs scaleByElement + batchNormBackward;
//   - mixedSum / mixedDots (weighted sums with BN on read, and their weight gradient) vs apply +
//     weightedSum / dot; addScaledInPlace vs scaleByElement + addInPlace;
//   - the multi-tensor optimizer kernels vs their per-tensor forms, and SGD + clipping through them;
// and the tensor-level ops and module patterns that use them (values and every gradient, α included).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, ConvGeom, PoolGeom, Storage } from '../../src/engine/backend.js';
import { convOutSize } from '../../src/engine/backend.js';
import type { BatchNormGeom, ChannelGeom, MixedTerm } from '../../src/engine/backend.js';
import {
  Tensor, tidy, backward, relu, conv2d, reluConv2d, sum, mul, Sequential, Lambda, Conv2d, BatchNorm2d, Rng,
  weightedSum, avgPool2d, batchNorm, softmax, linear, SGD, clipGradNorm, } from '../../src/engine/index.js';
import { assertClose, randn, testBackends, testingWasm } from '../helpers/backends.js';
import { switches, withSwitches } from '../../src/engine/switches.js';

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

let seed = 9100;
const next = (): number => seed++;

function conv(N: number, Cin: number, H: number, W: number, Cout: number, K: number, stride = 1, pad = 0, dil = 1,
  groups = 1): ConvGeom {
  return {
    N, Cin, H, W, Cout, KH: K, KW: K, groups, strideH: stride, strideW: stride, padH: pad, padW: pad, dilH: dil, dilW: dil,
    OH: convOutSize(H, K, stride, pad, dil), OW: convOutSize(W, K, stride, pad, dil),
  };
}

async function run(be: Backend, inputs: Float32Array[], outSizes: number[],
  op: (ins: Storage[], outs: Storage[]) => void): Promise<Float32Array[]> {
  const ins = inputs.map((a) => be.upload(a));
  const outs = outSizes.map((n) => be.upload(randn(n, next())));
  op(ins, outs);
  const got: Float32Array[] = [];
  for (const o of outs) got.push(await be.read(o));
  for (const s of [...ins, ...outs]) be.release(s);
  return got;
}

function scaleOf(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** The three fused-ReLU conv kernels on `be` vs the unfused CPU composition. */
async function checkReluConv(be: Backend, g0: ConvGeom, label: string): Promise<void> {
  const g = { ...g0, reluInput: true };
  const xn = g.N * g.Cin * g.H * g.W, yn = g.N * g.Cout * g.OH * g.OW, wn = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  const x = randn(xn, next()), w = randn(wn, next()), dy = randn(yn, next());
  // reference: relu, then the plain kernels, then reluBackward
  const [want] = await run(cpu, [x, w], [xn, yn], ([xs, ws], [r, y]) => { cpu.relu(xs, r, xn); cpu.conv2d(r, ws, null, y, g0); })
    .then((o) => [o[1]]);
  const [wantDx] = await run(cpu, [dy, w, x], [xn, xn], ([d, ws, xs], [t, dx]) => {
    cpu.conv2dInputGrad(d, ws, t, g0); cpu.reluBackward(t, xs, dx, xn);
  }).then((o) => [o[1]]);
  const [wantDw] = await run(cpu, [dy, x], [xn, wn], ([d, xs], [r, dw]) => { cpu.relu(xs, r, xn); cpu.conv2dWeightGrad(d, r, dw, g0); })
    .then((o) => [o[1]]);
  const [y] = await run(be, [x, w], [yn], ([xs, ws], [o]) => be.conv2d(xs, ws, null, o, g));
  const [dx] = await run(be, [dy, w, x], [xn], ([d, ws, xs], [o]) => be.conv2dInputGrad(d, ws, o, g, xs));
  const [dw] = await run(be, [dy, x], [wn], ([d, xs], [o]) => be.conv2dWeightGrad(d, xs, o, g));
  // accumulate mode: dx0 + the masked input gradient, in place
  const dx0 = randn(xn, next());
  const [dxAcc] = await run(be, [dy, w, x, dx0], [], () => undefined).then(async () => {
    const [d, ws, xs] = [dy, w, x].map((a) => be.upload(a));
    const o = be.upload(dx0);
    be.conv2dInputGrad(d, ws, o, g, xs, true);
    const r = await be.read(o);
    for (const s_ of [d, ws, xs, o]) be.release(s_);
    return [r];
  });
  assertClose(dxAcc, wantDx.map((v, i) => v + dx0[i]), 1e-5, 2e-5 * scaleOf(wantDx) + 1e-5, `${label} fused relu conv2dInputGrad accumulate`);
  assertClose(y, want, 1e-5, 2e-5 * scaleOf(want) + 1e-6, `${label} fused relu conv2d`);
  assertClose(dx, wantDx, 1e-5, 2e-5 * scaleOf(wantDx) + 1e-6, `${label} fused relu conv2dInputGrad`);
  assertClose(dw, wantDw, 1e-5, 5e-5 * scaleOf(wantDw) + 1e-6, `${label} fused relu conv2dWeightGrad`);
}

const RELU_CONVS: ConvGeom[] = [
  conv(2, 3, 7, 5, 4, 3, 1, 1),          // odd image, 3 channels
  conv(2, 4, 9, 9, 6, 3, 2, 1, 1, 2),    // stride 2, groups 2
  conv(2, 8, 8, 8, 16, 1),               // 1x1
  conv(3, 16, 12, 12, 16, 3, 1, 1),      // NB201-like 3x3
  conv(2, 8, 10, 10, 8, 3, 1, 2, 2),     // dilation 2
];

test('fused ReLU conv kernels: CPU reluInput vs relu + conv composition', async () => {
  for (const g of RELU_CONVS) await checkReluConv(cpu, g, `cpu ${JSON.stringify(g)}`);
});

test('fused ReLU conv kernels: WebGPU vs the CPU composition (subgroup and portable variants)', async () => {
  if (!gpu) return;
  const webgpu = gpu; // (narrowed for the scopes below)
  for (const g of RELU_CONVS) await checkReluConv(webgpu, g, `webgpu ${JSON.stringify(g)}`);
  await withSwitches({ subgroups: false }, async () => {
    for (const g of RELU_CONVS.slice(0, 3)) await checkReluConv(webgpu, g, `webgpu portable ${JSON.stringify(g)}`);
  });
  for (const cv of [1, 3, 4]) {
    await withSwitches({ convColumnGroups: cv }, async () => {
      for (const g of [RELU_CONVS[0], RELU_CONVS[1], RELU_CONVS[3]]) await checkReluConv(webgpu, g, `webgpu CV=${cv} ${JSON.stringify(g)}`);
    });
  }
});

test('conv2dInputGrad with reluInput and no x is an error', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const g = { ...conv(1, 2, 4, 4, 2, 3, 1, 1), reluInput: true };
    const dy = be.alloc(32), w = be.alloc(36), dx = be.alloc(32);
    assert.throws(() => be.conv2dInputGrad(dy, w, dx, g), /pre-ReLU input/);
    for (const s of [dy, w, dx]) be.release(s);
  }
});

/** Value and gradients of f(x, w) (scalar via a weighted sum) on a backend. */
async function valueAndGrads(be: Backend, xv: Float32Array, xs: number[], wv: Float32Array, ws: number[],
  f: (x: Tensor, w: Tensor) => Tensor): Promise<Float32Array[]> {
  const x = Tensor.fromArray(be, xv, xs).param(), w = Tensor.fromArray(be, wv, ws).param();
  const out = tidy(() => {
    const y = f(x, w);
    const probe = Tensor.fromArray(be, randn(y.size, 77), y.shape);
    const loss = sum(mul(y, probe));
    backward(loss);
    return y;
  });
  const r = [await out.data(), await x.grad!.data(), await w.grad!.data()];
  out.dispose(); x.grad!.dispose(); w.grad!.dispose(); x.dispose(); w.dispose();
  return r;
}

test('reluConv2d op: value and gradients equal conv2d(relu(x)) on both backends', async () => {
  const xs = [2, 4, 6, 6], ws = [5, 4, 3, 3];
  const xv = randn(2 * 4 * 36, next()), wv = randn(5 * 4 * 9, next());
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const want = await valueAndGrads(cpu, xv, xs, wv, ws, (x, w) => conv2d(relu(x), w, null, { padding: 1 }));
    const got = await valueAndGrads(be, xv, xs, wv, ws, (x, w) => reluConv2d(x, w, null, { padding: 1 }));
    ['value', 'dx', 'dw'].forEach((k, i) => assertClose(got[i], want[i], 1e-4, 1e-4, `${be.kind} reluConv2d ${k}`));
  }
});

test('Sequential(ReLU, Conv2d, BN) runs the fused conv: same values, fewer launches', async () => {
  const be = cpu;
  const rng = new Rng(3);
  const c = new Conv2d(be, rng, 4, 4, 3, { padding: 1 });
  const bn = new BatchNorm2d(be, 4, { affine: false, trackRunningStats: false });
  const seq = new Sequential(new Lambda(relu, 'ReLU'), c, bn);
  const xv = randn(2 * 4 * 5 * 5, next());
  const x = Tensor.fromArray(be, xv, [2, 4, 5, 5]);
  const d0 = be.dispatchCount();
  const fused = tidy(() => seq.forward(x));
  const launches = be.dispatchCount() - d0;
  const plain = tidy(() => bn.forward(c.forward(relu(x))));
  assertClose(await fused.data(), await plain.data(), 1e-6, 1e-6, 'Sequential fused forward');
  assert.is(launches, 2, 'conv + batch norm, no separate ReLU');
  fused.dispose(); plain.dispose(); x.dispose(); seq.dispose();
});

// ---- batch norm: statistics + deferred apply, backward from statistics ------------------------

const BN_GEOMS: BatchNormGeom[] = [
  { N: 3, C: 4, HW: 15, eps: 1e-5, momentum: 0.1 },   // H*W odd: one value per lane
  { N: 2, C: 5, HW: 64, eps: 1e-3, momentum: 0.3 },   // H*W % 4 == 0: four values per lane
  { N: 64, C: 8, HW: 16, eps: 1e-5, momentum: 0.1 },  // many planes per channel
  { N: 8, C: 16, HW: 256, eps: 1e-5, momentum: 0.1 },  // NB201 stage 2 at batch 8 (more chunks than lanes)
  { N: 8, C: 8, HW: 1024, eps: 1e-5, momentum: 0.1 },  // NB201 stage 1 at batch 8
];

async function checkBnStats(be: Backend, g: BatchNormGeom, affine: boolean, running: boolean): Promise<void> {
  const n = g.N * g.C * g.HW, C = g.C;
  const x = randn(n, next()).map((v, i) => v * 2 + (i % 7) * 0.3 + 1.5);
  const gam = affine ? randn(C, next()) : null, bet = affine ? randn(C, next()) : null;
  const rm0 = randn(C, next()), rv0 = randn(C, next()).map((v) => Math.abs(v) + 0.5);
  // reference: batchNormTrain on the CPU
  const ins = (b: Backend) => [x, ...(affine ? [gam!, bet!] : []), rm0, rv0].map((a) => b.upload(a));
  const ref = ins(cpu);
  const y = cpu.alloc(n), mean = cpu.alloc(C), inv = cpu.alloc(C);
  const [xr, gr, br] = affine ? ref : [ref[0], null, null];
  const [rmr, rvr] = ref.slice(-2);
  cpu.batchNormTrain(xr, gr, br, y, mean, inv, running ? rmr : null, running ? rvr : null, g);
  const want = { y: await cpu.read(y), mean: await cpu.read(mean), inv: await cpu.read(inv), rm: await cpu.read(rmr), rv: await cpu.read(rvr) };
  for (const s_ of [...ref, y, mean, inv]) cpu.release(s_);
  // the fused pair on `be`
  const got = ins(be);
  const [xg, gg, bg] = affine ? got : [got[0], null, null];
  const [rmg, rvg] = got.slice(-2);
  const st = be.upload(randn(4 * C, next())), yo = be.upload(randn(n, next()));
  be.batchNormStats(xg, gg, bg, st, running ? rmg : null, running ? rvg : null, g);
  be.batchNormApply(xg, st, yo, { N: g.N, C, HW: g.HW });
  const stv = await be.read(st);
  const label = `${be.kind} bn stats ${JSON.stringify(g)} affine=${affine} running=${running}`;
  assertClose(await be.read(yo), want.y, 1e-4, 1e-4, `${label} y`);
  assertClose(stv.subarray(0, C), want.mean, 1e-5, 1e-5, `${label} mean`);
  assertClose(stv.subarray(C, 2 * C), want.inv, 1e-4, 1e-5, `${label} invstd`);
  assertClose(await be.read(rmg), want.rm, 1e-5, 1e-5, `${label} running mean`);
  assertClose(await be.read(rvg), want.rv, 1e-4, 1e-5, `${label} running var`);
  for (const s_ of [...got, st, yo]) be.release(s_);
}

test('batchNormStats + batchNormApply equal batchNormTrain (CPU and WebGPU)', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const g of BN_GEOMS) {
      for (const [affine, running] of [[false, false], [true, true], [false, true]]) await checkBnStats(be, g, affine, running);
    }
  }
});

test('the per-channel BN kernels at the other workgroup size (256 on GPUs, 64 on CPU rasterisers)', async () => {
  if (!gpu || testingWasm()) return; // WebGPU launch structure, not values
  const webgpu = gpu; // (narrowed for the scope below)
  const other = (webgpu as unknown as { rt: { software: boolean } }).rt.software ? 256 : 64;
  await withSwitches({ channelReduceWorkgroup: other }, async () => {
    for (const g of BN_GEOMS) await checkBnStats(webgpu, g, true, true);
  });
});

test('non-affine batchNormStats are held back and merged (K per launch), with the values of one launch each', async () => {
  if (!gpu || testingWasm()) return; // WebGPU launch structure, not values
  const be = gpu;
  const g: BatchNormGeom = { N: 3, C: 5, HW: 12, eps: 1e-5, momentum: 0.1 };
  const n = g.N * g.C * g.HW;
  const T = 7;
  const xs = Array.from({ length: T }, () => randn(n, next()));
  const rms = Array.from({ length: T }, () => randn(g.C, next()));
  const rvs = Array.from({ length: T }, () => randn(g.C, next()).map((v) => Math.abs(v) + 0.5));
  for (const running of [true, false]) {
    const results: Float32Array[][] = [];
    for (const merge of [true, false]) {
      await withSwitches({ mergeBnStats: merge }, async () => {
        const x = xs.map((a) => be.upload(a)), rm = rms.map((a) => be.upload(a)), rv = rvs.map((a) => be.upload(a));
        const st = xs.map(() => be.alloc(4 * g.C));
        const d0 = be.dispatchCount();
        for (let k = 0; k < T; k++) be.batchNormStats(x[k], null, null, st[k], running ? rm[k] : null, running ? rv[k] : null, g);
        assert.is(be.dispatchCount() - d0, merge ? 0 : T, `launches before any use (merge ${merge}, running ${running})`);
        const out: Float32Array[] = [];
        for (let k = 0; k < T; k++) out.push(await be.read(st[k]), ...(running ? [await be.read(rm[k]), await be.read(rv[k])] : []));
        if (merge) assert.ok(be.dispatchCount() - d0 < T, `merged: ${be.dispatchCount() - d0} launches for ${T} tensors`);
        results.push(out);
        for (const s_ of [...x, ...rm, ...rv, ...st]) be.release(s_);
      });
    }
    results[0].forEach((a, k) => assertClose(a, results[1][k], 0, 0, `merged vs single, output ${k}, running ${running}`));
    // and both against the CPU reference (statistics block, running mean and variance)
    const want: Float32Array[] = [];
    for (let k = 0; k < T; k++) {
      const x = cpu.upload(xs[k]), rm = cpu.upload(rms[k]), rv = cpu.upload(rvs[k]), st = cpu.alloc(4 * g.C);
      cpu.batchNormStats(x, null, null, st, running ? rm : null, running ? rv : null, g);
      want.push(await cpu.read(st), ...(running ? [await cpu.read(rm), await cpu.read(rv)] : []));
      for (const s_ of [x, rm, rv, st]) cpu.release(s_);
    }
    results[0].forEach((a, k) => assertClose(a, want[k], 1e-4, 1e-5, `merged vs CPU, output ${k}, running ${running}`));
  }
});

test('batchNormStatsBackward (dy scaled on read) equals scaleByElement + batchNormBackward', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const g of BN_GEOMS) {
      for (const affine of [false, true]) {
        for (const scaled of [false, true]) {
          const n = g.N * g.C * g.HW, C = g.C;
          const x = randn(n, next()).map((v) => v * 1.7 + 0.4), dy = randn(n, next()), gam = affine ? randn(C, next()) : null;
          const wv = randn(5, next()), idx = 3;
          // reference on the CPU: stats from batchNormTrain, dy' = w[idx]·dy, batchNormBackward
          const [xs, dys, ws] = [x, dy, wv].map((a) => cpu.upload(a));
          const gs = gam ? cpu.upload(gam) : null;
          const y = cpu.alloc(n), mean = cpu.alloc(C), inv = cpu.alloc(C), d2 = cpu.alloc(n), dx = cpu.alloc(n);
          const dg = cpu.alloc(C), db = cpu.alloc(C);
          cpu.batchNormTrain(xs, gs, gs ? cpu.upload(randn(C, 1)) : null, y, mean, inv, null, null, g);
          if (scaled) cpu.scaleByElement(dys, ws, idx, d2, n); else cpu.copy(dys, d2, n);
          cpu.batchNormBackward(d2, xs, gs, mean, inv, dx, dg, db, g);
          const want = [await cpu.read(dx), await cpu.read(dg), await cpu.read(db)];
          // fused on `be`
          const [xb, dyb, wb] = [x, dy, wv].map((a) => be.upload(a));
          const gb = gam ? be.upload(gam) : null, bb = gam ? be.upload(new Float32Array(C)) : null;
          const st = be.alloc(4 * C), dxb = be.upload(randn(n, next())), dgb = be.alloc(C), dbb = be.alloc(C);
          be.batchNormStats(xb, gb, bb, st, null, null, g);
          be.batchNormStatsBackward(dyb, scaled ? { w: wb, index: idx } : null, xb, gb, st, dxb, dgb, dbb, g);
          const label = `${be.kind} bn backward ${JSON.stringify(g)} affine=${affine} scaled=${scaled}`;
          const scale = want[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          assertClose(await be.read(dxb), want[0], 1e-3, 1e-4 * scale + 1e-5, `${label} dx`);
          assertClose(await be.read(dgb), want[1], 1e-3, 1e-3, `${label} dgamma`);
          assertClose(await be.read(dbb), want[2], 1e-3, 1e-3, `${label} dbeta`);
        }
      }
    }
  }
});

test('batchNormStatsBackwardMulti equals one batchNormStatsBackward per layer (1 to 7 layers, scaled or not)', async () => {
  if (!gpu) return;
  for (const g of BN_GEOMS) {
    for (const [K, scaled] of [[1, true], [3, false], [7, true]] as const) {
      const n = g.N * g.C * g.HW;
      const dy = randn(n, next()), wv = randn(12, next());
      const xs = Array.from({ length: K }, () => randn(n, next()).map((v) => v * 1.3 + 0.2));
      const results: Float32Array[][] = [];
      for (const be of [cpu, gpu]) {
        const dyb = be.upload(dy), wb = be.upload(wv);
        const layers = xs.map((x, k) => {
          const xb = be.upload(x), st = be.alloc(4 * g.C), dx = be.upload(randn(n, next()));
          be.batchNormStats(xb, null, null, st, null, null, g);
          return { x: xb, stats: st, dx, wIndex: (5 * k + 2) % 12 };
        });
        if (be === cpu) {
          // the reference: the single-layer kernel, one call each
          for (const l of layers) be.batchNormStatsBackward(dyb, scaled ? { w: wb, index: l.wIndex } : null, l.x, null, l.stats, l.dx, null, null, g);
        } else {
          be.batchNormStatsBackwardMulti(dyb, scaled ? wb : null, layers, { N: g.N, C: g.C, HW: g.HW });
        }
        const out: Float32Array[] = [];
        for (const l of layers) out.push(await be.read(l.dx));
        results.push(out);
        for (const l of layers) for (const s_ of [l.x, l.stats, l.dx]) be.release(s_);
        be.release(dyb); be.release(wb);
      }
      results[0].forEach((want, k) => {
        const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(results[1][k], want, 1e-3, 1e-4 * scale + 1e-5, `bn backward multi ${JSON.stringify(g)} K=${K} layer ${k} scaled=${scaled}`);
      });
    }
  }
});

// ---- mixed sums ------------------------------------------------------------------------------

/** k terms over [N, C, H*W], every other one with a BN statistics block; reference values on the CPU. */
async function checkMixed(be: Backend, g: ChannelGeom, k: number, size = 30): Promise<void> {
  const n = g.N * g.C * g.HW, C = g.C;
  const xsv = Array.from({ length: k }, () => randn(n, next()));
  const stv = Array.from({ length: k }, (_, j) => (j % 2 === 0 ? null : (() => {
    const a = randn(4 * C, next());
    return a;
  })()));
  const wv = randn(size, next());
  // distinct indices: 7 is prime to 30, 5 to 112 (the DARTS α, 2 × 14 × 8 ... as 112 values)
  const widx = Array.from({ length: k }, (_, j) => (j * (size === 30 ? 7 : 5) + 2) % size);
  const dy = randn(n, next());
  // reference: apply each term on the CPU, then weightedSum and dot
  const applied = xsv.map((x, j) => {
    if (!stv[j]) return x;
    const o = new Float32Array(n);
    for (let i = 0; i < n; i++) { const c = Math.floor(i / g.HW) % C; o[i] = x[i] * stv[j]![2 * C + c] + stv[j]![3 * C + c]; }
    return o;
  });
  const wantSum = new Float32Array(n);
  for (let i = 0; i < n; i++) { let v = 0; for (let j = 0; j < k; j++) v += wv[widx[j]] * applied[j][i]; wantSum[i] = v; }
  const wantDots = new Float32Array(size);
  for (let j = 0; j < k; j++) { let v = 0; for (let i = 0; i < n; i++) v += dy[i] * applied[j][i]; wantDots[widx[j]] = v; }
  const xs = xsv.map((a) => be.upload(a));
  // the same x buffer twice (a legal repeat of a read-only input)
  if (k > 3) xs[3] = xs[1];
  if (k > 3) { applied[3] = applied[1]; }
  const sts = stv.map((a) => (a ? be.upload(a) : null));
  if (k > 3) {
    sts[3] = sts[1];
    for (let i = 0; i < n; i++) { let v = 0; for (let j = 0; j < k; j++) v += wv[widx[j]] * applied[j][i]; wantSum[i] = v; }
    let v = 0; for (let i = 0; i < n; i++) v += dy[i] * applied[3][i]; wantDots[widx[3]] = v;
  }
  const terms: MixedTerm[] = xs.map((x, j) => ({ x, stats: sts[j], wIndex: widx[j] }));
  const w = be.upload(wv), out = be.upload(randn(n, next())), dys = be.upload(dy), dw = be.upload(randn(size, next()));
  be.mixedSum(terms, w, out, g);
  be.mixedDots(dys, terms, dw, size, g);
  const label = `${be.kind} mixed ${JSON.stringify(g)} k=${k}`;
  assertClose(await be.read(out), wantSum, 1e-4, 1e-4, `${label} sum`);
  const sc = wantDots.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(await be.read(dw), wantDots, 1e-4, 1e-5 * sc + 1e-5, `${label} dots`);
  // accumulate: the terms' entries grow by their dots, the other entries keep what they held
  const before = randn(size, next());
  const dwAcc = be.upload(before);
  be.mixedDots(dys, terms, dwAcc, size, g, true);
  const used = new Set(widx.slice(0, k));
  const wantAcc = before.map((v, j) => (used.has(j) ? v + wantDots[j] : v));
  assertClose(await be.read(dwAcc), wantAcc, 1e-4, 1e-5 * sc + 1e-5, `${label} dots accumulated`);
  be.release(dwAcc);
}

test('mixedSum and mixedDots equal BN apply + weighted sum + dot (1 to 13 terms, odd and vec4 planes)', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const g of [{ N: 2, C: 3, HW: 15 }, { N: 4, C: 8, HW: 16 }, { N: 8, C: 16, HW: 64 }]) {
      for (const k of [1, 2, 4, 7, 13]) await checkMixed(be, g, k);
    }
  }
});

test('mixedSum and mixedDots beyond one tile of weight-gradient columns (a DARTS node: 40 terms of a 112-value α)', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const k of [32, 33, 40]) await checkMixed(be, { N: 2, C: 4, HW: 16 }, k, 112);
  }
});

test('addScaledInPlace equals scaleByElement + addInPlace', async () => {
  // 1000: the vec4 variant of scaled.wgsl; 999 and 3: the scalar one
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const n of [1000, 999, 3]) {
      const a = randn(n, next()), x = randn(n, next()), w = randn(4, next());
      const acc = be.upload(a), xs = be.upload(x), ws = be.upload(w);
      be.addScaledInPlace(acc, xs, ws, 2, n);
      const want = a.map((v, i) => v + w[2] * x[i]);
      assertClose(await be.read(acc), want, 1e-6, 1e-6, `${be.kind} addScaledInPlace n=${n}`);
      for (const s_ of [acc, xs, ws]) be.release(s_);
    }
  }
});

test('pool2dBackward with a scaled and/or accumulated write equals the plain gradient scaled and added', async () => {
  // the 3x3 stride-1 strip kernel does it in one pass on WebGPU; other geometries compose it
  const geoms: PoolGeom[] = [
    { kind: 'avg', N: 2, C: 3, H: 8, W: 8, OH: 8, OW: 8, KH: 3, KW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, countIncludePad: false },
    { kind: 'avg', N: 2, C: 3, H: 7, W: 5, OH: 7, OW: 5, KH: 3, KW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, countIncludePad: true },
    { kind: 'max', N: 1, C: 2, H: 7, W: 6, OH: 4, OW: 3, KH: 3, KW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, countIncludePad: false },
  ];
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    for (const g of geoms) {
      const xn = g.N * g.C * g.H * g.W, yn = g.N * g.C * g.OH * g.OW;
      const x = randn(xn, next()), dy = randn(yn, next()), dx0 = randn(xn, next()), w = randn(3, next());
      const [xs, dys, ws] = [x, dy, w].map((a) => be.upload(a));
      const plain = be.alloc(xn);
      be.pool2dBackward(dys, xs, plain, g);
      const p = await be.read(plain);
      for (const [scaled, accumulate] of [[true, false], [false, true], [true, true]]) {
        const o = be.upload(dx0);
        be.pool2dBackward(dys, xs, o, g, { scale: scaled ? { w: ws, index: 2 } : null, accumulate });
        const want = p.map((v, i) => (accumulate ? dx0[i] : 0) + (scaled ? w[2] : 1) * v);
        assertClose(await be.read(o), want, 1e-5, 1e-5, `${be.kind} ${g.kind} ${g.H}x${g.W} scaled=${scaled} accumulate=${accumulate}`);
        be.release(o);
      }
      for (const s_ of [xs, dys, ws, plain]) be.release(s_);
    }
  }
});

// ---- the fused NB201 node: values and every gradient -------------------------------------------

/**
 * A small NB201-like node: out = Σ θ[e,o]·op_o(x) over a skip, two ReLU→conv→BN ops (Sequential,
 * fused), and an average pool, θ = softmax(α) carrying gradients; then a second node reading the
 * first through another fused op (so deferred gradients meet accumulation), and a third reading x and
 * the first as skips (two deferred gradients meet). `fused: false` runs the
 * same math through the unfused ops (and a padded weight vector; the test runs it with fusion off,
 * so weightedSum takes its unfused path).
 */
async function nodeRun(be: Backend, fused: boolean): Promise<Float32Array[]> {
  const rng = new Rng(11);
  const C = 4;
  const mk = (k: number) => {
    const c = new Conv2d(be, rng, C, C, k, { padding: (k - 1) / 2 });
    const b = new BatchNorm2d(be, C, { affine: false, trackRunningStats: true });
    return { seq: new Sequential(new Lambda(relu, 'ReLU'), c, b), c, b };
  };
  const ops = [mk(3), mk(1), mk(3)];
  const xv = randn(2 * C * 36, 5);
  const x = Tensor.fromArray(be, xv, [2, C, 6, 6]).param();
  const alpha = Tensor.fromArray(be, randn(30, 6).map((v) => v * 0.5), [30]).param();
  const pad = new Float32Array(40 * 30);
  for (let i = 0; i < 30; i++) pad[i * 30 + i] = 1;
  const padT = Tensor.fromArray(be, pad, [40, 30]);
  const probe = Tensor.fromArray(be, randn(2 * C * 36, 7), [2, C, 6, 6]);
  const unfusedOp = (o: { c: Conv2d; b: BatchNorm2d }, h: Tensor) => batchNorm(conv2d(relu(h), o.c.weight, null, o.c.opts), {
    gamma: null, beta: null, runningMean: o.b.runningMean, runningVar: o.b.runningVar, training: true });
  const run = (o: { seq: Sequential; c: Conv2d; b: BatchNorm2d }, h: Tensor) => (fused ? o.seq.forward(h) : unfusedOp(o, h));
  const out = tidy(() => {
    const t30 = softmax(alpha.reshape([1, 30]));
    // unfused: 40 weights (the unfused weightedSum path), the same first 30
    const theta = fused ? t30.reshape([30]) : linear(t30, padT, null).reshape([40]);
    const n1 = weightedSum([x, run(ops[0], x), run(ops[1], x), avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false })],
      theta, [1, 2, 3, 4]);
    const n2 = weightedSum([n1, run(ops[2], n1), run(ops[0], x)], theta, [6, 8, 11]);
    // a third node reading x and n1 as skips again: each then collects two deferred w·dy gradients
    // (summed in one pass, autograd's sumOfScaled)
    const n3 = weightedSum([x, n1, n2], theta, [12, 13, 14]);
    backward(sum(mul(n3, probe)));
    return n3;
  });
  const r = [await out.data(), await x.grad!.data(), await alpha.grad!.data()];
  for (const o of ops) {
    r.push(await o.c.weight.grad!.data(), await o.b.runningMean!.data(), await o.b.runningVar!.data());
  }
  out.dispose(); x.grad?.dispose(); alpha.grad?.dispose(); x.dispose(); alpha.dispose(); probe.dispose(); padT.dispose();
  for (const o of ops) o.seq.dispose();
  return r;
}

test('fused NB201 node (deferred BN, scaled gradients, mixed sums) equals the unfused ops', async () => {
  const names = ['value', 'dx', 'dalpha', 'dw3a', 'rm3a', 'rv3a', 'dw1', 'rm1', 'rv1', 'dw3b', 'rm3b', 'rv3b'];
  // the reference through the unfused weightedSum (fused sums take any number of weights now)
  switches.fusion = false;
  let want: Float32Array[];
  try { want = await nodeRun(cpu, false); } finally { switches.fusion = true; }
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const got = await nodeRun(be, true);
    names.forEach((k, i) => {
      const sc = want[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(got[i], want[i], 2e-3, 2e-4 * sc + 1e-5, `${be.kind} fused node ${k}`);
    });
  }
});

/** A DARTS sep/dil-conv tail in a weighted sum: ReLU → depthwise → 1×1 conv → non-affine BN ending
 *  a Sequential, summed with a skip under softmax weights; values, every gradient, running stats. */
async function convBnTailRun(be: Backend, fused: boolean): Promise<{ r: Float32Array[]; launches: number }> {
  const rng = new Rng(21);
  const C = 4;
  const dw = new Conv2d(be, rng, C, C, 3, { padding: 2, dilation: 2, groups: C });
  const pw = new Conv2d(be, rng, C, C, 1);
  const bn = new BatchNorm2d(be, C, { affine: false, trackRunningStats: true });
  const seq = new Sequential(new Lambda(relu, 'ReLU'), dw, pw, bn);
  const x = Tensor.fromArray(be, randn(2 * C * 36, 31), [2, C, 6, 6]).param();
  const alpha = Tensor.fromArray(be, randn(3, 32), [3]).param();
  const probe = Tensor.fromArray(be, randn(2 * C * 36, 33), [2, C, 6, 6]);
  switches.fusion = fused;
  let launches = 0;
  let out: Tensor;
  try {
    const d0 = be.dispatchCount();
    out = tidy(() => {
      const theta = softmax(alpha.reshape([1, 3])).reshape([3]);
      const y = weightedSum([x, seq.forward(x)], theta, [0, 2]);
      backward(sum(mul(y, probe)));
      return y;
    });
    launches = be.dispatchCount() - d0;
  } finally {
    switches.fusion = true;
  }
  const r = [await out.data(), await x.grad!.data(), await alpha.grad!.data(), await dw.weight.grad!.data(), await pw.weight.grad!.data(),
    await bn.runningMean!.data(), await bn.runningVar!.data()];
  assert.is(bn.numBatchesTracked, 1);
  out.dispose(); x.grad?.dispose(); alpha.grad?.dispose(); x.dispose(); alpha.dispose(); probe.dispose(); seq.dispose();
  return { r, launches };
}

test('Sequential ending in conv → non-affine BN (DARTS sep/dil conv) runs the fused op without ReLU: equal to the layers, fewer launches', async () => {
  const names = ['value', 'dx', 'dalpha', 'ddepthwise', 'dpointwise', 'running mean', 'running var'];
  const want = await convBnTailRun(cpu, false);
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const plain = be === cpu ? want : await convBnTailRun(be, false);
    const got = await convBnTailRun(be, true);
    names.forEach((k, i) => {
      const sc = want.r[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(got.r[i], want.r[i], 2e-3, 2e-4 * sc + 1e-5, `${be.kind} fused conv → BN tail ${k}`);
    });
    assert.ok(got.launches < plain.launches, `${be.kind}: ${got.launches} launches fused, ${plain.launches} unfused`);
  }
});

// ---- multi-tensor optimizer kernels -----------------------------------------------------------

test('sumSquaresMulti, scaleInPlaceByElementMulti, sgdStepMulti equal their per-tensor forms', async () => {
  const sizes = [5, 0, 300, 17, 4096, 1, 64, 9, 2000, 33, 7, 128, 3, 1000, 11, 20, 70, 5000, 2, 8];
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const vals = sizes.map((n) => randn(n, next()));
    const grads = sizes.map((n) => randn(n, next()));
    const moms = sizes.map((n) => randn(n, next()));
    // sum of squares (f64 reference)
    let want = 0;
    for (const v of vals) for (const x of v) want += x * x;
    const xs = vals.map((v) => be.upload(v.length ? v : new Float32Array(1)));
    const out = be.alloc(1);
    be.sumSquaresMulti(xs.map((s_, k) => ({ s: s_, n: sizes[k] })), out);
    assertClose(await be.read(out), Float32Array.of(want), 1e-4, 1e-4, `${be.kind} sumSquaresMulti`);
    // scale in place
    const f = be.upload(Float32Array.of(3, -0.5, 2));
    be.scaleInPlaceByElementMulti(xs.map((s_, k) => ({ s: s_, n: sizes[k] })), f, 1);
    for (let k = 0; k < sizes.length; k++) {
      if (!sizes[k]) continue;
      assertClose((await be.read(xs[k])).subarray(0, sizes[k]), vals[k].map((v) => v * -0.5), 1e-6, 1e-7, `${be.kind} scaleMulti ${k}`);
    }
    // SGD with momentum, nesterov, weight decay, dampening
    const hp = { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 5e-4 };
    for (const nesterov of [false, true]) {
      const h = { ...hp, nesterov, dampening: nesterov ? 0 : 0.1 };
      const ps = vals.map((v) => be.upload(v.length ? v : new Float32Array(1)));
      const gs = grads.map((v) => be.upload(v.length ? v : new Float32Array(1)));
      const ms = moms.map((v) => be.upload(v.length ? v : new Float32Array(1)));
      be.sgdStepMulti(sizes.map((n, k) => ({ param: ps[k], grad: gs[k], momBuf: ms[k], n })), h);
      for (let k = 0; k < sizes.length; k++) {
        if (!sizes[k]) continue;
        const [p1, m1] = [new Float32Array(vals[k]), new Float32Array(moms[k])];
        for (let i = 0; i < sizes[k]; i++) {
          let d = grads[k][i] + h.weightDecay * p1[i];
          const buf = h.momentum * m1[i] + (1 - h.dampening) * d;
          m1[i] = buf;
          d = h.nesterov ? d + h.momentum * buf : buf;
          p1[i] = p1[i] - h.lr * d;
        }
        assertClose((await be.read(ps[k])).subarray(0, sizes[k]), p1, 1e-5, 1e-6, `${be.kind} sgdMulti param ${k} nesterov=${nesterov}`);
        assertClose((await be.read(ms[k])).subarray(0, sizes[k]), m1, 1e-5, 1e-6, `${be.kind} sgdMulti momentum ${k} nesterov=${nesterov}`);
      }
    }
  }
});

test('SGD and clipGradNorm: multi-tensor path equals the per-parameter path', async () => {
  for (const be of [cpu, gpu].filter((b): b is Backend => !!b)) {
    const results: Float32Array[][] = [];
    for (const fusion of [false, true]) {
      await withSwitches({ fusion }, async () => {
        const params = [30, 7, 500, 1].map((n, k) => Tensor.fromArray(be, randn(n, 300 + k), [n]).param());
        const opt = new SGD(params, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
        for (let step = 0; step < 3; step++) {
          params.forEach((p, k) => { p.grad?.dispose(); p.grad = k === 1 && step === 0 ? null : Tensor.fromArray(be, randn(p.size, 400 + 10 * step + k).map((v) => v * 3), [p.size]); });
          clipGradNorm(params, 5);
          opt.step();
        }
        results.push(await Promise.all([...params.map((p) => p.data()), ...[...opt.stateTensors().values()].map((t) => t.data())]));
        opt.dispose();
        for (const p of params) { p.grad?.dispose(); p.dispose(); }
      });
    }
    results[0].forEach((want, i) => assertClose(results[1][i], want, 1e-5, 1e-6, `${be.kind} SGD multi vs per-parameter, tensor ${i}`));
  }
});

test.run();
