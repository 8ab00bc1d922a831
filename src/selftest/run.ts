// The self-test: every kernel on the WebGPU adapter against the CPU reference, one row per op case
// and phase, plus the optimizer and counting kernels, then one small NB201 supernet training step on
// both backends (./supernet-step.ts). Used by `node run.js selftest`, the browser page and the
// public API, so an embedding page can verify its adapter before trusting it.
import type { Backend, Storage } from '../engine/backend.js';
import { flatSegments, SEGMENT_FRESH_MOMENTUM } from '../engine/backend.js';
import { OP_CASES, SPACE_SHAPE_CASES, runCase, compareArrays, seededNormal } from './cases.js';
import type { OpCase } from './cases.js';
import { supernetStepComparison, type SupernetStepResult } from './supernet-step.js';
import { switches } from '../engine/switches.js';

export interface SelftestRow {
  name: string;
  /** forward / backward of an op case; step: optimizer kernels; check: counting kernels */
  phase: 'forward' | 'backward' | 'step' | 'check';
  /** input shapes of the case (or the element count) */
  shape: string;
  /** the Backend kernel methods this row ran (op cases: recorded per phase) */
  kernels: string[];
  maxAbs: number;
  maxRel: number;
  rtol: number;
  atol: number;
  /** device time of the case, forward and backward together (on the forward row; 0 on the backward row) */
  ms: number;
  pass: boolean;
}

export interface SelftestOptions {
  quick?: boolean;
  /** test-only: corrupt the output of this Backend method on the device under test */
  faultKernel?: string;
  /** also run one small NB201 supernet training step on both backends (default true) */
  supernetStep?: boolean;
  onRow?: (row: SelftestRow) => void;
}

export interface SelftestReport {
  rows: SelftestRow[];
  /** the supernet training step, when it ran */
  step: SupernetStepResult | null;
  /** one line per failing row (name, phase, kernels) and 'supernet training step' when that failed */
  failed: string[];
  /** the kernels to blame: launched by failing rows and by no passing row (else all of the failing rows') */
  failedKernels: string[];
  passed: number;
}

/** Which argument of a Backend method is its output, for fault injection. */
const OUTPUT_ARG: Record<string, number> = {
  add: 2, mul: 2, scale: 2, relu: 1, reluBackward: 2, relu6: 1, relu6Backward: 2, mulBroadcast: 2, mulBroadcastGradS: 2, weightedSum: 3,
  scaleByElement: 3, sum: 1, broadcastScalar: 2, dropoutMask: 0, conv2d: 3, conv2dInputGrad: 2,
  conv2dWeightGrad: 2, channelSum: 1, batchNormTrain: 3, batchNormEval: 5, batchNormBackward: 5,
  batchNormEvalBackward: 5, pool2d: 1, pool2dBackward: 2, globalAvgPool: 1, globalAvgPoolBackward: 1,
  matmul: 2, addRowBias: 2, columnSum: 1, softmax: 1, softmaxBackward: 2, crossEntropy: 2,
  crossEntropyBackward: 3, copyChannels: 1, sgdStep: 0, adamStep: 0,
  fill: 0, copy: 1, addInPlace: 0, dot: 2, sumSquares: 1, nonFiniteCount: 1, correctCount: 2,
  clipFactor: 3, scaleInPlaceByElement: 0, sgdStepFlat: 0, clipGradNormFlat: 0,
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

/** Backend methods that move or manage memory rather than launch a kernel. */
const NOT_KERNELS = new Set(['alloc', 'upload', 'write', 'read', 'release', 'view', 'flush', 'sync', 'memoryStats', 'dispatchCount', 'dispose']);

/** A view of `be` that records which kernel methods are called, into whichever set `into` holds. */
function recordingBackend(be: Backend): { be: Backend; into: Set<string> | null } {
  const rec: { be: Backend; into: Set<string> | null } = { be, into: null };
  rec.be = new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      if (typeof prop !== 'string' || NOT_KERNELS.has(prop)) return v.bind(target);
      return (...args: unknown[]) => { rec.into?.add(prop); return v.apply(target, args); };
    },
  });
  return rec;
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
  await run('clip grad norm 5', ['sumSquares', 'clipFactor', 'scaleInPlaceByElement', 'addInPlace'], (be, p, g, a) => {
    be.addInPlace(p, g, n, -0.5);
    be.sumSquares(p, a, 0, n);
    const f = be.alloc(1);
    be.clipFactor(a, 1, 5, f);
    be.scaleInPlaceByElement(p, f, 0, n);
    be.release(f);
  });
  // the arena forms (optim/arena.ts): two segments, the first with new momentum buffers, a gap
  const segments = flatSegments([{ start: 0, length: 300, flags: SEGMENT_FRESH_MOMENTUM }, { start: 512, length: 400, flags: 0 }]);
  await run('SGD over an arena, 2 segments (3 steps)', ['sgdStepFlat'], (be, p, g, a) => {
    const segs = be.upload(segments);
    be.sgdStepFlat(p, g, a, segs, 2, { lr: 0.025, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 5e-4 });
    be.release(segs);
  });
  await run('clip grad norm 5 over an arena', ['clipGradNormFlat', 'addInPlace'], (be, p, g) => {
    be.addInPlace(p, g, n, -0.5);
    const segs = be.upload(segments);
    be.clipGradNormFlat(p, segs, 2, 5);
    be.release(segs);
  });
  return rows;
}

/** The counting kernels (no gradients): non-finite values and correct predictions, plus fill/copy. */
async function checkRows(cpu: Backend, gpu: Backend): Promise<SelftestRow[]> {
  const rows: SelftestRow[] = [];
  const run = async (name: string, kernels: string[], shape: string, f: (be: Backend) => Promise<Float32Array>) => {
    const outs: Float32Array[] = [];
    let ms = 0;
    for (const be of [cpu, gpu]) {
      const t0 = performance.now();
      outs.push(await f(be));
      if (be === gpu) ms = performance.now() - t0;
    }
    const cmp = compareArrays(outs[1], outs[0], 0, 0);
    rows.push({ name, phase: 'check', shape, kernels, maxAbs: cmp.maxAbs, maxRel: cmp.maxRel, rtol: 0, atol: 0, ms, pass: cmp.pass });
  };
  const n = 4099;
  await run('nonFiniteCount', ['nonFiniteCount', 'fill', 'copy'], `${n}`, async (be) => {
    const host = seededNormal(n, 11);
    host[5] = NaN; host[700] = Infinity; host[4098] = -Infinity;
    const x = be.upload(host), y = be.alloc(n), out = be.alloc(3);
    be.fill(out, 0, 3);
    be.copy(x, y, n);
    be.nonFiniteCount(y, out, 0, n);
    be.nonFiniteCount(y, out, 1, 4000);
    be.fill(y, 2.5, n);
    be.nonFiniteCount(y, out, 2, n);
    const r = await be.read(out, 3);
    for (const s of [x, y, out]) be.release(s);
    return r;
  });
  const rowsN = 37, cols = 10;
  await run('correctCount', ['correctCount'], `${rowsN}×${cols}`, async (be) => {
    const logits = seededNormal(rowsN * cols, 12);
    logits[3 * cols + 4] = logits[3 * cols + 6] = 9; // a tie: the first maximum counts
    const labels = Float32Array.from({ length: rowsN }, (_, i) => (i * 3) % cols);
    labels[3] = 4;
    const l = be.upload(logits), y = be.upload(labels), out = be.alloc(2);
    be.fill(out, 0, 2);
    be.correctCount(l, y, out, 0, { rows: rowsN, cols });
    be.correctCount(l, y, out, 1, { rows: 5, cols });
    const r = await be.read(out, 2);
    for (const s of [l, y, out]) be.release(s);
    return r;
  });
  return rows;
}

/** Whether `be` is a WebGPU backend whose conv kernels have a subgroup variant in use. */
function usesConvSubgroups(be: Backend): boolean {
  const rt = (be as { rt?: { hasSubgroups?: boolean } }).rt;
  return be.kind === 'webgpu' && !!rt?.hasSubgroups && switches.subgroups;
}

/**
 * The kernels to blame: those launched by failing rows and by no passing row; when that leaves
 * nothing (a kernel wrong only at some shapes), every kernel of the failing rows.
 */
function suspectKernels(rows: SelftestRow[]): string[] {
  const bad = new Set(rows.filter((r) => !r.pass).flatMap((r) => r.kernels));
  const good = new Set(rows.filter((r) => r.pass).flatMap((r) => r.kernels));
  const suspects = [...bad].filter((k) => !good.has(k));
  return suspects.length ? suspects : [...bad];
}

/** Run every case on `gpu` and `cpu` and compare. Never throws for a numeric mismatch: rows say it. */
export async function runSelftest(gpu: Backend, cpu: Backend, o: SelftestOptions = {}): Promise<SelftestReport> {
  const dut = o.faultKernel ? withInjectedFault(gpu, o.faultKernel) : gpu;
  const cases = o.quick ? [...OP_CASES.filter((c) => c.quick), SPACE_SHAPE_CASES[0]] : [...OP_CASES, ...SPACE_SHAPE_CASES];
  const rows: SelftestRow[] = [];
  const push = (r: SelftestRow) => { rows.push(r); o.onRow?.(r); };
  await runCases(cases, cpu, dut, push, '');
  // Full mode on an adapter with subgroups: the conv cases again through the portable kernels that
  // adapters without subgroups run.
  if (!o.quick && usesConvSubgroups(gpu)) {
    const convCases = cases.filter((c) => c.kernels.some((k) => k.startsWith('conv2d')));
    switches.subgroups = false;
    try {
      await runCases(convCases, cpu, dut, push, ' [no subgroups]');
    } finally {
      switches.subgroups = true;
    }
  }
  for (const r of await optimizerRows(cpu, dut)) push(r);
  for (const r of await checkRows(cpu, dut)) push(r);
  const failed = rows.filter((r) => !r.pass).map((r) => `${r.name} (${r.phase}; kernels ${r.kernels.join(', ')})`);
  const failedKernels = suspectKernels(rows);
  let step: SupernetStepResult | null = null;
  if (o.supernetStep ?? true) {
    try {
      step = await supernetStepComparison(dut, cpu);
    } catch (e) {
      failed.push(`supernet training step: ${(e as Error).message}`);
    }
    if (step && !step.pass) failed.push('supernet training step');
  }
  return { rows, step, failed, failedKernels, passed: rows.filter((r) => r.pass).length };
}

async function runCases(cases: OpCase[], cpu: Backend, dut: Backend, push: (r: SelftestRow) => void, suffix: string): Promise<void> {
  for (const c0 of cases) {
    const c = suffix ? { ...c0, name: c0.name + suffix } : c0;
    const ref = await runCase(cpu, c, 3);
    await dut.sync();
    const t0 = performance.now();
    // the kernels each phase actually launched (the forward row compares the op's output, the
    // backward row the input gradients of the projected loss)
    const fwd = new Set<string>(), bwd = new Set<string>();
    const rec = recordingBackend(dut);
    rec.into = fwd;
    let got;
    try {
      got = await runCase(rec.be, c, 3, () => { rec.into = bwd; });
    } catch (e) {
      push({ name: `${c.name}: ${(e as Error).message}`, phase: 'forward', shape: shapeOf(c), kernels: c.kernels, maxAbs: NaN, maxRel: NaN, rtol: 0, atol: 0, ms: 0, pass: false });
      continue;
    }
    const ms = performance.now() - t0;
    const rtol = c.rtol ?? 1e-3, atol = c.atol ?? 1e-4;
    const f = compareArrays(got.output, ref.output, rtol, atol);
    push({ name: c.name, phase: 'forward', shape: shapeOf(c), kernels: [...fwd], maxAbs: f.maxAbs, maxRel: f.maxRel, rtol, atol, ms, pass: f.pass });
    let maxAbs = 0, maxRel = 0, pass = true;
    ref.grads.forEach((g, i) => {
      const r = compareArrays(got.grads[i], g, rtol, atol);
      maxAbs = Math.max(maxAbs, r.maxAbs); maxRel = Math.max(maxRel, r.maxRel); pass &&= r.pass;
    });
    push({ name: c.name, phase: 'backward', shape: shapeOf(c), kernels: [...bwd], maxAbs, maxRel, rtol, atol, ms: 0, pass });
  }
}
