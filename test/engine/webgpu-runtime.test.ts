// The WebGPU runtime's bookkeeping: buffer pool reuse, ordering hazards (queue writes vs. encoded
// work, uniform parameters of batched dispatches), batched submits, and errors that surface as
// thrown GpuErrors instead of silently wrong numbers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/engine/backend.js';
import { WebGpuBackend } from '../../src/engine/webgpu/webgpu-backend.js';
import { GpuRuntime, bucketBytes, type DeferredFamily, type GpuStorage } from '../../src/engine/webgpu/runtime.js';
import { GpuError } from '../../src/engine/webgpu/device.js';
import { splitSum } from '../../src/engine/webgpu/kernels/split-sum.js';
import { assertClose, randn, testBackends } from '../helpers/backends.js';
import { withSwitches } from '../../src/engine/switches.js';

let gpu: WebGpuBackend | null = null;
test.before(async () => { gpu = (await testBackends()).gpu as WebGpuBackend | null; });
test.after(() => { gpu?.dispose(); });

const scaled = (a: Float32Array, s: number) => a.map((v) => v * s);

test('bucketBytes: 256 B minimum, <= 25 % waste, whole MiB above 64 MiB', () => {
  assert.is(bucketBytes(0), 256);
  assert.is(bucketBytes(256), 256);
  assert.is(bucketBytes(257), 320);
  assert.is(bucketBytes(1000), 1024);
  assert.is(bucketBytes(1025), 1280);
  for (const b of [300, 4097, 123457, 9_999_999]) {
    const k = bucketBytes(b);
    assert.ok(k >= b && k <= b * 1.25 + 4, `bucket ${k} for ${b}`);
    assert.is(k % 4, 0);
  }
  assert.is(bucketBytes(100 * 2 ** 20 + 1), 101 * 2 ** 20);
});

test('pool: 500 iterations of alloc / dispatch / release keep created and liveBytes flat', async () => {
  if (!gpu) return;
  const b: Backend = gpu;
  const sizes = [7, 1000, 4096, 12345];
  const X = randn(12345, 1);
  const x = b.upload(X);
  const start = b.memoryStats();
  let createdAfterWarmup = -1;
  for (let it = 0; it < 500; it++) {
    const outs = sizes.map((n) => b.alloc(n));
    // params change every iteration: uniform slots are rewritten, not re-created
    outs.forEach((o, k) => b.scale(x, it + k, o, sizes[k]));
    const acc = b.alloc(4096);
    b.add(outs[2], outs[2], acc, 4096);
    b.addInPlace(acc, outs[1], 1000, 0.5);
    if (it % 50 === 49) {
      const got = await b.read(acc, 3);
      const f = 2 * (it + 2) + 0.5 * (it + 1);
      assertClose(got, X.slice(0, 3).map((v) => v * f), 1e-5, 1e-5, `iteration ${it}`);
    }
    for (const o of outs) b.release(o);
    b.release(acc);
    if (it === 60) createdAfterWarmup = b.memoryStats().created;
  }
  await b.sync();
  const end = b.memoryStats();
  assert.is(end.created, createdAfterWarmup, `buffers created after warm-up: ${end.created - createdAfterWarmup}`);
  assert.is(end.liveBytes, start.liveBytes);
  assert.ok(end.pooledBytes > 0 && end.peakBytes >= end.liveBytes + end.pooledBytes);
  b.release(x);
});

test('pool: alloc hands out the lowest-id free buffer, so a repeated pass reuses its buffers and bind groups', async () => {
  if (!gpu) return;
  const b: Backend = gpu;
  const n = 3001; // a bucket of its own in this file
  const x = b.upload(randn(n, 3));
  const pass = async (): Promise<number[]> => {
    const t = [b.alloc(n), b.alloc(n), b.alloc(n)];
    b.relu(x, t[0], n);
    b.scale(t[0], 2, t[1], n);
    b.add(t[0], t[1], t[2], n);
    const ids = t.map((s) => (s as unknown as { slot: { id: number } }).slot.id);
    for (const s of t) b.release(s); // released in allocation order: a last-in-first-out pool would rotate them
    await b.sync();
    return ids;
  };
  const first = await pass();
  const dev = gpu.rt.device;
  const create = dev.createBindGroup;
  let made = 0;
  dev.createBindGroup = function (d: GPUBindGroupDescriptor) { made++; return create.call(this, d); };
  try {
    const second = await pass();
    assert.equal(second, first, 'the same buffers in the same roles');
    assert.is(made, 0, 'every bind group from the cache');
  } finally {
    dev.createBindGroup = create;
  }
  assert.equal([...first].sort((p, q) => p - q), first, 'lowest ids first');
  b.release(x);
});

test('write into a buffer that a pending dispatch reads: the dispatch sees the old data', async () => {
  if (!gpu) return;
  const n = 3001;
  const A = randn(n, 2), B = randn(n, 3);
  const x = gpu.upload(A), out = gpu.alloc(n);
  gpu.scale(x, 2, out, n);   // encoded, not submitted
  gpu.write(x, B);           // must not overtake the scale
  assertClose(await gpu.read(out), scaled(A, 2), 0, 0, 'pending dispatch input');
  assertClose(await gpu.read(x), B, 0, 0, 'written data');
  // partial write at an offset
  gpu.scale(x, 3, out, n);
  gpu.write(x, new Float32Array([42, 43]), 10);
  const expectX = B.slice(); expectX[10] = 42; expectX[11] = 43;
  assertClose(await gpu.read(out), scaled(B, 3), 0, 0, 'pending dispatch before an offset write');
  assertClose(await gpu.read(x), expectX, 0, 0, 'offset write');
  gpu.release(x); gpu.release(out);
});

test('a released buffer reused by upload does not change what pending work reads', async () => {
  if (!gpu) return;
  const n = 777;
  const A = randn(n, 4), B = randn(n, 5);
  const x = gpu.upload(A), out = gpu.alloc(n);
  gpu.scale(x, -1, out, n);
  gpu.release(x);                 // right after encoding: allowed
  const y = gpu.upload(B);        // same bucket: the pool hands back x's buffer
  assert.is((y as GpuStorage).buffer, (x as GpuStorage).buffer, 'the pool reused the buffer');
  assertClose(await gpu.read(out), scaled(A, -1), 0, 0, 'pending dispatch after its input was reused');
  assertClose(await gpu.read(y), B, 0, 0, 'the new upload');
  gpu.release(y); gpu.release(out);
});

test('same kernel and buffers with different params in one batch each see their own params', async () => {
  if (!gpu) return;
  // a runtime that never submits on its own, so 200 variants of one (pipeline, buffers) key pile up
  const rt = await GpuRuntime.create({ batchSize: 100000 });
  try {
    const n = 300;
    const X = randn(n, 6);
    const x = rt.upload(X), out = rt.alloc(n), acc = rt.alloc(n);
    const fill = (s: GpuStorage, v: number) => rt.dispatch1D({ shader: 'elementwise', entry: 'fill', bindings: [s],
      params: { u: [n, 0, 0, 0], f: [v] }, threads: n });
    fill(acc, 0);
    let total = 0;
    for (let k = 1; k <= 200; k++) {
      rt.dispatch1D({ shader: 'elementwise', entry: 'scale', bindings: [x, out], params: { u: [n, 0, 0, 0], f: [k] }, threads: n });
      rt.dispatch1D({ shader: 'elementwise', entry: 'add_in_place', bindings: [acc, out], params: { u: [n, 0, 0, 0], f: [1] }, threads: n });
      total += k;
    }
    // 64 uniform variants per (pipeline, buffers) key: the 65th, 129th and 193rd params force a submit
    assert.is(rt.submitCount(), 3, 'flushes forced by the variant cap');
    assertClose(await rt.read(acc), scaled(X, total), 1e-5, 1e-4, 'sum of 200 differently scaled copies');
  } finally {
    rt.dispose();
  }
});

test('batched submits: dispatches are encoded and submitted every 32, results cross batches', async () => {
  if (!gpu) return;
  const rt = gpu.rt;
  const n = 513;
  const X = randn(n, 7);
  const x = gpu.upload(X), acc = gpu.alloc(n);
  gpu.fill(acc, 0, n);
  await gpu.sync();
  const d0 = gpu.dispatchCount(), s0 = rt.submitCount();
  for (let k = 0; k < 100; k++) gpu.addInPlace(acc, x, n, 1);
  assert.is(gpu.dispatchCount() - d0, 100);
  assert.is(rt.submitCount() - s0, 3, 'submitted after dispatches 32, 64, 96');
  assertClose(await gpu.read(acc), scaled(X, 100), 1e-5, 1e-5, '100 chained accumulations');
  assert.is(rt.submitCount() - s0, 4, 'the read submitted the rest');
  gpu.release(x); gpu.release(acc);
});

test('a validation error surfaces as a thrown GpuError naming the kernel; the backend keeps working', async () => {
  if (!gpu) return;
  const n = 64;
  const a = gpu.upload(randn(n, 8)), b = gpu.upload(randn(n, 9)), out = gpu.alloc(n);
  // 'add' needs three storage bindings; give it two
  gpu.rt.dispatch1D({ shader: 'elementwise', entry: 'add', bindings: [a as GpuStorage, b as GpuStorage],
    params: { u: [n, 0, 0, 0], f: [0] }, threads: n });
  let caught: unknown = null;
  try { await gpu.sync(); } catch (e) { caught = e; }
  assert.instance(caught, GpuError);
  assert.match((caught as Error).message, /validation error/);
  assert.match((caught as Error).message, /elementwise:add/);
  // reported once; the device is still usable
  gpu.add(a, b, out, n);
  const [av, bv] = [await gpu.read(a), await gpu.read(b)];
  assertClose(await gpu.read(out), av.map((v, i) => v + bv[i]), 0, 0, 'add after the error');
  gpu.release(a); gpu.release(b); gpu.release(out);
});

test('misuse is rejected synchronously with a clear message', async () => {
  if (!gpu) return;
  const rt = gpu.rt;
  const a = rt.alloc(16), b = rt.alloc(16);
  assert.throws(() => rt.dispatch1D({ shader: 'elementwise', entry: 'add', bindings: [a, a, b], threads: 16,
    params: { u: [16, 0, 0, 0], f: [0] } }), /bindings 0 and 1 are the same buffer/);
  assert.throws(() => rt.dispatch1D({ shader: 'no_such_shader', bindings: [a], threads: 16 }), /unknown shader "no_such_shader"/);
  assert.throws(() => rt.dispatch({ shader: 'elementwise', entry: 'fill', bindings: [a], workgroups: [70000, 1, 1] }),
    /workgroup count 70000/);
  assert.throws(() => gpu!.write(a, new Float32Array(17)), /do not fit a storage of length 16/);
  rt.release(a);
  assert.throws(() => rt.release(a), /released twice/);
  assert.throws(() => gpu!.fill(a, 1, 4), /used after release/);
  await assert.not.throws(async () => await gpu!.read(b));
  rt.release(b);
});

test('zero-length storages are real buffers; reads of 0 values return empty arrays', async () => {
  if (!gpu) return;
  const z = gpu.alloc(0);
  assert.is(z.length, 0);
  gpu.fill(z, 1, 0);
  assert.is((await gpu.read(z)).length, 0);
  const out = gpu.upload(new Float32Array([5, 5]));
  gpu.sum(z, out, 0);
  assertClose(await gpu.read(out), new Float32Array([0, 5]), 0, 0, 'sum of nothing');
  gpu.release(z); gpu.release(out);
});

test('readMany: whole buffers, views of one arena (merged), prefixes and empty reads in one submit, equal to read', async () => {
  if (!gpu) return;
  const b: Backend = gpu;
  const A = randn(3000, 7), B = randn(70, 8);
  const a = b.upload(A), c = b.upload(B);
  // a dispatch still unsubmitted writes the arena: readMany must see its result
  const arena = b.alloc(4096);
  b.scale(a, 2, arena, 3000);
  const al = b.viewAlignment;
  const v1 = b.view(arena, 0, 10), v2 = b.view(arena, 4 * al, 100), v3 = b.view(arena, 2048, 900);
  const z = b.alloc(0);
  const submits0 = gpu.rt.submitCount();
  const got = await b.readMany([{ s: v2 }, { s: c, n: 5 }, { s: v1 }, { s: z }, { s: a }, { s: v3, n: 7 }, { s: c }]);
  assert.is(gpu.rt.submitCount() - submits0, 1, 'one submit for all reads');
  const expect = [
    await b.read(v2), await b.read(c, 5), await b.read(v1), new Float32Array(0), await b.read(a), await b.read(v3, 7), await b.read(c),
  ];
  got.forEach((g, i) => assertClose(g, expect[i], 0, 0, `item ${i}`));
  assertClose(got[2], scaled(A.slice(0, 10), 2), 0, 0, 'view of the arena after the pending scale');
  assertClose(got[5], scaled(A.slice(2048, 2055), 2), 0, 0, 'prefix of a view');
  assert.equal(await b.readMany([]), []);
  let err = '';
  try { await b.readMany([{ s: c, n: 71 }]); } catch (e) { err = (e as Error).message; }
  assert.match(err, /readMany: item 0: n = 71/);
  for (const s of [a, c, arena, z]) b.release(s);
});

test('trim destroys pooled buffers; dispose makes later calls throw', async () => {
  if (!gpu) return;
  const rt = await GpuRuntime.create();
  const s = rt.alloc(1000);
  rt.release(s);
  assert.ok(rt.memoryStats().pooledBytes > 0);
  rt.trim();
  assert.is(rt.memoryStats().pooledBytes, 0);
  const t = rt.upload(new Float32Array([1, 2, 3]));
  assertClose(await rt.read(t), new Float32Array([1, 2, 3]), 0, 0, 'after trim');
  rt.dispose();
  assert.throws(() => rt.alloc(4), /disposed/);
  rt.dispose(); // idempotent
});

// ---- held-back launches (GpuRuntime.defer): the split-K sums of weight gradients -----------------

test('split-K sums: held back and merged (K per launch), equal to one pass each, flushed by every kind of use', async () => {
  if (!gpu) return;
  const be = gpu;
  const rt = be.rt;
  const sizes = [5, 37, 64, 3, 200, 17, 9, 11, 40, 6];
  const splits = [2, 3, 7, 1, 4, 2, 5, 3, 2, 9];
  const want = sizes.map((n, k) => {
    const part = randn(n * splits[k], 900 + k);
    const dw = new Float32Array(n);
    for (let s = 0; s < splits[k]; s++) for (let i = 0; i < n; i++) dw[i] += part[s * n + i];
    return { part, dw };
  });
  const run = (): GpuStorage[] => sizes.map((n, k) => {
    const dw = rt.alloc(n);
    splitSum(rt, rt.upload(want[k].part), dw, n, splits[k]);
    return dw;
  });
  const per = Math.min(8, Math.floor(rt.limits.maxStorageBuffersPerShaderStage / 2));
  for (const merge of [true, false]) {
    await withSwitches({ mergeSplitSums: merge }, async () => {
      const d0 = be.dispatchCount();
      const dws = run();
      // nothing launched yet when merged; the read flushes all of them
      assert.is(be.dispatchCount() - d0, merge ? 0 : sizes.length, `launches before the read (merge ${merge})`);
      const got = [];
      for (const dw of dws) got.push(await rt.read(dw));
      assert.is(be.dispatchCount() - d0, merge ? Math.ceil(sizes.length / per) : sizes.length, `launches (merge ${merge})`);
      got.forEach((g, k) => assertClose(g, want[k].dw, 1e-6, 1e-5, `split sum ${k} (merge ${merge})`));
      for (const dw of dws) rt.release(dw);
    });
  }
  // a dispatch that binds a held-back gradient flushes first: it sees the sum
  const dw = rt.alloc(sizes[1]);
  splitSum(rt, rt.upload(want[1].part), dw, sizes[1], splits[1]);
  const doubled = rt.alloc(sizes[1]);
  be.scale(dw, 2, doubled, sizes[1]);
  assertClose(await rt.read(doubled), scaled(want[1].dw, 2), 1e-6, 1e-5, 'dispatch after a held-back sum');
  // releasing a held-back gradient launches nothing: the buffer stays out of the pool until the
  // held sum is encoded (flushing there would end every merge)
  splitSum(rt, rt.upload(want[2].part), dw, sizes[1], 1);
  const d0 = be.dispatchCount();
  const slotOf = (st: GpuStorage): unknown => (st as unknown as { slot: unknown }).slot;
  const released = slotOf(dw);
  rt.release(dw);
  assert.is(be.dispatchCount() - d0, 0, 'release does not flush');
  assert.throws(() => rt.release(dw), /twice/);
  const other = rt.alloc(sizes[1]);
  assert.ok(slotOf(other) !== released, 'a buffer a held launch touches is not handed out');
  await be.sync();
  assert.is(be.dispatchCount() - d0, 1, 'the held sum ran at the sync');
  const reused = rt.alloc(sizes[1]);
  assert.ok(slotOf(reused) === released, 'and then the buffer went back to the pool');
  rt.release(other);
  rt.release(reused);
  // sync flushes
  const dw2 = rt.alloc(sizes[0]);
  splitSum(rt, rt.upload(want[0].part), dw2, sizes[0], splits[0]);
  const d1 = be.dispatchCount();
  await be.sync();
  assert.is(be.dispatchCount() - d1, 1, 'sync flushes');
  assertClose(await rt.read(dw2), want[0].dw, 1e-6, 1e-5, 'after sync');
  rt.release(dw2);
  rt.release(doubled);
});

test('held-back families: producers run first, a flush for one buffer leaves later families held, nested launches do not flush', async () => {
  if (!gpu) return;
  const be = gpu;
  const rt = be.rt;
  const n = 8;
  // order 0 fills a buffer; order 1 doubles a buffer into another. Deferred in the "wrong" map
  // order: the doubling (which reads the fill's output) is held first.
  const fills: DeferredFamily<{ dst: GpuStorage; v: number }> = {
    name: 'test fills', order: 0, run: (_rt, items) => { for (const it of items) be.fill(it.dst, it.v, n); },
  };
  const doubles: DeferredFamily<{ src: GpuStorage; dst: GpuStorage }> = {
    name: 'test doubles', order: 1, run: (_rt, items) => { for (const it of items) be.scale(it.src, 2, it.dst, n); },
  };
  const a = rt.alloc(n), b = rt.alloc(n), c = rt.alloc(n), d = rt.upload(new Float32Array(n).fill(7)), e = rt.alloc(n);
  rt.defer(doubles, { src: a, dst: b }, [a, b]);
  rt.defer(fills, { dst: a, v: 3 }, [a]);
  rt.defer(fills, { dst: c, v: 5 }, [c]);
  rt.defer(doubles, { src: d, dst: e }, [d, e]);
  rt.write(d, new Float32Array(n).fill(9)); // d is touched by a held double: flushes up to order 1 first
  assertClose(await rt.read(b), new Float32Array(n).fill(6), 0, 0, 'the double read the fill it came before');
  assertClose(await rt.read(e), new Float32Array(n).fill(14), 0, 0, 'the held double ran before the write after it');
  // a flush for a buffer only order 0 touches leaves order 1 held
  rt.defer(fills, { dst: a, v: 1 }, [a]);
  rt.defer(doubles, { src: a, dst: b }, [a, b]);
  rt.defer(fills, { dst: c, v: 2 }, [c]);
  const d0 = be.dispatchCount();
  be.scale(c, 1, d, n); // binds c: the fills run (both), the double stays held
  assert.is(be.dispatchCount() - d0, 3, 'two fills and the scale; the double still held');
  assertClose(await rt.read(d), new Float32Array(n).fill(2), 0, 0, 'the scale saw its fill');
  assertClose(await rt.read(b), new Float32Array(n).fill(2), 0, 0, 'the held double ran at the read, after its fill');
  // a run that holds a launch of a later family writing the very buffer being flushed for (a
  // weight gradient's split-K sum): that one is encoded too before the flushing use
  const chained: DeferredFamily<{ dst: GpuStorage }> = {
    name: 'test chained', order: 0, run: (_rt, items) => {
      for (const it of items) { be.fill(a, 4, n); rt.defer(doubles, { src: a, dst: it.dst }, [a, it.dst]); }
    },
  };
  rt.defer(chained, { dst: e }, [e]);
  be.scale(e, 1, d, n);
  assertClose(await rt.read(d), new Float32Array(n).fill(8), 0, 0, 'the use saw the chained launch');
  for (const s_ of [a, b, c, d, e]) rt.release(s_);
});

test.run();
