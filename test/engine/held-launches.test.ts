// Held-back launches against a random workload: random programs of convolutions (forward, input
// and weight gradients, 3x3 and 1x1 over shared inputs, so that pairs form, break and interleave),
// copies, in-place adds, buffers released and re-uploaded while held launches use them, and reads,
// training-mode BN statistics of conv outputs (held too, and read by nothing until the end), run on
// the CPU reference and on WebGPU with convolution pairs on and off. The weight gradients are
// disjoint views of one arena (as an optimizer's, optim/arena.ts), sometimes read all at once. Every buffer must end
// equal to the CPU's (up to float rounding: a pair sums two input gradients in one pass). The
// kernel tests check each launch; this checks the runtime's flush rules (GpuRuntime.defer).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, ConvGeom, Storage } from '../../src/engine/backend.js';
import { convOutSize } from '../../src/engine/backend.js';
import { assertClose, randn, testBackends, testingWasm } from '../helpers/backends.js';
import { switches } from '../../src/engine/switches.js';

const { cpu, gpu } = await testBackends();
test.after(() => { gpu?.dispose(); });

const N = 2, C = 8, H = 8, W = 8;
const ACT = N * C * H * W;
const geom = (k: 1 | 3): ConvGeom => ({
  N, Cin: C, Cout: C, H, W, KH: k, KW: k, strideH: 1, strideW: 1, padH: (k - 1) / 2, padW: (k - 1) / 2,
  dilH: 1, dilW: 1, groups: 1, OH: convOutSize(H, k, 1, (k - 1) / 2, 1), OW: convOutSize(W, k, 1, (k - 1) / 2, 1), reluInput: true,
});
const G = { 1: geom(1), 3: geom(3) } as const;
const wSize = (k: 1 | 3): number => C * C * k * k;

/** One step of a program; indices pick buffers of the kind named. */
type Step =
  | { op: 'forward'; k: 1 | 3; x: number; w: number; y: number }
  | { op: 'inputGrad'; k: 1 | 3; dy: number; w: number; dx: number; mask: number; acc: boolean }
  | { op: 'weightGrad'; k: 1 | 3; dy: number; x: number; dw: number }
  | { op: 'copy'; from: number; to: number }
  | { op: 'add'; into: number; from: number }
  | { op: 'replace'; a: number; seed: number }
  | { op: 'read'; a: number }
  | { op: 'stats'; x: number; st: number }
  | { op: 'useGrad'; k: 1 | 3; dw: number }
  | { op: 'norm'; slot: number };

const ACTS = 6;

/** A random program from `seed`; convolutions often come in 3x3 / 1x1 pairs over one input. */
function program(seed: number, length: number): Step[] {
  let s = seed >>> 0;
  const rnd = (n: number): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % n; };
  const other = (...not: number[]): number => { let a = rnd(ACTS); while (not.includes(a)) a = (a + 1) % ACTS; return a; };
  const out: Step[] = [];
  while (out.length < length) {
    const r = rnd(12);
    const k: 1 | 3 = rnd(2) ? 3 : 1, k2: 1 | 3 = k === 3 ? 1 : 3;
    if (r < 2) {
      const x = rnd(ACTS), y = other(x), y2 = other(x, y);
      out.push({ op: 'forward', k, x, w: rnd(2), y });
      if (rnd(3)) out.push({ op: 'forward', k: k2, x, w: rnd(2), y: y2 });
    } else if (r < 5) {
      // an edge's backward: input and weight gradient of one conv, then of the other
      const x = rnd(ACTS), dx = other(x), dy = other(x, dx), dy2 = other(x, dx, dy);
      out.push({ op: 'inputGrad', k, dy, w: rnd(2), dx, mask: x, acc: rnd(2) === 1 });
      if (rnd(2)) out.push({ op: 'weightGrad', k, dy, x, dw: rnd(2) });
      if (rnd(4)) out.push({ op: 'inputGrad', k: k2, dy: dy2, w: rnd(2), dx, mask: x, acc: true });
      if (rnd(2)) out.push({ op: 'weightGrad', k: k2, dy: dy2, x, dw: rnd(2) });
      // the whole gradient arena read while weight gradients may still be held (clipping's norm)
      if (rnd(3) === 0) out.push({ op: 'norm', slot: rnd(4) });
    } else if (r < 6) {
      const from = rnd(ACTS);
      out.push({ op: 'copy', from, to: other(from) });
    } else if (r < 7) {
      const from = rnd(ACTS);
      out.push({ op: 'add', into: other(from), from });
    } else if (r < 8) {
      out.push({ op: 'replace', a: rnd(ACTS), seed: rnd(1 << 20) });
    } else if (r === 11) {
      // a weight gradient used at once (a launch binds it: its held split-K sum must run first),
      // sometimes followed by a launch over the whole gradient arena (clipping's norm)
      const x = rnd(ACTS), dy = other(x), dw = rnd(2);
      out.push({ op: 'weightGrad', k, dy, x, dw }, rnd(2) ? { op: 'useGrad', k, dw } : { op: 'norm', slot: rnd(4) });
    } else if (r < 9) {
      // a forward conv whose output's BN statistics are taken right away (reluConvBatchNorm's order)
      const x = rnd(ACTS), y = other(x);
      out.push({ op: 'forward', k, x, w: rnd(2), y }, { op: 'stats', x: y, st: rnd(2) });
    } else if (r < 10) {
      out.push({ op: 'read', a: rnd(ACTS) });
    } else {
      out.push({ op: 'stats', x: rnd(ACTS), st: rnd(2) });
    }
  }
  // a tail that needs the families' order: statistics held first, then a convolution, then the
  // statistics of its output — all encoded by one flush, the convolution before both
  out.push({ op: 'read', a: 5 }, { op: 'stats', x: 0, st: 0 }, { op: 'forward', k: 3, x: 1, w: 0, y: 2 },
    { op: 'stats', x: 2, st: 1 }, { op: 'read', a: 3 });
  return out;
}

/** Run a program on `be`; the final contents of every buffer. */
async function execute(be: Backend, steps: Step[], seed: number): Promise<Float32Array[]> {
  const acts = Array.from({ length: ACTS }, (_, i) => be.upload(randn(ACT, seed * 100 + i)));
  const weights = { 1: [0, 1].map((i) => be.upload(randn(wSize(1), seed * 100 + 10 + i))), 3: [0, 1].map((i) => be.upload(randn(wSize(3), seed * 100 + 20 + i))) };
  // the weight gradients are views of one arena, as an optimizer's are (optim/arena.ts): a held
  // launch writing one must not be flushed by, nor reordered around, a use of another
  const span = (n: number): number => Math.ceil(n / be.viewAlignment) * be.viewAlignment;
  const arenaSize = 2 * span(wSize(1)) + 2 * span(wSize(3));
  const arena = be.upload(new Float32Array(arenaSize));
  const offsets = [0, span(wSize(1)), 2 * span(wSize(1)), 2 * span(wSize(1)) + span(wSize(3))];
  const grads = { 1: [0, 1].map((i) => be.view(arena, offsets[i], wSize(1))), 3: [0, 1].map((i) => be.view(arena, offsets[2 + i], wSize(3))) };
  const norms = be.upload(new Float32Array(4));
  // per statistics slot: the [mean | invstd | scale | shift] block and the running mean and variance
  const stats = [0, 1].map(() => [be.upload(new Float32Array(4 * C)), be.upload(new Float32Array(C)), be.upload(new Float32Array(C).fill(1))]);
  const bn = { N, C, HW: H * W, eps: 1e-5, momentum: 0.1 };
  for (const st of steps) {
    switch (st.op) {
      case 'forward': be.conv2d(acts[st.x], weights[st.k][st.w], null, acts[st.y], G[st.k]); break;
      case 'inputGrad': be.conv2dInputGrad(acts[st.dy], weights[st.k][st.w], acts[st.dx], G[st.k], acts[st.mask], st.acc); break;
      case 'weightGrad': be.conv2dWeightGrad(acts[st.dy], acts[st.x], grads[st.k][st.dw], G[st.k]); break;
      case 'copy': be.copy(acts[st.from], acts[st.to], ACT); break;
      case 'add': be.addInPlace(acts[st.into], acts[st.from], ACT, 0.5); break;
      case 'replace': {
        const old: Storage = acts[st.a];
        acts[st.a] = be.upload(randn(ACT, st.seed));
        be.release(old); // possibly while a held launch still reads or writes it
        break;
      }
      case 'read': await be.read(acts[st.a]); break;
      case 'useGrad': be.addInPlace(grads[st.k][st.dw], grads[st.k][st.dw], wSize(st.k), -0.5); break;
      case 'norm': be.sumSquares(arena, norms, st.slot, arenaSize); break;
      case 'stats': be.batchNormStats(acts[st.x], null, null, stats[st.st][0], stats[st.st][1], stats[st.st][2], bn); break;
    }
  }
  const out: Float32Array[] = [];
  for (const s of [...acts, ...grads[1], ...grads[3], norms, ...stats.flat()]) out.push(await be.read(s));
  for (const s of [...acts, ...weights[1], ...weights[3], ...grads[1], ...grads[3], arena, norms, ...stats.flat()]) be.release(s);
  return out;
}

test('random programs: WebGPU with held and paired convolutions equals the CPU reference, and pairs form', async () => {
  if (!gpu) return;
  let saved = 0;
  try {
    for (let seed = 1; seed <= 16; seed++) {
      const steps = program(seed * 7919, 48);
      const want = await execute(cpu, steps, seed);
      const counts: number[] = [];
      for (const on of [true, false]) {
        switches.convPairs = on;
        const d0 = gpu.dispatchCount();
        const got = await execute(gpu, steps, seed);
        counts.push(gpu.dispatchCount() - d0);
        got.forEach((g, i) => {
          let scale = 0;
          for (const v of want[i]) scale = Math.max(scale, Math.abs(v));
          assertClose(g, want[i], 1e-4, 1e-4 * scale + 1e-5, `seed ${seed} pairs ${on} buffer ${i}`);
        });
      }
      assert.ok(counts[0] <= counts[1], `seed ${seed}: pairs never add launches (${counts[0]} vs ${counts[1]})`);
      saved += counts[1] - counts[0];
    }
  } finally {
    switches.convPairs = true;
  }
  // the wasm backend runs every launch at once: values are checked above, pairs are a WebGPU matter
  if (!testingWasm()) assert.ok(saved >= 12, `the programs formed pairs (${saved} launches saved over 16 programs)`);
});

test.run();
