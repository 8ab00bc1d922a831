// `npm run bench [-- --device webgpu|wasm|cpu|both] [--threads N] [--json] [--reps N] [--batch N] [--sections LIST] [--steps N]`
// Sections (default all): `autotune` (webgpu) the NB201 stage convolutions' autotuning — every variant's
// time and the choice, which the later sections then run with (kernels of other shapes keep the rules;
// off with GMNAS_AUTOTUNE=0; nothing is cached to disk here, so the times are measured every run); `kernels` per-kernel time and GFLOP/s at the NAS-Bench-201 stage shapes and
// the dispatch count of one ReLU→conv→BN forward+backward through autograd; `tfjs` (bench a) ReLU→conv
// forward+backward at the stage shapes, gmnas vs tfjs-backend-webgpu 4.22 on the same Dawn adapter in
// this process; `depthwise` ReLU→depthwise conv forward+backward at DARTS and MobileNet shapes: the
// depthwise kernels vs the implicit-GEMM ones (same process) and vs tfjs-backend-webgpu; `step` (benches b and c) one NB201 supernet DARTS step (C=16 N=5 B=64 and the quick
// preset's C=8 N=1 B=32 16×16) in ms, dispatches and peak device memory, on each device; with
// --baseline also the engine's unfused path (switches.fusion = false, 4-column conv tiles, one
// lane per item) on a second backend in this process, steps alternating so both see the same load;
// the optimizer (clipping + SGD over the C16 N5 supernet's parameters, one arena vs multi-tensor
// launches, webgpu); `tools` the wall time of generating the synthetic dataset and of `run.js selftest --quick`;
// `algorithms` Kendall/Spearman on 20k items and the n=16 B=4 balanced min-cut (host code).
// --device both (default) runs webgpu, wasm and cpu; --threads N sets the wasm backend's threads (default:
// the cores). With --device wasm, `tfjs` compares tfjs-backend-wasm 4.22 (devDependency; one thread, SIMD) with
// the wasm backend on one thread at the stage convolutions, forward and input gradient (bench/tfjs-wasm.ts).
// Prints a table (unless --json) and one JSON line per row; with --json only JSON lines reach stdout.
// Kernel timing: warm-up run, then `reps` runs encoded back to back and one sync — device time per call
// including dispatch overhead, which is what a training loop sees.
import { parseArgs } from 'node:util';
import type { Backend, ConvGeom, Storage } from '../src/engine/backend.js';
import { CpuBackend } from '../src/engine/cpu/cpu-backend.js';
import { WebGpuBackend } from '../src/engine/webgpu/webgpu-backend.js';
import { WasmBackend } from '../src/engine/wasm/wasm-backend.js';
import { Tensor, tidy, backward, relu, conv2d, batchNorm, sum } from '../src/engine/index.js';
import { installNodeGpu } from './gpu-global.js';
import { CONV_CASES, gmnasConvFwdBwd, loadTfjs, tfjsConvFwdBwd, type TfjsHandle } from './tfjs-conv.js';
import { benchTfjsWasm, loadTfjsWasm } from './tfjs-wasm.js';
import { DEPTHWISE_CASES, gmnasDepthwiseFwdBwd, tfjsDepthwiseFwdBwd } from './depthwise.js';
import { benchQuickSelftest, benchSyntheticGeneration } from './tools.js';
import { benchAlgorithms } from './algorithms.js';
import { STEP_CONFIGS, configFor, benchStep, benchStepPair, benchReplay, benchOptimizer, dispatchesPerEdge, type StepResult } from './nb201-step.js';
import { switches } from '../src/engine/switches.js';

const SECTIONS = ['autotune', 'kernels', 'tfjs', 'depthwise', 'step', 'tools', 'algorithms'];

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'both' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
    reps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '64' },
    sections: { type: 'string', default: SECTIONS.join(',') },
    steps: { type: 'string', default: '2' },
    baseline: { type: 'boolean', default: false },
    configs: { type: 'string', default: STEP_CONFIGS.map((c) => c.name).join(',') },
  },
});
const sections = new Set((values.sections as string).split(',').map((x) => x.trim()));
for (const sct of sections) {
  if (!SECTIONS.includes(sct)) {
    console.error(`bench: --sections: unknown section '${sct}' (known: ${SECTIONS.join(', ')})`);
    process.exit(2);
  }
}
const reps = Math.max(1, Number(values.reps));
const N = Math.max(1, Number(values.batch));
const jsonOnly = values.json as boolean;
const steps = Math.max(1, Number(values.steps));
const say = (msg: string): void => { if (!jsonOnly) console.error(msg); };

interface Row { bench: string; device: string; shape: string; ms: number; gflops: number | null; dispatches?: number }
const rows: Row[] = [];
const extraLines: string[] = [];

function emit(r: Row): void {
  rows.push(r);
  console.log(JSON.stringify(r));
}

/** A JSON line of a fixed schema (the issue's), also kept for the summary table. */
function emitLine(o: Record<string, unknown>, summary: string): void {
  console.log(JSON.stringify(o));
  extraLines.push(summary);
}

const stages = [
  { C: 16, S: 32 },
  { C: 32, S: 16 },
  { C: 64, S: 8 },
];

function geom(C: number, S: number, k: number): ConvGeom {
  const p = (k - 1) / 2;
  return { N, Cin: C, H: S, W: S, Cout: C, KH: k, KW: k, OH: S, OW: S, strideH: 1, strideW: 1, padH: p, padW: p, dilH: 1, dilW: 1, groups: 1 };
}

function filled(be: Backend, n: number): Storage {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.618);
  return be.upload(a);
}

async function time(be: Backend, fn: () => void): Promise<number> {
  fn();
  await be.sync();
  const r = be.kind === 'cpu' ? Math.min(reps, 2) : reps;
  const t0 = performance.now();
  for (let i = 0; i < r; i++) fn();
  await be.sync();
  return (performance.now() - t0) / r;
}

async function benchBackend(be: Backend, label: string): Promise<void> {
  for (const { C, S } of stages) {
    for (const k of [3, 1]) {
      const g = geom(C, S, k);
      const x = filled(be, N * C * S * S), w = filled(be, C * C * k * k), y = be.alloc(N * C * S * S);
      const dw = be.alloc(C * C * k * k), dx = be.alloc(N * C * S * S);
      const flops = 2 * N * C * C * k * k * S * S;
      const shape = `N${N} C${C} ${S}x${S} k${k}`;
      const fwd = await time(be, () => be.conv2d(x, w, null, y, g));
      emit({ bench: `conv${k}x${k}-fwd`, device: label, shape, ms: fwd, gflops: flops / fwd / 1e6 });
      const dgrad = await time(be, () => be.conv2dInputGrad(y, w, dx, g));
      emit({ bench: `conv${k}x${k}-dgrad`, device: label, shape, ms: dgrad, gflops: flops / dgrad / 1e6 });
      const wgrad = await time(be, () => be.conv2dWeightGrad(y, x, dw, g));
      emit({ bench: `conv${k}x${k}-wgrad`, device: label, shape, ms: wgrad, gflops: flops / wgrad / 1e6 });
      for (const s of [x, w, y, dw, dx]) be.release(s);
    }
    const n = N * C * S * S;
    const x = filled(be, n), y = be.alloc(n), dx = be.alloc(n);
    const mean = be.alloc(C), inv = be.alloc(C), rm = filled(be, C), rv = filled(be, C);
    const bg = { N, C, HW: S * S, eps: 1e-5, momentum: 0.1 };
    const shape = `N${N} C${C} ${S}x${S}`;
    const bnf = await time(be, () => be.batchNormTrain(x, null, null, y, mean, inv, rm, rv, bg));
    emit({ bench: 'batchnorm-fwd', device: label, shape, ms: bnf, gflops: null });
    const bnb = await time(be, () => be.batchNormBackward(y, x, null, mean, inv, dx, null, null, bg));
    emit({ bench: 'batchnorm-bwd', device: label, shape, ms: bnb, gflops: null });
    // the fused path's BN (statistics only; backward from the statistics block, dy scaled on read)
    const st = be.alloc(4 * C), wv = filled(be, 4);
    const bns = await time(be, () => be.batchNormStats(x, null, null, st, rm, rv, bg));
    emit({ bench: 'bn-stats', device: label, shape, ms: bns, gflops: null });
    const bnsb = await time(be, () => be.batchNormStatsBackward(y, { w: wv, index: 1 }, x, null, st, dx, null, null, bg));
    emit({ bench: 'bn-stats-backward', device: label, shape, ms: bnsb, gflops: null });
    const pg = { kind: 'avg' as const, N, C, H: S, W: S, OH: S, OW: S, KH: 3, KW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, countIncludePad: false };
    const pool = await time(be, () => be.pool2d(x, y, pg));
    emit({ bench: 'avgpool3x3-fwd', device: label, shape, ms: pool, gflops: null });
    const poolb = await time(be, () => be.pool2dBackward(y, x, dx, pg));
    emit({ bench: 'avgpool3x3-bwd', device: label, shape, ms: poolb, gflops: null });
    const acc = await time(be, () => be.addScaledInPlace(dx, y, wv, 2, n));
    emit({ bench: 'add-scaled-in-place', device: label, shape, ms: acc, gflops: null });
    // a node's weighted sum of three BN-deferred terms (mixed_sum, BN applied on read)
    const terms = [x, y, dx].map((t, k) => ({ x: t, stats: st, wIndex: k }));
    const sum = be.alloc(n);
    const ms = await time(be, () => be.mixedSum(terms, wv, sum, { N, C, HW: S * S }));
    emit({ bench: 'mixed-sum-k3', device: label, shape, ms, gflops: null });
    for (const s of [x, y, dx, mean, inv, rm, rv, st, wv, sum]) be.release(s);
  }
  // a fully connected layer's forward and input gradient (MobileNet's classifier, 1280 -> 1000): on
  // WebGPU forced through the implicit-GEMM core, and (label 'matmul-kernel') through shaders/matmul.wgsl
  // (at N = 64 the rule picks the latter: kernels/matmul.ts)
  {
    const [In, Out] = [1280, 1000];
    const x = filled(be, N * In), w = filled(be, Out * In), y = be.alloc(N * Out), dx = be.alloc(N * In);
    const flops = 2 * N * In * Out;
    const shape = `N${N} ${In}->${Out}`;
    for (const core of be.kind === 'webgpu' ? [true, false] : [true]) {
      switches.linearOnGemmCore = core;
      const suffix = core ? '' : '-matmul-kernel';
      const fwd = await time(be, () => be.matmul(x, w, y, { M: N, N: Out, K: In, transA: false, transB: true }));
      emit({ bench: `linear-fwd${suffix}`, device: label, shape, ms: fwd, gflops: flops / fwd / 1e6 });
      const dgrad = await time(be, () => be.matmul(y, w, dx, { M: N, N: In, K: Out, transA: false, transB: false }));
      emit({ bench: `linear-dgrad${suffix}`, device: label, shape, ms: dgrad, gflops: flops / dgrad / 1e6 });
    }
    switches.linearOnGemmCore = undefined;
    for (const s of [x, w, y, dx]) be.release(s);
  }
  // dispatches of one ReLU→conv3x3→BN forward+backward through autograd (NB201 op, C=16 32×32)
  const C = 16, S = 32;
  const x = Tensor.fromArray(be, new Float32Array(N * C * S * S).map((_, i) => Math.sin(i)), [N, C, S, S]).param();
  const w = Tensor.fromArray(be, new Float32Array(C * C * 9).map((_, i) => Math.cos(i) * 0.1), [C, C, 3, 3]).param();
  const step = () => tidy(() => {
    const h = batchNorm(conv2d(relu(x), w, null, { padding: 1 }), { gamma: null, beta: null, runningMean: null, runningVar: null, training: true });
    backward(sum(h));
    x.grad?.dispose(); x.grad = null; w.grad?.dispose(); w.grad = null;
  });
  step();
  await be.sync();
  const d0 = be.dispatchCount();
  const t0 = performance.now();
  step();
  await be.sync();
  const ms = performance.now() - t0;
  emit({ bench: 'relu-conv3x3-bn-fwdbwd', device: label, shape: `N${N} C${C} ${S}x${S}`, ms, gflops: null, dispatches: be.dispatchCount() - d0 });
  x.dispose(); w.dispose();
}

/** Autotune the convolutions a search step dispatches at the NB201 stage shapes (fused ReLU → conv
 *  3×3 pad 1 and 1×1: forward, input and weight gradient), then list every tuned key: the variants'
 *  ms per run and the choice. */
async function benchAutotune(be: WebGpuBackend): Promise<void> {
  if (!be.autotuner.enabled) {
    extraLines.push('autotune: off (GMNAS_AUTOTUNE=0); the kernels use their fixed rules');
    return;
  }
  for (const { C, S } of stages) {
    for (const k of [3, 1]) {
      const g: ConvGeom = { ...geom(C, S, k), reluInput: true };
      const x = filled(be, N * C * S * S), w = filled(be, C * C * k * k), y = be.alloc(N * C * S * S);
      const dx = be.alloc(N * C * S * S), dw = be.alloc(C * C * k * k);
      be.conv2d(x, w, null, y, g);
      be.conv2dInputGrad(y, w, dx, g, x);
      be.conv2dWeightGrad(y, x, dw, g);
      for (const st of [x, w, y, dx, dw]) be.release(st);
    }
  }
  const t0 = performance.now();
  await be.tune();
  const seconds = (performance.now() - t0) / 1000;
  const report = be.autotuneReport();
  extraLines.push(`autotune (${report.length} keys timed in ${seconds.toFixed(1)} s; ms per run, * = chosen, first = the rule's):`);
  for (const r of report) {
    const times = Object.entries(r.timesMs).map(([name, ms]) => `${name === r.chosen ? '*' : ''}${name} ${ms.toFixed(2)}`).join('  ');
    emitLine({ bench: 'autotune', family: r.family, shape: r.shape, chosen: r.chosen, times_ms: r.timesMs },
      `  ${r.family.padEnd(11)} ${r.shape.padEnd(52)} ${times}`);
  }
}

function stepLine(r: StepResult, label: string, name: string): void {
  const bench = label === 'webgpu' ? name : `${name}-${label}`;
  emitLine({ bench, ms: r.ms, dispatches: r.dispatches, peak_bytes: r.peak_bytes },
    `${bench.padEnd(36)} ${label.padEnd(7)} ${r.ms.toFixed(0).padStart(8)} ms (best ${r.best_ms.toFixed(0)})  ` +
    `${r.dispatches} dispatches  peak ${(r.peak_bytes / 2 ** 20).toFixed(0)} MiB`);
}

/** Step benches on `be`; with --baseline, alternating with the in-process baseline on `other()`. */
async function benchSteps(be: Backend, label: string, other: () => Promise<Backend>): Promise<void> {
  const names = (values.configs as string).split(',');
  for (const asked of STEP_CONFIGS.filter((c) => names.includes(c.name))) {
    const cfg = configFor(asked, label);
    if (cfg !== asked) extraLines.push(`${asked.name} on ${label}: run at batch ${cfg.batch} (${cfg.name}): batch ${asked.batch} keeps more activations than the 4 GiB a Wasm memory can address`);
    say(`${label}: ${cfg.name} (${steps} timed step${steps > 1 ? 's' : ''} after a warm-up step` +
      `${values.baseline ? ', alternating with the unfused baseline' : ''})...`);
    // a fresh backend per config and side: peak_bytes is a high-water mark of the whole backend
    const a = await other();
    if (!values.baseline) {
      stepLine(await benchStep(a, cfg, { steps, label }), label, cfg.name);
      a.dispose();
      continue;
    }
    const b = await other();
    const r = await benchStepPair(a, b, cfg, { steps, label });
    a.dispose();
    b.dispose();
    stepLine(r.fused, label, cfg.name);
    stepLine(r.baseline, label, `${cfg.name}-baseline`);
    const ratio = Math.round((r.baseline.ms / r.fused.ms) * 100) / 100;
    emitLine({ bench: `${label === 'webgpu' ? cfg.name : `${cfg.name}-${label}`}-speedup`, ratio },
      `  ${cfg.name} ${label}: ${ratio}× faster than the baseline, ${r.baseline.dispatches} → ${r.fused.dispatches} dispatches`);
  }
  if (label !== 'webgpu') return;
  // clipping + SGD over the paper supernet's parameters: one arena vs multi-tensor launches
  const big = STEP_CONFIGS.find((c) => c.name === 'nb201-step-c16n5b64')!;
  if (names.includes(big.name)) {
    const o = await benchOptimizer(be, big, 20);
    emitLine({ bench: 'nb201-optimizer-c16n5', ...o },
      `${'nb201-optimizer-c16n5'.padEnd(36)} clip + SGD over ${o.params} parameters: arena ${o.flat_ms} ms ` +
      `(${o.flat_launches} launches), multi-tensor ${o.multi_ms} ms (${o.multi_launches} launches), ${o.ratio}×`);
  }
  // kernel launches per mixed edge (forward + backward of the weight step; the α step separately)
  for (const mode of ['fused', 'baseline'] as const) {
    const e = await dispatchesPerEdge(be, mode);
    const bench = mode === 'fused' ? 'nb201-dispatches-per-edge' : 'nb201-dispatches-per-edge-baseline';
    emitLine({ bench, weight_step: e.weightStep, arch_step: e.archStep },
      `${bench.padEnd(36)} weight step ${e.weightStep}, α step ${e.archStep} launches per mixed edge`);
  }
  // recorded and replayed weight steps vs the ops, at the quick preset's size (host time matters most)
  const cfg = STEP_CONFIGS.find((c) => c.name === 'nb201-step-c8n1b32')!;
  if (names.includes(cfg.name)) {
    say(`${label}: ${cfg.name} DARTS epochs with replayed weight steps vs through the ops...`);
    const r = await benchReplay(be, cfg, { steps: 16, rounds: 3 });
    emitLine({ bench: `${cfg.name}-replay`, ops_ms: r.ops_ms, replay_ms: r.replay_ms, ratio: r.ratio },
      `${(cfg.name + '-replay').padEnd(36)} ${label.padEnd(7)} ops ${r.ops_ms} ms/step, replayed weight steps ${r.replay_ms} ms/step (${r.ratio}×)`);
  }
}

let tfjsHandle: TfjsHandle | string | null = null;
async function tfjsOnce(): Promise<TfjsHandle | null> {
  tfjsHandle ??= await loadTfjs();
  if (typeof tfjsHandle === 'string') {
    console.error(`bench: tfjs comparison skipped: ${tfjsHandle}`);
    return null;
  }
  return tfjsHandle;
}

async function benchTfjs(be: Backend): Promise<void> {
  const tfjs = await tfjsOnce();
  if (!tfjs) return;
  say(`tfjs-backend-webgpu on ${tfjs.adapter}`);
  for (const c of CONV_CASES) {
    const gm = await gmnasConvFwdBwd(be, c, N, reps);
    const tf = await tfjsConvFwdBwd(tfjs, c, N, reps);
    const r = (x: number): number => Math.round(x * 100) / 100;
    emitLine({ bench: c.name, gmnas_ms: r(gm), tfjs_ms: r(tf), ratio: r(tf / gm) },
      `${c.name.padEnd(30)} gmnas ${gm.toFixed(1).padStart(8)} ms  tfjs ${tf.toFixed(1).padStart(8)} ms  tfjs/gmnas ${(tf / gm).toFixed(1)}×`);
  }
}

/** Depthwise convolutions: the dedicated kernels vs the implicit-GEMM ones vs tfjs (see depthwise.ts). */
async function benchDepthwise(be: Backend): Promise<void> {
  const tfjs = await tfjsOnce();
  const r = (x: number): number => Math.round(x * 100) / 100;
  for (const c of DEPTHWISE_CASES) {
    const dw = await gmnasDepthwiseFwdBwd(be, c, N, reps, true);
    const gemm = await gmnasDepthwiseFwdBwd(be, c, N, reps, false);
    const tf = tfjs ? await tfjsDepthwiseFwdBwd(tfjs, c, N, reps) : null;
    const name = `${c.name}-fwdbwd`;
    emitLine({ bench: name, gmnas_ms: r(dw), gemm_ms: r(gemm), gemm_ratio: r(gemm / dw), tfjs_ms: tf === null ? null : r(tf),
      ratio: tf === null ? null : r(tf / dw) },
    `${name.padEnd(30)} depthwise ${dw.toFixed(1).padStart(7)} ms  implicit GEMM ${gemm.toFixed(1).padStart(7)} ms ` +
      `(${(gemm / dw).toFixed(1)}×)  ${tf === null ? 'tfjs: no gradient for dilation > 1' : `tfjs ${tf.toFixed(1).padStart(7)} ms (${(tf / dw).toFixed(1)}×)`}`);
  }
}

const threads = values.threads === undefined ? undefined : Number(values.threads);
if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
  console.error(`bench: --threads ${String(values.threads)}: expected a positive integer`);
  process.exit(2);
}
const devices = values.device === 'both' ? ['webgpu', 'wasm', 'cpu'] : [values.device as string];
for (const d of devices) {
  if (d === 'webgpu') {
    let be: WebGpuBackend;
    try {
      // one Dawn GPU object as navigator.gpu: gmnas and tfjs then share the adapter
      await installNodeGpu();
      be = await WebGpuBackend.create();
    } catch (e) {
      console.error(`bench: no WebGPU backend (${(e as Error).message}); skipping webgpu rows`);
      continue;
    }
    say(`webgpu: ${be.description}`);
    if (sections.has('autotune')) await benchAutotune(be);
    if (sections.has('kernels')) await benchBackend(be, 'webgpu');
    if (sections.has('tfjs')) await benchTfjs(be);
    if (sections.has('depthwise')) await benchDepthwise(be);
    // tfjs's tensors and device go before the step benches (its engine cannot be used after this)
    const tfjs = tfjsHandle as TfjsHandle | string | null; // set by tfjsOnce (the compiler sees only the null)
    if (tfjs && typeof tfjs !== 'string') tfjs.tf.engine().reset();
    if (sections.has('step')) await benchSteps(be, 'webgpu', () => WebGpuBackend.create());
    be.dispose();
  } else if (d === 'wasm') {
    const be = await WasmBackend.create({ threads });
    say(`wasm: ${be.description}`);
    if (sections.has('kernels')) await benchBackend(be, 'wasm');
    if (sections.has('tfjs')) {
      // the anchor of issue 21: tfjs-backend-wasm (XNNPACK, SIMD), both on one thread (tfjs-wasm.ts)
      const tf = await loadTfjsWasm();
      if (typeof tf === 'string') extraLines.push(`tfjs-backend-wasm: ${tf}`);
      else {
        say('tfjs-backend-wasm vs gmnas wasm, one thread each, CPU ms per call');
        for (const r of await benchTfjsWasm(tf, N, reps)) {
          emitLine({ ...r, device: 'wasm-1t' }, `${`${r.bench} ${r.shape}`.padEnd(30)} gmnas ${r.gmnas_ms.toFixed(2).padStart(7)} ms ` +
            `${r.gmnas_gflops.toFixed(1).padStart(5)} GFLOP/s  tfjs-backend-wasm ${r.tfjs_ms.toFixed(2).padStart(7)} ms ` +
            `${r.tfjs_gflops.toFixed(1).padStart(5)} GFLOP/s  (tfjs/gmnas ${(r.tfjs_ms / r.gmnas_ms).toFixed(2)}×)`);
        }
        extraLines.push('tfjs-backend-wasm has no Conv2DBackpropFilter: no weight-gradient row');
      }
    }
    if (sections.has('step')) await benchSteps(be, 'wasm', () => WasmBackend.create({ threads }));
    be.dispose();
  } else if (d === 'cpu') {
    const be = new CpuBackend();
    if (sections.has('kernels')) await benchBackend(be, 'cpu');
    if (sections.has('step')) await benchSteps(be, 'cpu', async () => new CpuBackend());
  } else {
    console.error(`bench: --device ${d}: expected webgpu, wasm, cpu or both`);
    process.exit(2);
  }
}

if (sections.has('tools')) {
  say('tools: synthetic dataset generation, run.js selftest --quick...');
  const gen = benchSyntheticGeneration();
  emitLine({ ...gen }, `${gen.bench.padEnd(36)} ${gen.ms} ms`);
  const st = await benchQuickSelftest();
  emitLine({ ...st }, `${st.bench.padEnd(36)} ${st.ms} ms${st.ok ? '' : ` (FAILED: ${st.note})`}`);
}

if (sections.has('algorithms')) {
  say('algorithms: rank correlation on 20k items, balanced min-cut n=16 B=4...');
  for (const a of await benchAlgorithms()) emitLine({ ...a }, `${a.bench.padEnd(36)} ${a.ms} ms`);
}

if (!jsonOnly) {
  const pad = (s: string, n: number) => s.padEnd(n);
  if (rows.length) {
    console.log('\n' + pad('bench', 26) + pad('device', 8) + pad('shape', 22) + pad('ms', 10) + pad('GFLOP/s', 9) + 'dispatches');
    for (const r of rows) {
      console.log(pad(r.bench, 26) + pad(r.device, 8) + pad(r.shape, 22) + pad(r.ms.toFixed(2), 10) +
        pad(r.gflops === null ? '' : r.gflops.toFixed(2), 9) + (r.dispatches ?? ''));
    }
  }
  if (extraLines.length) console.log('\n' + extraLines.join('\n'));
}
process.exit(0);
