// Capture and replay (GpuRuntime.beginCapture / Backend.capture, issue [perf] item 3): a recorded
// dispatch list re-encoded later must compute what the ops compute, keep its own uniforms when the
// bind-group cache rewrites them, and own its buffers — the pool may not hand a pinned buffer to
// anyone else until the capture is disposed. Also the user of it: stand-alone training with replayed
// steps gives the same numbers as training through the ops.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/engine/backend.js';
import { WebGpuBackend } from '../../src/engine/webgpu/webgpu-backend.js';
import { GpuError } from '../../src/engine/webgpu/device.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, keep, relu, mul, sum, backward, SGD, Rng } from '../../src/engine/index.js';
import { trainStandalone } from '../../src/search/standalone.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler } from '../../src/data/sampler.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { createBaseMethod, type HostBatch } from '../../src/search/index.js';
import { maskFromRows } from '../../src/spaces/nb201/ops.js';
import { assertClose, randn, testBackends } from '../helpers/backends.js';

let gpu: WebGpuBackend | null = null;
test.before(async () => { gpu = (await testBackends()).gpu as WebGpuBackend | null; });
test.after(() => { gpu?.dispose(); });

test('replay recomputes from the current inputs and repeats in-place updates', async () => {
  if (!gpu) return;
  const be: Backend = gpu;
  const n = 1000;
  const x = be.upload(randn(n, 1)), acc = be.upload(new Float32Array(n)), y = be.alloc(n);
  const cap = be.capture!(() => {
    be.relu(x, y, n);
    be.addInPlace(acc, y, n, 0.5);
  });
  assert.ok(cap, 'WebGPU backend captures');
  assert.is(cap!.dispatches, 2);
  const X2 = randn(n, 2);
  be.write(x, X2);
  cap!.replay();
  cap!.replay();
  const got = await be.read(acc);
  const want = new Float32Array(n);
  const X1 = randn(n, 1);
  for (let i = 0; i < n; i++) want[i] = 0.5 * Math.max(X1[i], 0) + 2 * 0.5 * Math.max(X2[i], 0);
  assertClose(got, want, 1e-6, 1e-6, 'recorded run + two replays on new input');
  assertClose(await be.read(y), X2.map((v) => Math.max(v, 0)), 0, 0, 'replayed relu');
  cap!.dispose();
  for (const s of [x, acc, y]) be.release(s);
});

test('a replay keeps the uniforms it recorded after the bind-group cache rewrites them', async () => {
  if (!gpu) return;
  const be: Backend = gpu;
  const n = 64;
  const X = randn(n, 3);
  const x = be.upload(X), out = be.alloc(n);
  const cap = be.capture!(() => be.scale(x, 2, out, n))!;
  // same pipeline, same buffers, other params: the cache reuses (rewrites) a variant's uniform slot
  for (const a of [3, 4, 5, 6, 7]) { be.scale(x, a, out, n); await be.sync(); }
  cap.replay();
  assertClose(await be.read(out), X.map((v) => 2 * v), 1e-6, 0, 'replayed scale by 2');
  cap.dispose();
  be.release(x);
  be.release(out);
});

test('pinned buffers are not handed out until the capture is disposed', async () => {
  if (!gpu) return;
  const be = gpu;
  const n = 4096;
  const x = be.upload(randn(n, 4));
  let tmpSlotBuffer: GPUBuffer | null = null;
  const out = be.alloc(n);
  const cap = be.capture(() => {
    const tmp = be.alloc(n);            // an intermediate of the step, released inside it
    tmpSlotBuffer = (tmp as unknown as { buffer: GPUBuffer }).buffer;
    be.relu(x, tmp, n);
    be.scale(tmp, 3, out, n);
    be.release(tmp);
  });
  // the same size bucket: without pinning the next alloc would get tmp's buffer back
  const others = [be.alloc(n), be.alloc(n), be.alloc(n)];
  for (const o of others) assert.ok((o as unknown as { buffer: GPUBuffer }).buffer !== tmpSlotBuffer, 'a pinned buffer was handed out');
  for (const o of others) be.fill(o, -1, n);
  cap.replay();
  const X = randn(n, 4);
  assertClose(await be.read(out), X.map((v) => 3 * Math.max(v, 0)), 1e-6, 0, 'replay after other allocations');
  for (const o of others) assertClose(await be.read(o), new Float32Array(n).fill(-1), 0, 0, 'other storages untouched by the replay');
  // a pinned storage released by its owner stays out of the pool too
  be.release(out);
  const again = be.alloc(n);
  assert.ok((again as unknown as { buffer: GPUBuffer }).buffer !== (out as unknown as { buffer: GPUBuffer }).buffer);
  cap.dispose();
  // disposed: the pinned buffers are pooled again, so the pool reuses them and creates nothing
  const created = be.memoryStats().created;
  const reuse = [be.alloc(n), be.alloc(n)];
  assert.is(be.memoryStats().created, created, 'buffers of a disposed capture return to the pool');
  for (const s of [...reuse, ...others, again, x]) be.release(s);
  assert.throws(() => cap.replay(), (e: unknown) => e instanceof GpuError && /disposed/.test((e as Error).message));
});

test('reads inside a capture are refused; a throwing step leaves no recording behind', async () => {
  if (!gpu) return;
  const be = gpu;
  const x = be.upload(randn(16, 5));
  let readError: unknown = null;
  const cap = be.capture(() => { be.read(x).catch((e) => { readError = e; }); });
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(readError instanceof GpuError && /capture/.test((readError as Error).message), `read refused: ${String(readError)}`);
  cap.dispose();
  assert.throws(() => be.capture(() => { throw new Error('boom'); }), /boom/);
  // the runtime is not stuck recording: a new capture starts
  const ok = be.capture(() => be.fill(x, 1, 16));
  ok.dispose();
  be.release(x);
});

test('a captured autograd + SGD step replays to the same parameters as running the ops', async () => {
  if (!gpu) return;
  const be: Backend = gpu;
  const rng = new Rng(7);
  const mk = () => {
    const w = keep(Tensor.fromArray(be, randn(32, 8), [32]).param());
    return { w, opt: new SGD([w], { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }) };
  };
  const inputs = Array.from({ length: 6 }, (_, k) => randn(32, 100 + k));
  const step = (w: Tensor, opt: SGD, x: Tensor) => tidy(() => {
    opt.zeroGrad();
    backward(sum(mul(relu(mul(w, x)), x)));
    opt.step();
  });
  // through the ops
  const a = mk();
  for (const X of inputs) tidy(() => step(a.w, a.opt, Tensor.fromArray(be, X, [32])));
  // first step through the ops (optimizer state), then recorded once and replayed
  const b = mk();
  const xIn = keep(Tensor.empty(be, [32]));
  tidy(() => step(b.w, b.opt, Tensor.fromArray(be, inputs[0], [32])));
  be.write(xIn.storage, inputs[1]);
  const cap = be.capture!(() => step(b.w, b.opt, xIn))!;
  for (const X of inputs.slice(2)) { be.write(xIn.storage, X); cap.replay(); }
  assertClose(await b.w.data(), await a.w.data(), 0, 0, 'parameters after 6 steps');
  cap.dispose();
  void rng;
  for (const t of [a.w, b.w, xIn]) t.dispose();
  a.opt.dispose(); b.opt.dispose();
});

test('stand-alone training with replayed steps equals training through the ops (WebGPU); CPU never replays', async () => {
  if (!gpu) return;
  const run = async (be: Backend, replay: boolean) => {
    const train = generateSynthetic({ split: 'train', size: 40 });
    const sampler = new BatchSampler(train, { batchSize: 8, seed: 3 });
    const { network, history, replayedSteps } = await trainStandalone({
      backend: be, seed: 3, imageShape: [3, 32, 32], train: sampler, stepsPerEpoch: sampler.batchesPerEpoch, replay,
      network: { genotype: parseGenotype('|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|'), C: 4, N: 1, inputChannels: 3, numClasses: 10 },
      hyper: { epochs: 2, batchSize: 8, lr: 0.05 },
    });
    const state = new Map<string, Float32Array>();
    for (const [k, t] of network.stateDict()) state.set(k, await t.data());
    const bnCounts = network.namedModules().map(([k, m]) => [k, (m as { numBatchesTracked?: number }).numBatchesTracked] as const)
      .filter(([, c]) => c !== undefined);
    network.dispose();
    return { state, history, bnCounts, replayed: replayedSteps };
  };
  const ops = await run(gpu, false);
  const rep = await run(gpu, true);
  assert.is(ops.replayed, 0);
  // 5 steps per epoch: epoch 0 runs step 0 through the ops (optimizer state) and records step 1;
  // epoch 1 records step 0 (new learning rate); every other step replays
  assert.is(rep.replayed, 2 * 5 - 3, 'replayed steps');
  assert.equal(rep.bnCounts, ops.bnCounts, 'BN num_batches_tracked counts replayed steps');
  for (const [k, v] of ops.state) assertClose(rep.state.get(k)!, v, 0, 0, `state ${k}`);
  for (let e = 0; e < 2; e++) {
    assert.is(rep.history[e].train.count, ops.history[e].train.count, 'images counted');
    assert.ok(Math.abs(rep.history[e].train.loss - ops.history[e].train.loss) < 1e-6, `epoch ${e} loss`);
    assert.is(rep.history[e].train.accuracy, ops.history[e].train.accuracy, `epoch ${e} accuracy`);
  }
  // the CPU backend has no capture: the same call trains through the ops
  const cpu = await run(new CpuBackend(), true);
  assert.is(cpu.history[1].train.count, ops.history[1].train.count);
  assert.is(cpu.replayed, 0);
});

test('DARTS search epochs with replayed weight steps equal epochs through the ops (masked supernet, α steps in between)', async () => {
  if (!gpu) return;
  const source = (seed: number): { next(): HostBatch } => {
    const r = new Rng(seed);
    return { next: () => ({ x: new Float32Array(8 * 3 * 64).map(() => r.normal()), y: new Float32Array(8).map(() => r.int(4)), n: 8 }) };
  };
  // a sub-supernet (GM child): masked ops must launch nothing and BN counters of unused ops stay put
  const mask = maskFromRows(Array.from({ length: 6 }, (_, e) => [true, e % 2 === 0, true, e % 3 !== 0, true]));
  const run = async (replay: boolean) => {
    const m = createBaseMethod('darts', { backend: gpu!, sizes: { C: 4, N: 1, inputChannels: 3, numClasses: 4 }, imageShape: [3, 8, 8], seed: 4, mask, replay });
    const train = source(1), valid = source(2);
    const stats = [];
    for (let e = 0; e < 2; e++) {
      m.setEpoch(e, 2);
      stats.push(await m.trainEpoch({ steps: 5, train, valid, updateArch: true }));
    }
    const { tensors, meta } = await m.exportState();
    const out = new Map<string, Float32Array>();
    // (integer tensors such as num_batches_tracked may be BigInt64Array)
    for (const t of tensors) out.set(t.name, Float32Array.from(t.data as ArrayLike<number>, Number));
    m.dispose();
    return { stats, out, meta: JSON.stringify(meta) };
  };
  const ops = await run(false);
  const rep = await run(true);
  assert.equal(rep.stats, ops.stats, 'epoch loss / accuracy / count');
  assert.is(rep.out.size, ops.out.size);
  for (const [k, v] of ops.out) assertClose(rep.out.get(k)!, v, 0, 0, `state ${k}`);
  assert.is(rep.meta, ops.meta, 'method metadata (BN counters, lr, rng)');
});

test.run();
