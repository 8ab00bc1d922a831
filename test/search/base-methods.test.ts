// The base methods end to end on a tiny supernet: schedules against the spec's numbers, steps that
// move what they should (and nothing else), the Adam step's exact effect, derivation under masks,
// RSPS selection, torch-1 zero-grad semantics, spawning children, checkpoint state, and running on
// src/data's real sampler.
import { test } from 'uvu';
import { learnableSource } from '../helpers/batches.js';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, noGrad } from '../../src/engine/index.js';
import {
  createBaseMethod, epochLr, epochTau, resolveHyper, BASE_METHOD_PRESETS, type BaseMethod, type HostBatch,
  type DeviceBatch, type BaseMethodName,
} from '../../src/search/index.js';
import { fullMask, restrictMask, maskAdmits, OP_NONE, OP_SKIP, OP_CONV_1X1, OP_CONV_3X3, OP_AVG_POOL } from '../../src/spaces/nb201/ops.js';
import { isConnected, connectedGenotypes, sampleConnected } from '../../src/spaces/nb201/connectivity.js';
import { parseGenotype, formatGenotype } from '../../src/spaces/nb201/genotype.js';
import { singlePathSample, type Nb201Supernet } from '../../src/spaces/nb201/supernet.js';
import { Rng } from '../../src/data/rng.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler, evalBatches } from '../../src/data/sampler.js';
import { splitTrainForSearch } from '../../src/data/split.js';

const be = new CpuBackend();
const SIZES = { C: 4, N: 1, inputChannels: 3, numClasses: 4 };
const SHAPE = [3, 8, 8] as const;

const source = learnableSource;

function device(b: HostBatch): DeviceBatch {
  return { x: Tensor.fromArray(be, b.x, [b.n, ...SHAPE]), y: Tensor.fromArray(be, b.y, [b.n]), n: b.n };
}

function make(name: BaseMethodName, o: { mask?: Uint8Array; seed?: number; hyper?: Record<string, unknown> } = {}): BaseMethod {
  return createBaseMethod(name, { backend: be, sizes: SIZES, imageShape: SHAPE, mask: o.mask, seed: o.seed ?? 1, hyper: o.hyper });
}

async function params(m: BaseMethod): Promise<Float32Array[]> {
  return Promise.all(m.supernet.parameters().map((p) => p.data()));
}

test('schedules reproduce the spec: cosine lr per epoch, SNAS and GDAS temperatures', () => {
  const darts = resolveHyper('darts');
  assert.is(epochLr(darts, 0, 60), 0.025);
  assert.ok(Math.abs(epochLr(darts, 30, 60) - (0.001 + 0.024 / 2)) < 1e-12);
  // spec §3.1: restarted leaves keep T_max = 60 and stop at epoch 29 → lr ≈ 0.0136; RSPS 49/90 → ≈ 0.0113
  assert.ok(Math.abs(epochLr(darts, 29, 60) - 0.0136) < 5e-5, `${epochLr(darts, 29, 60)}`);
  assert.ok(Math.abs(epochLr(resolveHyper('rsps'), 49, 90) - 0.0113) < 5e-5, `${epochLr(resolveHyper('rsps'), 49, 90)}`);
  // spec §2.3: restarted SNAS leaves, T = 30: τ goes 1.0 → 0.13
  const snas = resolveHyper('snas');
  assert.is(epochTau('snas', snas, 0, 30), 1);
  assert.ok(Math.abs(epochTau('snas', snas, 29, 30) - 0.13) < 1e-12);
  assert.is(epochTau('snas', snas, 80, 60), 0.1);
  // spec §2.5: GDAS τ 10 → 0.1 over E − 1
  const gdas = resolveHyper('gdas');
  assert.is(epochTau('gdas', gdas, 0, 250), 10);
  assert.ok(Math.abs(epochTau('gdas', gdas, 249, 250) - 0.1) < 1e-12);
  assert.ok(Number.isNaN(epochTau('darts', darts, 3, 60)));
  // preset constants (spec §2.1)
  const p = BASE_METHOD_PRESETS;
  assert.equal([p.darts2.batchSize, p.darts2.lr, p.darts2.momentum, p.darts2.weightDecay, p.darts2.archLr, p.darts2.archWeightDecay],
    [48, 0.025, 0.9, 5e-4, 3e-4, 1e-3]);
  assert.equal(p.darts2.archBetas, [0.5, 0.999]);
  assert.equal([p.rsps.weightDecay, p.rsps.trackCellStats, p.rsps.epochs, p.rsps.selectionCandidates], [1e-4, false, 90, 200]);
  assert.equal([p.snas.alphaInitMean, p.snas.alphaInitStd, p.snas.tauMax, p.snas.tauMin], [1, 0.01, 1, 0.1]);
  assert.equal([p.gdas.batchSize, p.gdas.epochs, p.gdas.tauMax], [64, 250, 10]);
  assert.throws(() => resolveHyper('darts', { lr: -1 }), /lr must be a positive number/);
  assert.throws(() => createBaseMethod('enas', { backend: be, sizes: SIZES, imageShape: SHAPE, seed: 1 }), /unknown base method 'enas'/);
});

test('α initialisation follows the presets (DARTS 1e-3·randn, SNAS N(1, 0.01))', async () => {
  const a = await make('darts').alphaValues();
  const s = await make('snas').alphaValues();
  const mean = (v: Float32Array): number => v.reduce((x, y) => x + y, 0) / v.length;
  assert.ok(Math.abs(mean(a)) < 1e-3 && Math.max(...a.map(Math.abs)) < 5e-3);
  assert.ok(Math.abs(mean(s) - 1) < 0.01 && Math.max(...s.map((v) => Math.abs(v - 1))) < 0.05);
});

for (const name of ['darts', 'darts2', 'snas', 'rsps', 'gdas'] as const) {
  test(`${name}: an epoch trains the weights; α moves only when asked (never for RSPS)`, async () => {
    const m = make(name);
    m.setEpoch(0, 10);
    const a0 = await m.alphaValues();
    const w0 = await params(m);
    const frozen = await m.trainEpoch({ steps: 2, train: source(1), valid: source(2), updateArch: false });
    assert.equal(Array.from(await m.alphaValues()), Array.from(a0), 'α frozen');
    assert.is(frozen.count, 16);
    assert.ok(Number.isFinite(frozen.loss) && frozen.accuracy >= 0 && frozen.accuracy <= 100);
    const w1 = await params(m);
    assert.ok(w1.some((w, i) => w.some((v, j) => v !== w0[i][j])), 'weights moved');
    const stats = await m.trainEpoch({ steps: 3, train: source(3), valid: source(4), updateArch: true });
    assert.is(stats.count, 24);
    const a1 = await m.alphaValues();
    const moved = a1.some((v, i) => v !== a0[i]);
    assert.is(moved, name !== 'rsps', 'α moves iff the method has an α step');
    // Adam's step is bounded by lr·(1−β1)/√(1−β2) per entry (β = 0.5, 0.999)
    for (let i = 0; i < 30; i++) assert.ok(Math.abs(a1[i] - a0[i]) <= 3 * 3e-4 * 0.5 / Math.sqrt(1e-3) + 1e-7);
    m.dispose();
  });
}

test('DARTS and SNAS: one α step is exactly Adam\'s first step on the architecture gradient', async () => {
  for (const name of ['darts', 'snas'] as const) {
    const mask = restrictMask(fullMask(), 1, [OP_SKIP, OP_CONV_3X3]);
    const m = make(name, { mask });
    const train = device(source(5).next()), valid = device(source(6).next());
    const rngState = m.rng.state();
    const g = await m.architectureGradient(train, valid);
    m.rng.restore(rngState); // the α step draws the same Gumbel noise (SNAS)
    const a0 = await m.alphaValues();
    await m.trainStep(train, valid, { updateArch: true });
    const a1 = await m.alphaValues();
    for (let i = 0; i < 30; i++) {
      // first Adam step: Δ = −lr·ĝ/(|ĝ| + eps) with ĝ = g + wd·α
      const gHat = g[i] + 1e-3 * a0[i];
      const expected = -3e-4 * gHat / (Math.abs(gHat) + 1e-8);
      assert.ok(Math.abs((a1[i] - a0[i]) - expected) < 2e-6, `${name} entry ${i}: ${a1[i] - a0[i]} vs ${expected}`);
      if (!mask[i]) assert.is(g[i], 0, `${name}: masked entry ${i} has no loss gradient`);
    }
    m.dispose();
  }
});

test('samples: DARTS/SNAS rows are distributions over enabled ops; RSPS paths are connected; GDAS one op per edge', async () => {
  const mask = restrictMask(restrictMask(fullMask(), 0, [OP_NONE, OP_CONV_1X1]), 4, [OP_SKIP, OP_AVG_POOL, OP_CONV_3X3]);
  for (const name of ['darts', 'snas'] as const) {
    const m = make(name, { mask });
    const w = await tidy(() => m.sampleArch()).weights!.data();
    for (let e = 0; e < 6; e++) {
      const row = w.slice(e * 5, e * 5 + 5);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      for (let o = 0; o < 5; o++) if (!mask[e * 5 + o]) assert.is(row[o], 0);
    }
    m.dispose();
  }
  const r = make('rsps', { mask });
  for (let k = 0; k < 50; k++) {
    const g = r.sampleArch().ops.map((ops) => { assert.is(ops.length, 1); return ops[0]; });
    assert.ok(isConnected(g) && maskAdmits(mask, g));
  }
  const gd = make('gdas', { mask });
  assert.throws(() => gd.sampleArch(), /alphaHost/);
  const s = tidy(() => gd.sampleArch({ withGrad: true, alphaHost: new Float32Array(30) }));
  assert.ok(s.ops.every((ops) => ops.length === 1));
  assert.ok(s.ops.every((ops, e) => mask[e * 5 + ops[0]] === 1));
  assert.equal(s.weightOnly![4].length, 2);
  r.dispose(); gd.dispose();
});

test('derivation: argmax of the masked α, none included', async () => {
  const mask = restrictMask(fullMask(), 2, [OP_SKIP, OP_CONV_1X1]);
  for (const name of ['darts', 'darts2', 'snas', 'gdas'] as const) {
    const m = make(name, { mask });
    const a = new Float32Array(30);
    a[0 * 5 + OP_NONE] = 2; a[0 * 5 + OP_CONV_3X3] = 1;     // none wins edge 0
    a[1 * 5 + OP_AVG_POOL] = 0.5;                             // pool wins edge 1
    a[2 * 5 + OP_CONV_3X3] = 9; a[2 * 5 + OP_CONV_1X1] = 0.1; // 3×3 is masked on edge 2
    a[3 * 5 + OP_SKIP] = 0.2; a[4 * 5 + OP_CONV_3X3] = 0.3; a[5 * 5 + OP_CONV_1X1] = 0.4;
    be.write(m.alpha.storage, a);
    const d = await m.derive();
    assert.equal(d.genotype, [OP_NONE, OP_AVG_POOL, OP_CONV_1X1, OP_SKIP, OP_CONV_3X3, OP_CONV_1X1]);
    assert.is(d.genotypeString, formatGenotype(d.genotype));
    assert.equal(d.alpha, Array.from(a));
    m.dispose();
  }
});

test('RSPS selection: best of the unique connected architectures the mask admits, scored on the valid data', async () => {
  // edges 0..2 fixed, edge 3 ∈ {none, 3×3}, edge 4 ∈ {none, skip}, edge 5 ∈ {none, pool}: 8 cells, 7 connected
  let mask = fullMask();
  const keep: number[][] = [[OP_CONV_3X3], [OP_SKIP], [OP_CONV_1X1], [OP_NONE, OP_CONV_3X3], [OP_NONE, OP_SKIP], [OP_NONE, OP_AVG_POOL]];
  keep.forEach((ops, e) => { mask = restrictMask(mask, e, ops); });
  const m = make('rsps', { mask });
  await m.trainEpoch({ steps: 4, train: source(7), updateArch: false });
  const valid = [source(8).next(), source(9).next()];
  const d = await m.derive({ valid });
  const admitted = connectedGenotypes(mask);
  assert.is(admitted.length, 7);
  assert.is(d.candidates!.length, 7);
  assert.is(new Set(d.candidates!.map((c) => c.genotype)).size, 7);
  const best = Math.max(...d.candidates!.map((c) => c.accuracy));
  assert.is(d.candidates!.find((c) => c.accuracy === best)!.genotype, d.genotypeString);
  // the reported score is the eval-mode accuracy of that single path
  const check = await m.evaluate(valid, { arch: d.genotype, bn: 'eval' });
  assert.ok(Math.abs(check.accuracy - best) < 1e-9);
  await m.derive().then(() => assert.unreachable('needs valid'), (e: Error) => assert.match(e.message, /validation data/));
  m.dispose();
});

test('RSPS with torch-1 zero-grad semantics keeps moving parameters on steps that do not use them', async () => {
  let mask = fullMask();
  for (let e = 0; e < 6; e++) mask = restrictMask(mask, e, e === 3 ? [OP_SKIP, OP_CONV_3X3] : [OP_SKIP]);
  for (const torch1 of [true, false]) {
    const m = make('rsps', { mask, hyper: { torch1ZeroGrad: torch1 } });
    const conv = (m.supernet as Nb201Supernet).edgeOpParameters(3, OP_CONV_3X3)[0];
    let usedBefore = false, checked = 0;
    for (let k = 0; k < 12; k++) {
      const predicted = sampleConnected(Rng.fromState(m.rng.state()), mask); // the path this step will draw
      const before = await conv.data();
      const b = device(source(20 + k).next());
      await m.trainStep(b, null, { updateArch: false });
      const after = await conv.data();
      const changed = after.some((v, i) => v !== before[i]);
      if (predicted[3] === OP_CONV_3X3) { assert.ok(changed); usedBefore = true; }
      else if (usedBefore) { assert.is(changed, torch1, `unused step ${k}, torch1ZeroGrad ${torch1}`); checked++; }
      else assert.not.ok(changed);
    }
    assert.ok(checked > 0, 'the seed must produce an unused step after a used one');
    m.dispose();
  }
});

test('spawn: an inheriting child continues exactly like its parent; a restarted child is fresh', async () => {
  const m = make('darts');
  await m.trainEpoch({ steps: 2, train: source(30), valid: source(31), updateArch: false });
  // same mask: the next step of parent and child is identical only if SGD momentum was inherited
  const twin = m.spawn(fullMask(), { inherit: true, seed: 99 });
  assert.equal(Array.from(await twin.alphaValues()), Array.from(await m.alphaValues()));
  const b = device(source(32).next());
  await m.trainStep(b, null, { updateArch: false });
  await twin.trainStep(b, null, { updateArch: false });
  const [pm, pt] = [await params(m), await params(twin)];
  pm.forEach((w, i) => assert.equal(Array.from(pt[i]), Array.from(w)));
  // a restricted child computes what the parent computes on the child's ops
  const mask = restrictMask(fullMask(), 3, [OP_SKIP, OP_CONV_1X1]);
  const child = m.spawn(mask, { inherit: true, seed: 5 });
  const path = singlePathSample([3, 1, 2, 1, 3, 4]);
  m.supernet.eval(); child.supernet.eval();
  const [lp, lc] = tidy(() => noGrad(() => [m.supernet.forward(b.x, path), child.supernet.forward(b.x, path)]));
  assert.equal(Array.from(await lc.data()), Array.from(await lp.data()));
  // restart: fresh weights, fresh schedule state
  const fresh = m.spawn(mask, { inherit: false, seed: 1 });
  const f0 = await params(fresh);
  assert.ok(f0.some((w, i) => w.some((v, j) => v !== pm[i][j])), 'restart re-initialises');
  assert.is(fresh.lr, fresh.hyper.lr);
  for (const x of [m, twin, child, fresh]) x.dispose();
});

test('exportState / importState restore supernet, α, rng and bookkeeping', async () => {
  const a = make('rsps', { seed: 5 });
  await a.trainEpoch({ steps: 3, train: source(40), updateArch: false });
  a.lr = 0.0123;
  const { tensors, meta } = await a.exportState();
  assert.ok(tensors.some((t) => t.name === 'arch_parameters'));
  assert.ok(tensors.some((t) => t.name.startsWith('optimizer.sgd.cells.0.edges.')));
  const decoded = new Map(tensors.map((t) => [t.name, { dtype: t.data instanceof BigInt64Array ? 'I64' : 'F32', shape: [...t.shape], data: Float32Array.from(t.data as ArrayLike<number>, Number) }]));
  const b = make('rsps', { seed: 6 });
  b.importState(decoded, meta, 'ckpt'); // optimizer state is restored exactly now (test/search/resume-exact.test.ts)
  b.importState(decoded, meta, 'ckpt', { allowOptimizerReset: true });
  assert.is(b.lr, 0.0123);
  assert.equal(b.rng.state(), a.rng.state());
  const x = device(source(41).next());
  a.supernet.eval(); b.supernet.eval();
  const g = parseGenotype('|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|');
  const [la, lb] = tidy(() => noGrad(() => [a.supernet.forward(x.x, singlePathSample(g)), b.supernet.forward(x.x, singlePathSample(g))]));
  assert.equal(Array.from(await la.data()), Array.from(await lb.data()));
  const other = make('darts');
  assert.throws(() => other.importState(decoded, meta, 'ckpt', { allowOptimizerReset: true }), /method 'rsps'/);
  for (const m of [a, b, other]) m.dispose();
});

test('runs on src/data: synthetic images through BatchSampler halves and evalBatches', async () => {
  const ds = generateSynthetic({ split: 'train', size: 48, seed: 1 });
  const split = splitTrainForSearch(ds);
  const train = new BatchSampler(ds, { batchSize: 8, seed: 1, indices: split.weights, sampling: 'independent', augment: true });
  const valid = new BatchSampler(ds, { batchSize: 8, seed: 2, indices: split.arch, sampling: 'independent', augment: true });
  const m = createBaseMethod('snas', { backend: be, sizes: { C: 2, N: 1, inputChannels: 3, numClasses: 10 }, imageShape: [3, 32, 32], seed: 3 });
  m.setEpoch(0, 2);
  const stats = await m.trainEpoch({ steps: 2, train, valid, updateArch: true });
  assert.is(stats.count, 16);
  const ev = await m.evaluate(() => evalBatches(ds, 16, { indices: split.arch }), { bn: 'train' });
  assert.is(ev.count, 24);
  assert.ok(Number.isFinite(ev.loss));
  assert.throws(() => createBaseMethod('snas', { backend: be, sizes: { ...SIZES, inputChannels: 1 }, imageShape: [3, 8, 8], seed: 1 }), /3 channels/);
  await m.trainEpoch({ steps: 1, train, updateArch: true }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /valid/));
  m.dispose();
});

test.run();
