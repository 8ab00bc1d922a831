// Exact resume: a base method's search state written to a checkpoint file and loaded into a fresh
// method continues bit-identically — weights, BN statistics, α, SGD momentum, α's Adam moments and
// step counts, lr, the sampling stream. Also the optimizers' state import itself, and `spawn`
// inheriting α's Adam state. CPU backend, C = 4, N = 1, 8×8 images.
import { test } from 'uvu';
import { learnableSource } from '../helpers/batches.js';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, SGD, Adam, backward, tidy, mul, sum } from '../../src/engine/index.js';
import { createBaseMethod, type BaseMethod, type BaseMethodName } from '../../src/search/index.js';
import { saveMethodCheckpoint, loadMethodCheckpoint } from '../../src/search/checkpoints.js';
import { fullMask } from '../../src/spaces/nb201/ops.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/fs.js';

const be = new CpuBackend();
const SIZES = { C: 4, N: 1, inputChannels: 3, numClasses: 4 };
const SHAPE = [3, 8, 8] as const;
const STEPS = 3;
const dir = mkdtempSync(join(tmpdir(), 'gmnas-resume-'));

const source = learnableSource;

function make(name: BaseMethodName, seed: number): BaseMethod {
  return createBaseMethod(name, { backend: be, sizes: SIZES, imageShape: SHAPE, seed });
}

async function epoch(m: BaseMethod, e: number, total: number, seed: number): Promise<void> {
  m.setEpoch(e, total);
  await m.trainEpoch({ steps: STEPS, train: source(seed), valid: source(seed + 1000), updateArch: m.hasArchStep });
}

/** Every state tensor (parameters and BN buffers) plus α, as host arrays. */
async function snapshot(m: BaseMethod): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [n, t] of m.supernet.stateDict()) out.set(n, Array.from(await t.data()));
  out.set('arch_parameters', Array.from(await m.alphaValues()));
  return out;
}

function assertSame(a: Map<string, number[]>, b: Map<string, number[]>, label: string): void {
  assert.equal([...a.keys()], [...b.keys()], `${label}: names`);
  for (const [n, v] of a) {
    const w = b.get(n)!;
    const bad = v.findIndex((x, i) => !Object.is(x, w[i]));
    assert.ok(bad < 0, `${label}: ${n}[${bad}] ${v[bad]} vs ${w[bad]}`);
  }
}

function differs(a: Map<string, number[]>, b: Map<string, number[]>): boolean {
  for (const [n, v] of a) if (v.some((x, i) => !Object.is(x, b.get(n)![i]))) return true;
  return false;
}

test('SGD.loadStateTensors / Adam.loadStateTensors are the inverse of stateTensors (+ stepCounts)', async () => {
  const mk = (seed: number) => [Tensor.fromArray(be, new Float32Array(6).map((_, i) => seed + i), [2, 3]).param('a'),
    Tensor.fromArray(be, new Float32Array(4).map((_, i) => seed - i), [4]).param('b')];
  const step = (ps: Tensor[], opts: (SGD | Adam)[]) => {
    for (const o of opts) o.zeroGrad();
    // only the first parameter gets a gradient: the second keeps no state
    tidy(() => backward(sum(mul(ps[0], ps[0]))));
    for (const o of opts) o.step();
  };
  const p = mk(1), q = mk(1);
  const sgdP = new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 });
  const adamP = new Adam(p, { lr: 0.01 });
  step(p, [sgdP]); step(p, [sgdP]);
  const sgdQ = new SGD(q, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 });
  for (const [i, t] of p.entries()) be.write(q[i].storage, await t.data());
  const host = await Promise.all([...sgdP.stateTensors()].map(async ([k, t]) => [k, await t.data()] as const));
  assert.equal(host.map(([k]) => k), ['0.momentum_buffer']);
  sgdQ.loadStateTensors(host);
  step(p, [sgdP]); step(q, [sgdQ]);
  assert.equal(Array.from(await q[0].data()), Array.from(await p[0].data()));
  // Adam: moments and step counts
  step(p, [adamP]); step(p, [adamP]);
  const adamQ = new Adam(q, { lr: 0.01 });
  for (const [i, t] of p.entries()) be.write(q[i].storage, await t.data());
  adamQ.loadStateTensors(adamP.stateTensors(), adamP.stepCounts()); // tensors: copied on the device
  assert.equal(adamQ.stepCounts(), [2, 0]);
  step(p, [adamP]); step(q, [adamQ]);
  assert.equal(Array.from(await q[0].data()), Array.from(await p[0].data()));
  // loading replaces everything: an empty state is "never stepped"
  adamQ.loadStateTensors([], [0, 0]);
  assert.equal(adamQ.stepCounts(), [0, 0]);
  assert.is(adamQ.stateTensors().size, 0);
  // errors name what is wrong and change nothing
  assert.throws(() => sgdQ.loadStateTensors([['2.momentum_buffer', new Float32Array(4)]]), /parameter index in 0\.\.1/);
  assert.throws(() => sgdQ.loadStateTensors([['0.velocity', new Float32Array(6)]]), /unknown state 'velocity'/);
  assert.throws(() => sgdQ.loadStateTensors([['1.momentum_buffer', new Float32Array(5)]]), /5 values for parameter b of 4/);
  assert.is(sgdQ.stateTensors().size, 1);
  assert.throws(() => adamQ.loadStateTensors([['0.exp_avg', new Float32Array(6)]], [1, 0]), /not both exp_avg and exp_avg_sq/);
  assert.throws(() => adamQ.loadStateTensors([], [1, 0]), /step 1 but not both/);
  assert.throws(() => adamQ.loadStateTensors([['0.exp_avg', new Float32Array(6)], ['0.exp_avg_sq', new Float32Array(6)]], [0, 0]), /step count 0/);
  assert.throws(() => adamQ.loadStateTensors([], [0]), /need 2 step counts/);
  assert.throws(() => new SGD(q, { lr: 0.1 }).loadStateTensors(host), /without momentum/);
  for (const o of [sgdP, sgdQ, adamP, adamQ]) o.dispose();
});

for (const name of ['darts', 'rsps'] as const) {
  test(`${name}: 2 epochs, checkpoint file, fresh method, 1 more epoch — bit-identical to never stopping`, async () => {
    const t0 = Date.now();
    const total = 3;
    const a = make(name, 7);
    for (let e = 0; e < 2; e++) await epoch(a, e, total, 100 + e);
    if (name === 'darts') assert.equal(a.archOptimizer.stepCounts(), [2 * STEPS]);
    const file = join(dir, `${name}.safetensors`);
    await saveMethodCheckpoint(file, a);
    const names = [...loadSafetensors(file).tensors.keys()];
    assert.ok(names.some((n) => n.startsWith('optimizer.sgd.') && n.endsWith('.momentum_buffer')));
    assert.is(names.includes('optimizer.adam.exp_avg'), name === 'darts');

    const b = make(name, 12345); // other seed: everything must come from the file
    loadMethodCheckpoint(file, b);
    assert.equal(b.archOptimizer.stepCounts(), a.archOptimizer.stepCounts());
    assert.equal(b.rng.state(), a.rng.state());
    assertSame(await snapshot(a), await snapshot(b), 'after load');

    await epoch(a, 2, total, 102);
    await epoch(b, 2, total, 102);
    const sa = await snapshot(a);
    assertSame(sa, await snapshot(b), 'after one more epoch');

    // The test has teeth: the same file without its optimizer state (restarted moments) diverges.
    const { tensors, metadata } = loadSafetensors(file);
    const stripped = [...tensors].filter(([n]) => !n.startsWith('optimizer.'))
      .map(([n, t]) => ({ name: n, shape: t.shape, data: t.dtype === 'I64' ? BigInt64Array.from(t.data, (v) => BigInt(v)) : t.data }));
    const meta = JSON.parse(metadata.method_state);
    delete meta.optimizerState;
    const file2 = join(dir, `${name}-no-optimizer.safetensors`);
    saveSafetensors(file2, stripped, { ...metadata, method_state: JSON.stringify(meta) });
    const c = make(name, 7);
    assert.throws(() => loadMethodCheckpoint(file2, c), /lacks optimizer state \(SGD momentum buffers/);
    loadMethodCheckpoint(file2, c, { allowOptimizerReset: true });
    assert.equal(c.archOptimizer.stepCounts(), [0]);
    await epoch(c, 2, total, 102);
    assert.ok(differs(sa, await snapshot(c)), 'restarted moments must give other weights');
    for (const m of [a, b, c]) m.dispose();
    console.log(`  ${name}: ${Date.now() - t0} ms`);
  });
}

test('darts: a checkpoint whose α stepped but has no Adam moments is refused, unless allowOptimizerReset', async () => {
  const a = make('darts', 3);
  await epoch(a, 0, 2, 200);
  const { tensors, meta } = await a.exportState();
  const decoded = new Map(tensors.filter((t) => !t.name.startsWith('optimizer.adam.'))
    .map((t) => [t.name, { dtype: t.data instanceof BigInt64Array ? 'I64' : 'F32', shape: [...t.shape], data: Float32Array.from(t.data as ArrayLike<number>, Number) }]));
  const b = make('darts', 3);
  assert.throws(() => b.importState(decoded, meta, 'ckpt'), /ckpt: lacks optimizer state \(α's Adam moments/);
  b.importState(decoded, meta, 'ckpt', { allowOptimizerReset: true });
  assert.equal(b.archOptimizer.stepCounts(), [0]);
  assert.is(b.weightOptimizer.stateTensors().size, a.weightOptimizer.stateTensors().size, 'SGD state still restored');
  // an optimizer entry naming no parameter
  const bad = new Map(decoded);
  bad.set('optimizer.sgd.cells.9.nothing.momentum_buffer', decoded.get('arch_parameters')!);
  assert.throws(() => b.importState(bad, meta, 'ckpt'), /'optimizer\.sgd\.cells\.9\.nothing\.momentum_buffer' names no parameter/);
  for (const m of [a, b]) m.dispose();
});

test('spawn(inherit) copies α\'s Adam state: a same-mask child continues exactly like its parent', async () => {
  const m = make('darts', 4);
  await epoch(m, 0, 3, 300);
  const twin = m.spawn(fullMask(), { inherit: true, seed: 99 });
  assert.equal(twin.archOptimizer.stepCounts(), m.archOptimizer.stepCounts());
  await epoch(m, 1, 3, 301);
  await epoch(twin, 1, 3, 301);
  assertSame(await snapshot(m), await snapshot(twin), 'parent vs child');
  for (const x of [m, twin]) x.dispose();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
