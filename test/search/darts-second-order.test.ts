// DARTS gradients against finite differences: the first-order α gradient is ∂α L_valid(w, α); the
// second-order one is d/dα of the unrolled validation loss
//   f(α) = L_valid(w − η(μ·buf + ∇w L_train(w, α) + wd·w), α),
// evaluated here by finite differences over α (an independent route: no Hessian-vector product, no
// chain rule). η = 0.05 makes the implicit term larger than the result, so dropping it or getting its
// sign wrong fails the test; much larger η would make the result a near-cancellation of two big terms,
// below what the f32 finite-difference Hessian-vector product (r = 0.01) resolves.
//
// Smoothness: through ReLU kinks ∇w L_train jumps, so f(α) is discontinuous and no finite difference
// can check its derivative. The test therefore builds a supernet whose every ReLU sees positive input
// (cells restricted to none/skip/avg-pool; stem, reduction and head BNs shifted by β = 10; positive
// shortcut convs), where the network is smooth and the identities are exact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, noGrad, keep, backward, crossEntropy } from '../../src/engine/index.js';
import { createBaseMethod, type BaseMethod, type DeviceBatch } from '../../src/search/index.js';
import { fullMask, restrictMask, OP_SKIP, OP_NONE, OP_AVG_POOL } from '../../src/spaces/nb201/ops.js';
import { Rng } from '../../src/data/rng.js';

const be = new CpuBackend();
const SIZES = { C: 3, N: 1, inputChannels: 2, numClasses: 3 };

function batch(seed: number, n = 16): DeviceBatch {
  const r = new Rng(seed);
  const x = new Float32Array(n * 2 * 8 * 8).map(() => r.normal());
  const y = new Float32Array(n).map((_, i) => i % 3);
  return { x: Tensor.fromArray(be, x, [n, 2, 8, 8]), y: Tensor.fromArray(be, y, [n]), n };
}

function setAlpha(m: BaseMethod, values: Float32Array): void {
  be.write(m.alpha.storage, values);
}

/** Loss on a batch under the method's current sample (no gradients). */
function lossOf(m: BaseMethod, b: DeviceBatch): Promise<number> {
  const l = tidy(() => noGrad(() => crossEntropy(m.supernet.forward(b.x, m.sampleArch()), b.y)));
  return l.data().then((d) => { l.dispose(); return d[0]; });
}

/** f(α) = L_valid(w'(α), α), computed directly; the weights are restored afterwards. */
async function unrolledLoss(m: BaseMethod, train: DeviceBatch, valid: DeviceBatch): Promise<number> {
  const params = m.supernet.parameters();
  const { momentum, weightDecay } = m.hyper;
  const eta = m.lr;
  const buffers = new Map<Tensor, Tensor>();
  for (const [key, t] of m.weightOptimizer.stateTensors()) buffers.set(params[Number(key.split('.')[0])], t);
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
  tidy(() => backward(crossEntropy(m.supernet.forward(train.x, m.sampleArch()), train.y)));
  const saved = params.map((p) => { const c = keep(Tensor.empty(be, p.shape)); be.copy(p.storage, c.storage, p.size); return c; });
  params.forEach((p, i) => {
    if (!p.grad) return;
    be.addInPlace(p.storage, p.grad.storage, p.size, -eta);
    be.addInPlace(p.storage, saved[i].storage, p.size, -eta * weightDecay);
    const buf = buffers.get(p);
    if (buf) be.addInPlace(p.storage, buf.storage, p.size, -eta * momentum);
  });
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
  const loss = await lossOf(m, valid);
  params.forEach((p, i) => { be.copy(saved[i].storage, p.storage, p.size); saved[i].dispose(); });
  return loss;
}

/**
 * The directional derivative of f at the current α along unit vector d, as the least-squares slope of
 * f(α + t·d) over t = k·step, k = −K..K: symmetric points cancel the even Taylor terms, and many
 * points average out the f32 rounding of the loss.
 */
async function directionalSlope(m: BaseMethod, f: () => Promise<number>, d: Float32Array, step = 1e-3, K = 6): Promise<number> {
  const base = await m.alphaValues();
  let num = 0, den = 0;
  for (let k = -K; k <= K; k++) {
    const t = k * step;
    setAlpha(m, base.map((v, i) => v + t * d[i]));
    num += t * (await f());
    den += t * t;
  }
  setAlpha(m, base);
  return num / den;
}

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A random unit direction within the enabled α entries. */
function randomDirection(seed: number): Float32Array {
  const r = new Rng(seed);
  return unit(new Float32Array(30).map((_, i) => (MASK[i] ? r.normal() : 0)));
}

// Parameter-free ops only (no ReLU in the cells), one edge restricted further so masked α entries
// are covered too.
let MASK = fullMask();
for (let e = 0; e < 6; e++) MASK = restrictMask(MASK, e, e === 2 ? [OP_SKIP, OP_AVG_POOL] : [OP_NONE, OP_SKIP, OP_AVG_POOL]);

/** Shift every affine BN by β = 10 (γ = 0.5) and make the shortcut convs positive: all ReLU inputs
 *  stay positive, so the network is a smooth function of α and of the weights. */
async function makeSmooth(m: BaseMethod): Promise<void> {
  for (const [name, t] of m.supernet.namedParameters()) {
    if (t.rank === 1 && !name.startsWith('classifier')) be.write(t.storage, new Float32Array(t.size).fill(name.endsWith('.bias') ? 10 : 0.5));
    if (name.endsWith('downsample.1.weight')) be.write(t.storage, (await t.data()).map(Math.abs));
    if (name === 'classifier.weight') be.write(t.storage, (await t.data()).map((v) => 0.1 * v)); // moderate logits
  }
}

async function makeMethod(name: 'darts' | 'darts2'): Promise<{ m: BaseMethod; train: DeviceBatch; valid: DeviceBatch }> {
  const m = createBaseMethod(name, {
    backend: be, sizes: SIZES, imageShape: [2, 8, 8], mask: MASK, seed: 3,
    hyper: { alphaInitStd: 1 }, // non-uniform θ so that every entry has its own gradient
  });
  const train = batch(10), valid = batch(11);
  // one weight step so that SGD momentum buffers exist and enter w'
  await m.trainStep(batch(12), null, { updateArch: false });
  await makeSmooth(m);
  m.lr = 0.05;
  return { m, train, valid };
}

test('DARTS first order: α gradient equals finite differences of L_valid(w, α)', async () => {
  const { m, train, valid } = await makeMethod('darts');
  const g = await m.architectureGradient(train, valid);
  for (const [label, d] of [['gradient direction', unit(g)], ['random direction', randomDirection(1)]] as const) {
    const fd = await directionalSlope(m, () => lossOf(m, valid), d);
    const ours = dot(g, d);
    assert.ok(Math.abs(ours - fd) < 0.01 * Math.abs(dot(g, unit(g))), `${label}: analytic ${ours}, finite differences ${fd}`);
  }
  for (let i = 0; i < 30; i++) if (!MASK[i]) assert.is(g[i], 0, `masked entry ${i}`);
  m.dispose();
});

test('DARTS second order: unrolled hypergradient equals finite differences of f(α)', async () => {
  const { m, train, valid } = await makeMethod('darts2');
  const weightsBefore = await Promise.all(m.supernet.parameters().map((p) => p.data()));
  const g2 = await m.architectureGradient(train, valid);
  // computing the gradient leaves the weights exactly as they were
  const weightsAfter = await Promise.all(m.supernet.parameters().map((p) => p.data()));
  weightsBefore.forEach((w, i) => assert.equal(Array.from(weightsAfter[i]), Array.from(w)));
  for (let i = 0; i < 30; i++) if (!MASK[i]) assert.is(g2[i], 0, `masked entry ${i}`);
  // The implicit term (what the Hessian-vector product adds to ∂α L_valid(w', α)) must be large here,
  // and its direction is where a wrong or missing term would show most.
  const partial = await partialAtUnrolled(m, train, valid);
  const implicit = g2.map((v, i) => v - partial[i]);
  const scale = Math.hypot(...g2);
  assert.ok(Math.hypot(...implicit) > 0.2 * scale, `implicit term ${Math.hypot(...implicit)} vs gradient ${scale}`);
  const f = (): Promise<number> => unrolledLoss(m, train, valid);
  for (const [label, d] of [['implicit-term direction', unit(implicit)], ['gradient direction', unit(g2)], ['random direction', randomDirection(2)]] as const) {
    const fd = await directionalSlope(m, f, d);
    assert.ok(Math.abs(dot(g2, d) - fd) < 0.03 * scale, `${label}: hypergradient ${dot(g2, d)}, finite differences ${fd}`);
    if (label === 'implicit-term direction') {
      assert.ok(Math.abs(dot(partial, d) - fd) > 0.15 * scale, `${label}: the partial derivative alone should miss (${dot(partial, d)} vs ${fd})`);
    }
  }
  m.dispose();
});

/** ∂α L_valid(w', α) with w' held fixed: the second-order gradient minus its implicit term. */
async function partialAtUnrolled(m: BaseMethod, train: DeviceBatch, valid: DeviceBatch): Promise<Float32Array> {
  const params = m.supernet.parameters();
  const saved = params.map((p) => { const c = keep(Tensor.empty(be, p.shape)); be.copy(p.storage, c.storage, p.size); return c; });
  // move to w' by evaluating the unrolled update once more, keeping the weights there
  const { momentum, weightDecay } = m.hyper;
  const buffers = new Map<Tensor, Tensor>();
  for (const [key, t] of m.weightOptimizer.stateTensors()) buffers.set(params[Number(key.split('.')[0])], t);
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
  tidy(() => backward(crossEntropy(m.supernet.forward(train.x, m.sampleArch()), train.y)));
  params.forEach((p, i) => {
    if (!p.grad) return;
    be.addInPlace(p.storage, p.grad.storage, p.size, -m.lr);
    be.addInPlace(p.storage, saved[i].storage, p.size, -m.lr * weightDecay);
    const buf = buffers.get(p);
    if (buf) be.addInPlace(p.storage, buf.storage, p.size, -m.lr * momentum);
  });
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
  m.alpha.grad?.dispose(); m.alpha.grad = null;
  tidy(() => backward(crossEntropy(m.supernet.forward(valid.x, m.sampleArch({ withGrad: true })), valid.y)));
  const g = await m.alpha.grad!.data();
  m.alpha.grad!.dispose(); m.alpha.grad = null;
  for (const p of params) { p.grad?.dispose(); p.grad = null; }
  params.forEach((p, i) => { be.copy(saved[i].storage, p.storage, p.size); saved[i].dispose(); });
  return g;
}

test.run();
