// The wasm backend's thread pool (src/engine/wasm/threads.ts): a call's parts are claimed by whichever
// thread gets there first, so a part must give the same result on the caller and on a worker — checked
// bit for bit by running the same calls with the caller taking parts and with the workers taking all
// of them (ThreadPool.callerClaims), and against the CPU reference; a kernel failing on a worker must
// reach the caller as an error, and the pool must keep working afterwards. The spin-or-sleep choice
// is checked as a rule (nextSpinMode) and in a pool whose workers join every call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConvGeom, Storage } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { WasmBackend } from '../../src/engine/wasm/wasm-backend.js';
import { kernelTask } from '../../src/engine/wasm/tasks.js';
import { EPOCH_RUNS, EXPLORE_EVERY, nextSpinMode } from '../../src/engine/wasm/threads.js';
import { assertClose } from '../helpers/backends.js';

const filled = (n: number, seed: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i * 0.618 + seed));

/** conv forward, input gradient (fused ReLU) and weight gradient on `be`, results read back */
async function convs(be: WasmBackend | CpuBackend, g: ConvGeom): Promise<Float32Array[]> {
  const nx = g.N * g.Cin * g.H * g.W, ny = g.N * g.Cout * g.OH * g.OW, nw = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  const x = be.upload(filled(nx, 1)), w = be.upload(filled(nw, 2)), dy = be.upload(filled(ny, 3));
  const y = be.alloc(ny), dx = be.alloc(nx), dw = be.alloc(nw);
  be.conv2d(x, w, null, y, g);
  be.conv2dInputGrad(dy, w, dx, g, x);
  be.conv2dWeightGrad(dy, x, dw, g);
  const out = await Promise.all([y, dx, dw].map((s: Storage) => be.read(s)));
  for (const s of [x, w, dy, y, dx, dw]) be.release(s);
  return out;
}

const geom: ConvGeom = { N: 6, Cin: 8, H: 8, W: 8, Cout: 8, KH: 3, KW: 3, OH: 8, OW: 8, strideH: 1, strideW: 1, padH: 1, padW: 1,
  dilH: 1, dilW: 1, groups: 1, reluInput: true };

test('a part gives the same result on a worker as on the caller, and the CPU reference result', async () => {
  const be = await WasmBackend.create({ threads: 2 });
  try {
    const pool = be.threadPool;
    const mixed = await convs(be, geom);
    pool.callerClaims = false;
    const before = pool.counts.theirs;
    const workers = await convs(be, geom);
    assert.ok(pool.counts.theirs - before >= 6, `workers ran ${pool.counts.theirs - before} parts of 3 split calls`);
    pool.callerClaims = true;
    mixed.forEach((m, i) => assert.equal(Array.from(workers[i]), Array.from(m), `output ${i} differs between threads`));
    const ref = await convs(new CpuBackend(), geom);
    ref.forEach((r, i) => assertClose(workers[i], r, 1e-4, 1e-4, `output ${i} vs the CPU reference`));
  } finally {
    be.dispose();
  }
});

test('a kernel failing on a worker thread is reported to the caller, and the pool goes on working', async () => {
  const be = await WasmBackend.create({ threads: 2 });
  try {
    const pool = be.threadPool;
    const a = be.upload(filled(64, 1)), b = be.upload(filled(64, 2));
    const ap = (a as unknown as { ptr: number }).ptr, bp = (b as unknown as { ptr: number }).ptr;
    pool.callerClaims = false;
    kernelTask(pool.block(0), 'axpy', [ap, 2, bp, 16, 1]);
    kernelTask(pool.block(1), 'axpy', [2 ** 32 - 64, 2, bp + 64, 16, 1]); // past the end of the memory: a trap
    assert.throws(() => pool.run(2), /worker thread's kernel failed/);
    pool.callerClaims = true;
    const ok = await convs(be, geom), ref = await convs(new CpuBackend(), geom);
    ok.forEach((r, i) => assertClose(r, ref[i], 1e-4, 1e-4, `output ${i} after the failure`));
  } finally {
    be.dispose();
  }
});

test('spin or sleep: the mode workers joined more calls in, spinning on a near tie, the other re-tried every few epochs', () => {
  assert.is(nextSpinMode([NaN, NaN], 1), 1, 'spinning first');
  assert.is(nextSpinMode([NaN, 0.3], 1), 1, 'spinning until sleeping was measured');
  assert.is(nextSpinMode([0.75, 0.32], 3), 0, 'under load: workers joined more calls sleeping');
  assert.is(nextSpinMode([0.6, 0.98], 3), 1, 'idle: spinning joined more');
  assert.is(nextSpinMode([0.99, 0.96], 3), 1, 'a tie within 5 points keeps spinning');
  assert.is(nextSpinMode([0.75, 0.32], EXPLORE_EVERY), 1, 'spinning re-tried');
  assert.is(nextSpinMode([0.6, 0.98], 2 * EXPLORE_EVERY), 0, 'sleeping re-tried');
});

test('the adaptive pool: with every part on the workers (joined in either mode) it spins, re-tries sleeping for one epoch, spins again', async () => {
  const be = await WasmBackend.create({ threads: 2 });
  try {
    const pool = be.threadPool;
    pool.callerClaims = false;
    const n = 1 << 12, a = be.upload(filled(2 * n, 1)), b = be.upload(filled(2 * n, 2));
    const ap = (a as unknown as { ptr: number }).ptr, bp = (b as unknown as { ptr: number }).ptr;
    const modes: boolean[] = [];
    for (let i = 0; i < (EXPLORE_EVERY + 2) * EPOCH_RUNS; i++) {
      modes.push(pool.spinning); // the mode this call runs in
      kernelTask(pool.block(0), 'axpy', [ap, 1e-3, bp, n, 1]);
      kernelTask(pool.block(1), 'axpy', [ap + 4 * n, 1e-3, bp + 4 * n, n, 1]);
      pool.run(2);
    }
    const epoch = (e: number): boolean[] => modes.slice(e * EPOCH_RUNS, (e + 1) * EPOCH_RUNS);
    for (let e = 0; e < EXPLORE_EVERY; e++) assert.ok(epoch(e).every((m) => m), `epoch ${e} must spin`);
    assert.ok(epoch(EXPLORE_EVERY).every((m) => !m), `epoch ${EXPLORE_EVERY} must re-try sleeping`);
    assert.ok(epoch(EXPLORE_EVERY + 1).every((m) => m), 'a tie goes back to spinning');
  } finally {
    be.dispose();
  }
});

test.run();
