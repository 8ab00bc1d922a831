// The self-test: every kernel on the WebGPU adapter against the CPU reference, one row per op case
// and phase, plus the optimizer kernels. Used by `node run.js selftest`, the browser page and the
// public API, so an embedding page can verify its adapter before trusting it.
import type { Backend, Storage } from '../engine/backend.js';
import { OP_CASES, NB201_CASES, runCase, compareArrays, seededNormal } from './cases.js';
import type { OpCase } from './cases.js';

export interface SelftestRow {
  name: string;
  phase: 'forward' | 'backward' | 'step';
  shape: string;
  kernels: string[];
  maxAbs: number;
  maxRel: number;
  rtol: number;
  atol: number;
  ms: number;
  pass: boolean;
}

export interface SelftestOptions {
  quick?: boolean;
  /** test-only: corrupt the output of this Backend method on the device under test */
  faultKernel?: string;
  onRow?: (row: SelftestRow) => void;
}

export interface SelftestReport { rows: SelftestRow[]; failed: string[]; passed: number }

/** Which argument of a Backend method is its output, for fault injection. */
const OUTPUT_ARG: Record<string, number> = {
  add: 2, mul: 2, scale: 2, relu: 1, reluBackward: 2, mulBroadcast: 2, mulBroadcastGradS: 2, weightedSum: 3,
  scaleByElement: 3, sum: 1, broadcastScalar: 2, dropoutMask: 0, conv2d: 3, conv2dInputGrad: 2,
  conv2dWeightGrad: 2, channelSum: 1, batchNormTrain: 3, batchNormEval: 5, batchNormBackward: 5,
  batchNormEvalBackward: 5, pool2d: 1, pool2dBackward: 2, globalAvgPool: 1, globalAvgPoolBackward: 1,
  matmul: 2, addRowBias: 2, columnSum: 1, softmax: 1, softmaxBackward: 2, crossEntropy: 2,
  crossEntropyBackward: 3, copyChannels: 1, sgdStep: 0, adamStep: 0,
};

export const FAULT_KERNELS = Object.keys(OUTPUT_ARG);

/** A view of `be` whose `kernel` writes a wrong first element (proves the self-test can fail). */
export function withInjectedFault(be: Backend, kernel: string): Backend {
  const arg = OUTPUT_ARG[kernel];
  if (arg === undefined) throw new Error(`fault injection: unknown kernel '${kernel}'; known: ${FAULT_KERNELS.join(', ')}`);
  return new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      if (prop !== kernel) return v.bind(target);
      return (...args: unknown[]) => {
        const r = v.apply(target, args);
        target.write(args[arg] as Storage, Float32Array.of(1e3));
        return r;
      };
    },
  });
}

function shapeOf(c: OpCase): string {
  return c.inputs.map((s) => s.join('×')).join(', ');
}

async function optimizerRows(cpu: Backend, gpu: Backend): Promise<SelftestRow[]> {
  const n = 1000;
  const rows: SelftestRow[] = [];
  const run = async (name: string, kernels: string[], f: (be: Backend, p: Storage, g: Storage, a: Storage, b: Storage) => void) => {
    const outs: Float32Array[] = [];
    let ms = 0;
    for (const be of [cpu, gpu]) {
      const p = be.upload(seededNormal(n, 1)), g = be.upload(seededNormal(n, 2));
      const a = be.upload(new Float32Array(n)), b = be.upload(new Float32Array(n));
      const t0 = performance.now();
      for (let s = 0; s < 3; s++) f(be, p, g, a, b);
      outs.push(await be.read(p, n));
      if (be === gpu) ms = performance.now() - t0;
      for (const s of [p, g, a, b]) be.release(s);
    }
    const cmp = compareArrays(outs[1], outs[0], 1e-4, 1e-5);
    rows.push({ name, phase: 'step', shape: `${n}`, kernels, maxAbs: cmp.maxAbs, maxRel: cmp.maxRel, rtol: 1e-4, atol: 1e-5, ms, pass: cmp.pass });
  };
  await run('SGD nesterov wd (3 steps)', ['sgdStep'], (be, p, g, a) => be.sgdStep(p, g, a, n, { lr: 0.025, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 5e-4 }));
  let step = 0;
  await run('Adam wd (3 steps)', ['adamStep'], (be, p, g, a, b) => be.adamStep(p, g, a, b, n, { lr: 3e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: 1e-3, step: (step++ % 3) + 1 }));
  await run('clip grad norm 5', ['sumSquares', 'clipFactor', 'scaleInPlaceByElement'], (be, p, _g, a) => {
    be.sumSquares(p, a, 0, n);
    const f = be.alloc(1);
    be.clipFactor(a, 1, 5, f);
    be.scaleInPlaceByElement(p, f, 0, n);
    be.release(f);
  });
  return rows;
}

/** Run every case on `gpu` and `cpu` and compare. Never throws for a numeric mismatch: rows say it. */
export async function runSelftest(gpu: Backend, cpu: Backend, o: SelftestOptions = {}): Promise<SelftestReport> {
  const dut = o.faultKernel ? withInjectedFault(gpu, o.faultKernel) : gpu;
  const cases = o.quick ? [...OP_CASES.filter((c) => c.quick), NB201_CASES[0]] : [...OP_CASES, ...NB201_CASES];
  const rows: SelftestRow[] = [];
  const push = (r: SelftestRow) => { rows.push(r); o.onRow?.(r); };
  for (const c of cases) {
    const ref = await runCase(cpu, c, 3);
    await dut.sync();
    const t0 = performance.now();
    let got;
    try {
      got = await runCase(dut, c, 3);
    } catch (e) {
      push({ name: `${c.name}: ${(e as Error).message}`, phase: 'forward', shape: shapeOf(c), kernels: c.kernels, maxAbs: NaN, maxRel: NaN, rtol: 0, atol: 0, ms: 0, pass: false });
      continue;
    }
    const ms = performance.now() - t0;
    const rtol = c.rtol ?? 1e-3, atol = c.atol ?? 1e-4;
    const f = compareArrays(got.output, ref.output, rtol, atol);
    push({ name: c.name, phase: 'forward', shape: shapeOf(c), kernels: c.kernels, maxAbs: f.maxAbs, maxRel: f.maxRel, rtol, atol, ms, pass: f.pass });
    let maxAbs = 0, maxRel = 0, pass = true;
    ref.grads.forEach((g, i) => {
      const r = compareArrays(got.grads[i], g, rtol, atol);
      maxAbs = Math.max(maxAbs, r.maxAbs); maxRel = Math.max(maxRel, r.maxRel); pass &&= r.pass;
    });
    push({ name: c.name, phase: 'backward', shape: shapeOf(c), kernels: c.kernels, maxAbs, maxRel, rtol, atol, ms: 0, pass });
  }
  for (const r of await optimizerRows(cpu, dut)) push(r);
  const failed = rows.filter((r) => !r.pass).map((r) => `${r.name} (${r.phase}; kernels ${r.kernels.join(', ')})`);
  return { rows, failed, passed: rows.length - failed.length };
}
