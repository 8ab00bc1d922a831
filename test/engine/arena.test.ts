// Storage views and parameter arenas (src/engine/optim/arena.ts): views on both backends (offsets
// in every kind of use, disjoint views of one buffer independent, misuse named), and SGD / gradient
// clipping over an arena in one launch each, equal to the per-tensor path on the CPU reference and
// within float rounding on WebGPU — with parameters that skip steps (no gradient), a gradient set by
// hand (copied into the arena), first-step momentum, weight decay, dampening and Nesterov.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, SgdParams } from '../../src/engine/backend.js';
import { flatSegments } from '../../src/engine/backend.js';
import {
  Tensor, keep, tidy, backward, conv2d, batchNorm, relu, linear, globalAvgPool, crossEntropy, add, sum,
  SGD, clipGradNorm, } from '../../src/engine/index.js';
import { splitSum } from '../../src/engine/webgpu/kernels/split-sum.js';
import type { WebGpuBackend } from '../../src/engine/webgpu/webgpu-backend.js';
import type { GpuStorage } from '../../src/engine/webgpu/runtime.js';
import { assertClose, randn, testBackends, testingWasm } from '../helpers/backends.js';
import { withSwitches } from '../../src/engine/switches.js';

const { cpu, gpu } = await testBackends();
test.after(() => { gpu?.dispose(); });
const backends: [string, Backend][] = [['cpu', cpu], ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];

for (const [name, be] of backends) {
  test(`${name}: views read, write, copy and compute at their offsets; disjoint views are independent`, async () => {
    const a = be.viewAlignment;
    const base = be.upload(Float32Array.from({ length: 8 * a }, (_, i) => i));
    const v1 = be.view(base, a, 3), v2 = be.view(base, 4 * a, 3);
    assert.equal(Array.from(await be.read(v1)), [a, a + 1, a + 2]);
    be.write(v2, new Float32Array([-1, -2]), 1);
    assert.equal(Array.from(await be.read(v2, 3)), [4 * a, -1, -2]);
    // a kernel reading views of one buffer and writing a plain storage, and the other way round
    // (WebGPU forbids reading and writing one buffer in a dispatch, whatever the ranges)
    const sum = be.alloc(3);
    be.add(v1, v1, sum, 3);
    be.copy(sum, v2, 3);
    assert.equal(Array.from(await be.read(v2, 3)), [2 * a, 2 * a + 2, 2 * a + 4]);
    be.release(sum);
    // copies between views of one buffer, and into a plain storage
    be.copy(v2, v1, 3);
    const plain = be.alloc(3);
    be.copy(v1, plain, 3);
    assert.equal(Array.from(await be.read(plain)), [2 * a, 2 * a + 2, 2 * a + 4]);
    // nothing outside the views moved
    const all = await be.read(base);
    for (let i = 0; i < 8 * a; i++) {
      if ((i >= a && i < a + 3) || (i >= 4 * a && i < 4 * a + 3)) continue;
      assert.is(all[i], i, `base[${i}] changed`);
    }
    // releasing a view frees nothing: the base still reads
    be.release(v1);
    be.release(v2);
    assert.is((await be.read(base, 1))[0], 0);
    be.release(plain);
    be.release(base);
  });

  test(`${name}: view misuse names the fault`, () => {
    const a = be.viewAlignment;
    const base = be.alloc(4 * a);
    assert.throws(() => be.view(base, 3 * a, a + 1), /exceeds the base storage/);
    assert.throws(() => be.view(base, 0, 0), /n must be a positive integer/);
    if (a > 1) assert.throws(() => be.view(base, 1, 1), /multiple of/);
    const v = be.view(base, 0, 2);
    assert.throws(() => be.view(v, 0, 1), /itself a view/);
    be.release(v);
    be.release(base);
  });
}

if (gpu && !testingWasm()) { // WebGPU binding and launch structure
  test('webgpu: two writable views of one buffer bind in one dispatch; overlapping ones are refused', async () => {
    const a = gpu.viewAlignment;
    const arena = gpu.alloc(6 * a);
    gpu.fill(arena, 0, 6 * a);
    const g = gpu.upload(new Float32Array([1, 2, 3]));
    const m1 = gpu.alloc(3), m2 = gpu.alloc(3), g2 = gpu.upload(new Float32Array([4, 5, 6]));
    gpu.fill(m1, 0, 3);
    gpu.fill(m2, 0, 3);
    const p1 = gpu.view(arena, 0, 3), p2 = gpu.view(arena, 2 * a, 3);
    const hp: SgdParams = { lr: 1, momentum: 0.5, dampening: 0, nesterov: false, weightDecay: 0 };
    gpu.sgdStepMulti([{ param: p1, grad: g, momBuf: m1, n: 3 }, { param: p2, grad: g2, momBuf: m2, n: 3 }], hp);
    const all = await gpu.read(arena);
    assert.equal(Array.from(all.subarray(0, 3)), [-1, -2, -3]);
    assert.equal(Array.from(all.subarray(2 * a, 2 * a + 3)), [-4, -5, -6]);
    const p3 = gpu.view(arena, 0, 2 * a + 1); // overlaps p2
    assert.throws(() => gpu.sgdStepMulti([{ param: p3, grad: g, momBuf: m1, n: 3 }, { param: p2, grad: g2, momBuf: m2, n: 3 }], hp),
      /same buffer/);
    for (const s of [p1, p2, p3, g, g2, m1, m2, arena]) gpu.release(s);
  });

  test('webgpu: a held launch writing one view is flushed by a use of that view only', async () => {
    const rt = (gpu as WebGpuBackend).rt;
    const a = gpu.viewAlignment;
    const arena = gpu.alloc(4 * a);
    gpu.fill(arena, 0, 4 * a);
    const dwA = gpu.view(arena, 0, 4), dwB = gpu.view(arena, 2 * a, 4);
    await gpu.sync();
    const part = gpu.upload(new Float32Array([1, 2, 3, 4, 10, 20, 30, 40]));
    splitSum(rt, part as GpuStorage, dwA as GpuStorage, 4, 2); // held back
    const before = gpu.dispatchCount();
    gpu.write(dwB, new Float32Array([7]));                      // another view: stays held
    assert.is(gpu.dispatchCount(), before, 'a write of a disjoint view flushed the held launch');
    gpu.write(arena, new Float32Array([9]), 3 * a);             // the whole buffer overlaps dwA: flushes
    assert.is(gpu.dispatchCount(), before + 1);
    const all = await gpu.read(arena);
    assert.equal(Array.from(all.subarray(0, 4)), [11, 22, 33, 44]);
    assert.is(all[2 * a], 7);
    assert.is(all[3 * a], 9);
    for (const s of [dwA, dwB, arena]) gpu.release(s);
  });
}

// ---- SGD and clipping over an arena vs the per-tensor path ----------------------------------

interface Model { params: Tensor[]; names: string[]; run(step: number): void; dispose(): void }

/** A small network whose parameters get their gradients from conv, BN, linear rules; `extra`
 *  gets a gradient by hand on even steps, `spare` only on steps divisible by 3 (skipped otherwise). */
function makeModel(be: Backend, seed: number): Model {
  const t = (shape: number[], s: number, scale = 0.3): Tensor =>
    keep(Tensor.fromArray(be, randn(shape.reduce((x, y) => x * y, 1), seed + s).map((v) => v * scale), shape)).param();
  const w1 = t([5, 3, 3, 3], 1), b1 = t([5], 2), gamma = t([5], 3), beta = t([5], 4), w2 = t([4, 5, 1, 1], 5);
  const wl = t([3, 4], 6), bl = t([3], 7), extra = t([7], 8), spare = t([9], 9);
  const params = [w1, b1, gamma, beta, w2, wl, bl, extra, spare];
  const x = keep(Tensor.fromArray(be, randn(2 * 3 * 6 * 6, seed + 10), [2, 3, 6, 6]));
  const y = keep(Tensor.fromArray(be, new Float32Array([0, 2]), [2]));
  return {
    params, names: ['w1', 'b1', 'gamma', 'beta', 'w2', 'wl', 'bl', 'extra', 'spare'],
    dispose() { for (const p of params) { p.grad?.dispose(); p.grad = null; p.dispose(); } x.dispose(); y.dispose(); },
    run(step: number) {
      tidy(() => {
        let h = conv2d(x, w1, b1, { padding: 1 });
        h = relu(batchNorm(h, { gamma, beta, runningMean: null, runningVar: null, training: true }));
        h = globalAvgPool(conv2d(h, w2));
        let loss = crossEntropy(linear(h, wl, bl), y);
        if (step % 3 === 0) loss = add(loss, sum(spare));
        backward(loss);
      });
      if (step % 2 === 0) extra.grad = keep(Tensor.fromArray(be, randn(7, seed + 100 + step)));
    },
  };
}

async function values(ts: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ts.map((t) => t.data()));
}

const settings: [string, SgdParams][] = [
  ['nesterov, weight decay', { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 5e-4 }],
  ['dampening', { lr: 0.05, momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 1e-3 }],
];

for (const [label, hp] of settings) {
  test(`SGD over an arena (${label}) equals the per-tensor path: CPU exactly, WebGPU within rounding`, async () => {
    const reference: Float32Array[][] = [];
    for (const [name, be] of backends) {
      for (const flat of [true, false]) {
        const m = makeModel(be, 7);
        const opt = new SGD(m.params, { ...hp, flat });
        assert.is(!!opt.arena, flat, 'arena presence');
        for (let step = 0; step < 4; step++) {
          opt.zeroGrad();
          m.run(step);
          if (step === 1) assert.is(m.params[8].grad, null, 'spare has no gradient on step 1');
          clipGradNorm(m.params, 0.05);
          opt.step();
        }
        if (flat) {
          assert.is(opt.stepsBy.flat, 4, 'every step through the flat launch');
          // the conv, BN and linear rules wrote into the arena: only the hand-set gradients (steps 0
          // and 2) and those of sum()'s rule (spare, steps 0 and 3) were copied
          assert.is(opt.arena!.strayCopies, 4, 'gradients copied into the arena');
        } else assert.is(opt.stepsBy.multi, 4);
        const got = [...await values(m.params), ...await values([...opt.stateTensors().values()])];
        assert.is(opt.stateTensors().size, 9, 'every parameter has a momentum buffer after step 3');
        if (reference.length === 0) reference.push(got);
        else {
          const exact = name === 'cpu';
          got.forEach((v, i) => assertClose(v, reference[0][i], exact ? 0 : 2e-5, exact ? 0 : 1e-6,
            `${name} flat=${flat} ${i < 9 ? m.names[i] : 'momentum ' + m.names[i - 9]}`));
        }
        opt.dispose();
        m.dispose();
      }
    }
  });
}

test('a parameter without a gradient is not touched by the flat step (no decay, no momentum)', async () => {
  for (const [name, be] of backends) {
    const m = makeModel(be, 3);
    const opt = new SGD(m.params, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
    const spare0 = await m.params[8].data();
    opt.zeroGrad();
    m.run(1); // spare gets no gradient on odd steps
    opt.step();
    assert.equal(Array.from(await m.params[8].data()), Array.from(spare0), `${name}: spare moved`);
    assert.not.ok(opt.stateTensors().has('8.momentum_buffer'), `${name}: spare got a momentum buffer`);
    opt.dispose();
    m.dispose();
  }
});

if (gpu) {
  test('webgpu: over an arena SGD is one launch and clipping two, whatever the parameter count', async () => {
    const m = makeModel(gpu, 11);
    const opt = new SGD(m.params, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    for (const step of [1, 5, 7]) {
      opt.zeroGrad();
      m.run(step); // no hand-set gradient, spare has none: nothing to copy
      await gpu.sync();     // held split-K sums encoded
      const d0 = gpu.dispatchCount();
      clipGradNorm(m.params, 0.05);
      const d1 = gpu.dispatchCount();
      opt.step();
      const d2 = gpu.dispatchCount();
      assert.is(d1 - d0, testingWasm() ? 1 : 2, 'clipping launches'); // the wasm backend clips in one pass
      assert.is(d2 - d1, 1, 'SGD launches');
    }
    assert.is(opt.arena!.strayCopies, 0);
    opt.dispose();
    m.dispose();
  });
}

test('a gradient kept past zeroGrad keeps its values; the arena falls back for that step', async () => {
  for (const [name, be] of backends) {
    const m = makeModel(be, 5);
    const ref = makeModel(be, 5);
    const opt = new SGD(m.params, { lr: 0.1, momentum: 0.9 });
    const refOpt = new SGD(ref.params, { lr: 0.1, momentum: 0.9, flat: false });
    m.run(1);
    ref.run(1);
    const kept = m.params[0].grad!.detach(); // holds w1's place in the gradient arena
    const keptValues = await kept.data();
    opt.zeroGrad();
    refOpt.zeroGrad();
    m.run(3);
    ref.run(3);
    opt.step();
    refOpt.step();
    assert.equal(Array.from(await kept.data()), Array.from(keptValues), `${name}: a kept gradient was overwritten`);
    assert.is(opt.stepsBy.multi, 1, `${name}: the step with a busy place goes per tensor`);
    const got = await values(m.params), want = await values(ref.params);
    got.forEach((v, i) => assertClose(v, want[i], 0, 0, `${name} ${m.names[i]}`));
    kept.dispose();
    for (const o of [opt, refOpt]) o.dispose();
    m.dispose();
    ref.dispose();
  }
});

test('an optimizer over an arena and its parameters, disposed, give every byte back', async () => {
  for (const [name, be] of backends) {
    await be.sync();
    const base = be.memoryStats().liveBytes;
    const m = makeModel(be, 13);
    const opt = new SGD(m.params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    for (let step = 0; step < 3; step++) {
      opt.zeroGrad();
      m.run(step);
      clipGradNorm(m.params, 1);
      opt.step();
    }
    assert.ok(opt.arena && opt.stepsBy.flat === 3, name);
    // either order: the parameters' views keep the arena alive until they are gone
    opt.dispose();
    assert.ok((await m.params[0].data()).every(Number.isFinite), `${name}: parameters readable after the optimizer is disposed`);
    m.dispose();
    await be.sync();
    assert.is(be.memoryStats().liveBytes, base, `${name}: live bytes`);
  }
});

test('flatSegments keeps the u32 words through a float storage', async () => {
  for (const [name, be] of backends) {
    const segs = [{ start: 4, length: 1 << 20, flags: 1 }, { start: 123456789, length: 3, flags: 0 }];
    const s = be.upload(flatSegments(segs));
    const back = new Uint32Array((await be.read(s)).buffer);
    assert.equal(Array.from(back), [4, 1 << 20, 1, 0, 123456789, 3, 0, 0], name);
    be.release(s);
  }
});

test('an arena the device cannot allocate: nothing moves, SGD runs per tensor', async () => {
  // a CPU backend whose allocations above 100 values fail, as a buffer over the binding limit does
  const small = new Proxy(cpu, {
    get(target, prop, receiver) {
      if (prop === 'alloc') return (n: number) => { if (n > 100) throw new Error(`alloc: ${n} values exceed the limit`); return target.alloc(n); };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Backend;
  const params = [60, 70].map((n, i) => keep(Tensor.fromArray(small, randn(n, i))).param());
  const before = params.map((p) => p.shared);
  const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
  assert.is(opt.arena, null);
  assert.ok(params.every((p, i) => p.shared === before[i] && p.shared.viewBase === null), 'parameters stayed where they were');
  params.forEach((p, i) => { p.grad = keep(Tensor.fromArray(small, randn(p.size, 10 + i))); });
  const want = await Promise.all(params.map(async (p) => {
    const v = await p.data(), g = await p.grad!.data();
    return v.map((x, j) => Math.fround(x - 0.1 * g[j]));
  }));
  opt.step();
  for (let i = 0; i < 2; i++) assertClose(await params[i].data(), want[i], 0, 0, `param ${i}`);
  opt.zeroGrad();
  opt.dispose();
  for (const p of params) p.dispose();
});

test('switches.fusion off: no arena (the per-parameter kernels)', () => {
  withSwitches({ fusion: false }, () => {
    const m = makeModel(cpu, 1);
    const opt = new SGD(m.params, { lr: 0.1, momentum: 0.9 });
    assert.is(opt.arena, null);
    opt.dispose();
    m.dispose();
  });
});

test.run();
