// ProxylessNAS's expected-FLOPs loss on α (src/search/flops-loss.ts, used by src/search/proxyless.ts):
//  - the space's per-op multiply-adds add up to its cost model (mobileNetCost, checked against PyTorch
//    hooks elsewhere) on random genotypes;
//  - E(α) equals an expectation computed from whole-network costs only, and ∂E/∂α its central differences;
//  - both loss forms' derivatives equal central differences;
//  - through the method: the α gradient with 'add#linear' is the plain one plus λ/T·∂E/∂α on the blocks
//    that have a gradient (same draw), and a tight target moves α towards cheaper ops;
//  - bad flags fail before any work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { expectedMacs, flopsLoss } from '../../src/search/flops-loss.js';
import { Rng } from '../../src/data/rng.js';
import { getSpace } from '../../src/spaces/registry.js';
import { defaultSearchConfig, validateSearchConfig } from '../../src/nas/config.js';
import { scaledValues } from './nb201-recipe.js';
import { checkGateGradient, proxylessFixture } from '../helpers/gate-gradients.js';

const be = new CpuBackend();
const space = getSpace('mobilenet');
const { rows, cols } = space;
const SIZES = { C: 4, N: 1, inputChannels: 1, numClasses: 3 };
const RES = 8;
const enabled = (d: number) => space.enabledOps(space.fullMask(), d);
const { make, batch } = proxylessFixture(be, space, SIZES, RES);

test('per-op multiply-adds add up to the cost model on random genotypes', () => {
  const t = space.opMacs!(SIZES, 32);
  const rng = new Rng(5);
  for (let k = 0; k < 20; k++) {
    const g = space.sampleSinglePath(rng, space.fullMask());
    const sum = t.fixed + g.reduce((s, j, d) => s + t.ops[d][j], 0);
    assert.is(sum, space.cost!(g, SIZES, 32).macs, `genotype ${space.formatGenotype(g)}`);
  }
  // padding columns (zero on blocks without a shortcut) have no cost
  assert.ok(Number.isNaN(t.ops[0][6]));
});

test('E(α) from whole-network costs, and ∂E/∂α by central differences', () => {
  const t = space.opMacs!(SIZES, RES);
  const g0 = Array<number>(rows).fill(0);
  const cost = (g: number[]) => space.cost!(g, SIZES, RES).macs;
  // additivity gives E = Σ_d Σ_j p_dj·cost(g0 with d → j) − (rows − 1)·cost(g0), costs of whole networks only
  const brute = (a: ArrayLike<number>): number => {
    let e = -(rows - 1) * cost(g0);
    for (let d = 0; d < rows; d++) {
      const en = enabled(d);
      const z = en.reduce((s, j) => s + Math.exp(a[d * cols + j]), 0);
      for (const j of en) e += (Math.exp(a[d * cols + j]) / z) * cost(g0.map((o, k) => (k === d ? j : o)));
    }
    return e;
  };
  const a = Float64Array.from(scaledValues('flops-alpha', rows * cols, 1));
  const r = expectedMacs(a, cols, enabled, t);
  assert.ok(Math.abs(r.value - brute(a)) < 1e-6 * r.value, `E ${r.value} vs ${brute(a)}`);
  const h = 1e-4;
  let largest = 0;
  for (let d = 0; d < rows; d++) {
    for (const j of enabled(d)) {
      const up = Float64Array.from(a), dn = Float64Array.from(a);
      up[d * cols + j] += h; dn[d * cols + j] -= h;
      const fd = (brute(up) - brute(dn)) / (2 * h);
      assert.ok(Math.abs(r.grad[d * cols + j] - fd) < 1e-5 * r.value, `block ${d} op ${j}: ${r.grad[d * cols + j]} vs ${fd}`);
      largest = Math.max(largest, Math.abs(fd));
    }
    for (let j = 0; j < cols; j++) if (!enabled(d).includes(j)) assert.is(r.grad[d * cols + j], 0);
  }
  assert.ok(largest > 1e-3 * r.value, 'gradient too small to test anything');
});

test('loss forms: derivatives in CE and E equal central differences', () => {
  for (const type of ['mul#log', 'add#linear'] as const) {
    const s = { target: 2e5, type, alpha: 0.2, beta: 0.3, lambda: 0.1 };
    for (const [ce, e] of [[2.3, 3e5], [0.7, 1.2e5]]) {
      const f = flopsLoss(ce, e, s);
      const hc = 1e-6, he = 1;
      const dCe = (flopsLoss(ce + hc, e, s).loss - flopsLoss(ce - hc, e, s).loss) / (2 * hc);
      const dE = (flopsLoss(ce, e + he, s).loss - flopsLoss(ce, e - he, s).loss) / (2 * he);
      assert.ok(Math.abs(f.dCe - dCe) < 1e-6, `${type} dCe ${f.dCe} vs ${dCe}`);
      assert.ok(Math.abs(f.dE - dE) < 1e-6 * Math.abs(dE) + 1e-14, `${type} dE ${f.dE} vs ${dE}`);
    }
  }
  assert.throws(() => flopsLoss(1, 10, { target: 1, type: 'mul#log', alpha: 1, beta: 1, lambda: 1 }), /flops target 1 must be > 1/);
});

test('through the method: add#linear adds λ/T·∂E/∂α to the binary-gate gradient on the blocks that have one', async () => {
  const T = 1e5, lambda = 0.1;
  const plain = make(7), reg = make(7, { flopsTarget: T, flopsLoss: 'add#linear', flopsLambda: lambda });
  const train = batch('ft'), valid = batch('fv');
  try {
    const a0 = Float32Array.from(scaledValues('flops-a0', rows * cols, 0.5));
    be.write(plain.alpha.storage, a0);
    be.write(reg.alpha.storage, a0);
    const before = reg.rng.state();
    const gPlain = await plain.architectureGradient(train, valid);
    const gReg = await reg.architectureGradient(train, valid);
    const e = expectedMacs(a0, cols, enabled, space.opMacs!(SIZES, RES));
    assert.ok(Math.abs(reg.expectedMacs(a0) - e.value) < 1e-6 * e.value);
    // the same draw as both methods made (same seed and stream): the blocks with an α gradient
    const replay = new Rng(0);
    replay.restore(before);
    const draw = reg.drawBinaryGates(a0, replay);
    const withGrad = checkGateGradient(rows, cols, draw.involved, gReg, (_d, _j, k) => gPlain[k] + (lambda / T) * e.grad[k]);
    assert.ok(withGrad >= 8, `${withGrad} blocks with a gradient`);
  } finally {
    for (const t of [train.x, train.y, valid.x, valid.y]) t.dispose();
    plain.dispose(); reg.dispose();
  }
});

test('a tight target moves α towards cheaper ops', async () => {
  const t = space.opMacs!(SIZES, RES);
  const cheapest = (d: number) => enabled(d).reduce((b, j) => (t.ops[d][j] < t.ops[d][b] ? j : b));
  const dearest = (d: number) => enabled(d).reduce((b, j) => (t.ops[d][j] > t.ops[d][b] ? j : b));
  // λ large: the regulariser dominates the cross-entropy's share of every block's gradient
  const m = make(8, { flopsTarget: t.fixed, flopsLoss: 'add#linear', flopsLambda: 1e4 });
  const train = batch('tt'), valid = batch('tv');
  try {
    const a0 = await m.alphaValues();
    const e0 = m.expectedMacs(a0);
    for (let s = 0; s < 4; s++) await (m as unknown as { archStep(t: unknown, v: unknown, h: Float32Array): Promise<void> }).archStep(train, valid, await m.alphaValues());
    const a1 = await m.alphaValues();
    assert.ok(m.expectedMacs(a1) < e0, `E ${m.expectedMacs(a1)} did not fall below ${e0}`);
    let moved = 0;
    for (let d = 0; d < rows; d++) {
      const c = d * cols + cheapest(d), x = d * cols + dearest(d);
      const gap = (a1[c] - a1[x]) - (a0[c] - a0[x]);
      if (gap !== 0) { assert.ok(gap > 0, `block ${d}: cheapest − dearest moved by ${gap}`); moved++; }
    }
    assert.ok(moved >= 10, `${moved} blocks moved`);
  } finally {
    for (const x of [train.x, train.y, valid.x, valid.y]) x.dispose();
    m.dispose();
  }
});

test('flags: --flops-target needs --base proxyless and a number; --flops-loss its form and a target', () => {
  const c = defaultSearchConfig({ space: 'mobilenet' });
  assert.throws(() => validateSearchConfig({ ...c, base: 'rsps', flopsTarget: 3e8 }), /--flops-target: the expected-FLOPs loss is ProxylessNAS's; it needs --base proxyless/);
  assert.throws(() => validateSearchConfig({ ...c, flopsTarget: 0.5 }), /--flops-target: expected a number of multiply-adds > 1/);
  assert.throws(() => validateSearchConfig({ ...c, flopsTarget: 3e8, flopsLoss: 'mul' as never }), /--flops-loss: expected mul#log or add#linear/);
  assert.throws(() => validateSearchConfig({ ...c, flopsLoss: 'add#linear' }), /--flops-loss: needs --flops-target/);
  validateSearchConfig({ ...c, flopsTarget: 3e8, flopsLoss: 'add#linear' });
  assert.throws(() => validateSearchConfig({ ...defaultSearchConfig({ space: 'nb201' }), base: 'proxyless', flopsTarget: 3e8 }), /--flops-target: the nb201 space has no per-op cost model/);
});

test.run();
