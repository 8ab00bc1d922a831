// Bench (b)/(c) of issue 5: one NB201 supernet DARTS training step — the α step on a validation
// batch (forward + backward to α, weights frozen) and the weight step on a training batch (forward,
// backward, gradient clipping, SGD) — built with `createBaseMethod('darts', …)` exactly as a search
// runs it. Reports wall time per step (device work included: the step is followed by a sync),
// dispatches per step, and the backend's peak memory (pool included) over the run.
import { getSpace } from '../src/spaces/registry.js';
import type { Backend } from '../src/engine/backend.js';
import { createBaseMethod, type BaseMethod, type DeviceBatch, type HostBatch } from '../src/search/index.js';
import { Tensor, clipGradNorm } from '../src/engine/index.js';
import { switches } from '../src/engine/switches.js';

export interface StepConfig {
  /** bench name, e.g. nb201-step-c16n5b64 */
  name: string;
  C: number;
  N: number;
  batch: number;
  /** image side (square), 3 channels */
  size: number;
  classes: number;
  /** search space (default: the registry's default, NB201) */
  space?: string;
  /** the batch the wasm backend runs instead (its row named for it): `batch` keeps more activations
   *  than the 4 GiB a Wasm memory can address */
  wasmBatch?: number;
  /** base method whose step is timed (default darts; the MobileNet rows: proxyless, the space's own —
   *  one sampled path in the weight step, two gated paths in the α step) */
  base?: 'darts' | 'proxyless';
}

/** The config a backend runs: the wasm backend's smaller batch where one is set, the name saying so. */
export function configFor(cfg: StepConfig, kind: string): StepConfig {
  if (kind !== 'wasm' || !cfg.wasmBatch) return cfg;
  return { ...cfg, batch: cfg.wasmBatch, name: cfg.name.replace(/b\d+$/, `b${cfg.wasmBatch}`) };
}

export const STEP_CONFIGS: StepConfig[] = [
  // the paper's supernet at batch 64, CIFAR-sized images
  { name: 'nb201-step-c16n5b64', C: 16, N: 5, batch: 64, size: 32, classes: 10 },
  // the quick preset's size until issue [quality] (C=8 N=1 batch 32, 16×16); it now runs batch 64 on
  // 16×16 images with one channel — kept as it was so that earlier figures compare
  { name: 'nb201-step-c8n1b32', C: 8, N: 1, batch: 32, size: 16, classes: 10 },
  // GM's DARTS-space supernet (spec §5.1): C=16, 8 cells, batch 64, 7-op s5 set
  // (wasm: batch 32 — ~92 MiB of activations a sample, so batch 64 needs ~5.9 GiB; 32 peaks at ~3 GiB)
  { name: 'darts-step-c16n8b64', C: 16, N: 8, batch: 64, size: 32, classes: 10, space: 'darts', wasmBatch: 32 },
  // issue [mobilenet] item 7: the MobileNet supernet at width 1.0 (C = 32), batch 32, 32×32 and 64×64,
  // ProxylessNAS's step (weight step on one path + binary-gate α step)
  { name: 'mobilenet-step-w1r32b32', C: 32, N: 1, batch: 32, size: 32, classes: 10, space: 'mobilenet', base: 'proxyless' },
  { name: 'mobilenet-step-w1r64b32', C: 32, N: 1, batch: 32, size: 64, classes: 10, space: 'mobilenet', base: 'proxyless' },
];

export interface StepResult {
  bench: string;
  device: string;
  /** median wall ms per step over the timed steps */
  ms: number;
  /** fastest timed step */
  best_ms: number;
  dispatches: number;
  peak_bytes: number;
  steps: number;
  /** dispatches per mixed edge (fwd+bwd), search-cell kernels only (webgpu, when profiled) */
  [k: string]: unknown;
}

function batchOf(be: Backend, cfg: StepConfig, seed: number): DeviceBatch {
  const { x, y } = hostSource(cfg, seed).next();
  return {
    x: Tensor.fromArray(be, x, [cfg.batch, 3, cfg.size, cfg.size]),
    y: Tensor.fromArray(be, y, [cfg.batch]),
    n: cfg.batch,
  };
}

export function makeMethod(be: Backend, cfg: StepConfig, replay = true): BaseMethod {
  return createBaseMethod(cfg.base ?? 'darts', {
    backend: be, space: getSpace(cfg.space),
    sizes: { C: cfg.C, N: cfg.N, inputChannels: 3, numClasses: cfg.classes },
    imageShape: [3, cfg.size, cfg.size],
    seed: 1,
    hyper: { batchSize: cfg.batch },
    replay,
  });
}

/** The training and validation batches a bench step runs on (the same every step). */
export function stepBatches(be: Backend, cfg: StepConfig): { train: DeviceBatch; valid: DeviceBatch } {
  return { train: batchOf(be, cfg, 1), valid: batchOf(be, cfg, 2) };
}

/** The same host batch every time (the bench measures the step, not the sampler). */
function hostSource(cfg: StepConfig, seed: number): { next(): HostBatch } {
  const n = cfg.batch * 3 * cfg.size * cfg.size;
  let s = seed * 2654435761 >>> 0;
  const x = new Float32Array(n).map(() => { s = (s * 1664525 + 1013904223) >>> 0; return (s / 2 ** 32) * 2 - 1; });
  const y = new Float32Array(cfg.batch).map((_, i) => (i * 7 + seed) % cfg.classes);
  return { next: () => ({ x, y, n: cfg.batch }) };
}

export interface ReplayResult { ops_ms: number; replay_ms: number; ratio: number; steps: number }

/**
 * Recorded weight steps (StepReplayer) vs the ops: DARTS epochs of `steps` steps (α step + weight
 * step, batches uploaded, sync every 8 as a search runs them) with replay on and off on one backend,
 * alternating; ms per step, medians of `rounds` epochs each. A replayed step skips the host side of
 * the weight step (ops, autograd, caches); the device work is the same.
 */
export async function benchReplay(be: Backend, cfg: StepConfig, o: { steps: number; rounds: number }): Promise<ReplayResult> {
  const sides = [false, true].map((replay) => ({ replay, method: makeMethod(be, cfg, replay), times: [] as number[] }));
  const train = hostSource(cfg, 1), valid = hostSource(cfg, 2);
  try {
    for (let r = -1; r < o.rounds; r++) {
      for (const side of sides) {
        const t0 = performance.now();
        await side.method.trainEpoch({ steps: o.steps, train, valid, updateArch: true });
        await be.sync();
        if (r >= 0) side.times.push((performance.now() - t0) / o.steps);
      }
    }
  } finally {
    for (const side of sides) side.method.dispose();
  }
  const med = (t: number[]): number => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];
  const opsMs = med(sides[0].times), replayMs = med(sides[1].times);
  return { ops_ms: round(opsMs), replay_ms: round(replayMs), ratio: round(opsMs / replayMs), steps: o.steps };
}

/**
 * Warm-up steps (pipeline compiles, pool growth), then `steps` timed steps, each followed by a sync.
 * `between` runs after every timed step's sync (profilers hook in there).
 */
export async function benchStep(be: Backend, cfg: StepConfig, o: { steps: number; warmup?: number; label: string },
  hooks: { before?: () => void; after?: () => Promise<void> | void } = {}): Promise<StepResult> {
  const method = makeMethod(be, cfg);
  const train = batchOf(be, cfg, 1), valid = batchOf(be, cfg, 2);
  const run = (): Promise<void> => method.trainStep(train, valid, { updateArch: true });
  for (let i = 0; i < (o.warmup ?? 1); i++) { await run(); await be.sync(); }
  const times: number[] = [];
  let dispatches = 0;
  for (let i = 0; i < o.steps; i++) {
    hooks.before?.();
    const d0 = be.dispatchCount();
    const t0 = performance.now();
    await run();
    await be.sync();
    times.push(performance.now() - t0);
    dispatches = be.dispatchCount() - d0;
    await hooks.after?.();
  }
  const peak = be.memoryStats().peakBytes;
  method.dispose();
  for (const t of [train.x, train.y, valid.x, valid.y]) t.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    bench: cfg.name, device: o.label, ms: round(sorted[Math.floor(sorted.length / 2)]), best_ms: round(sorted[0]),
    dispatches, peak_bytes: peak, steps: o.steps,
  };
}

function round(v: number): number { return Math.round(v * 100) / 100; }

export type Mode = 'fused' | 'baseline';

/** Switch the engine between the fast path and the in-process baseline (the engine as it was
 *  before the fusion work: every layer its own op, 4-column conv tiles, one lane per item). */
export function setMode(be: Backend, mode: Mode): void {
  switches.fusion = mode === 'fused';
  switches.convColumnGroups = mode === 'fused' ? undefined : 1;
  const rt = (be as { rt?: { fewWorkgroups: boolean } }).rt;
  if (rt) rt.fewWorkgroups = mode === 'fused';
}

/**
 * The step on two backends of the same kind at once, one per mode, alternating fused and baseline
 * steps so that both see the same machine load; each backend's peak memory is its own.
 */
export async function benchStepPair(fused: Backend, baseline: Backend, cfg: StepConfig, o: { steps: number; label: string }):
  Promise<{ fused: StepResult; baseline: StepResult }> {
  const sides = [{ be: fused, mode: 'fused' as Mode }, { be: baseline, mode: 'baseline' as Mode }].map((side) => {
    setMode(side.be, side.mode);
    const method = makeMethod(side.be, cfg);
    return { ...side, method, train: batchOf(side.be, cfg, 1), valid: batchOf(side.be, cfg, 2), times: [] as number[], dispatches: 0 };
  });
  try {
    for (let i = -1; i < o.steps; i++) {
      for (const s of sides) {
        setMode(s.be, s.mode);
        const d0 = s.be.dispatchCount();
        const t0 = performance.now();
        await s.method.trainStep(s.train, s.valid, { updateArch: true });
        await s.be.sync();
        if (i >= 0) { s.times.push(performance.now() - t0); s.dispatches = s.be.dispatchCount() - d0; }
      }
    }
  } finally {
    setMode(fused, 'fused');
  }
  const result = (s: typeof sides[number]): StepResult => {
    const sorted = [...s.times].sort((a, b) => a - b);
    const r: StepResult = {
      bench: s.mode === 'fused' ? cfg.name : `${cfg.name}-baseline`, device: o.label, ms: round(sorted[Math.floor(sorted.length / 2)]),
      best_ms: round(sorted[0]), dispatches: s.dispatches, peak_bytes: s.be.memoryStats().peakBytes, steps: o.steps,
    };
    s.method.dispose();
    for (const t of [s.train.x, s.train.y, s.valid.x, s.valid.y]) t.dispose();
    return r;
  };
  return { fused: result(sides[0]), baseline: result(sides[1]) };
}

/**
 * Kernel launches per mixed edge for one forward + backward (the weight step: forward, backward,
 * clipping, SGD): the launches of a step with N = 2 cells per stage minus those with N = 1, over the
 * 3 × 6 edges the extra cells add (every edge runs all five ops: 'none' launches nothing). Small
 * sizes (C = 4, batch 4) with 16×16 images: stage rows of 16, 8 and 4 values take the paths NB201's
 * 32, 16 and 8 take (an edge's convolution pair needs rows of 4k values; 8×8 images would leave the
 * last stage at rows of 2).
 */
export async function dispatchesPerEdge(be: Backend, mode: Mode): Promise<{ weightStep: number; archStep: number }> {
  setMode(be, mode);
  try {
    const counts: { w: number; a: number }[] = [];
    for (const N of [1, 2]) {
      const cfg: StepConfig = { name: 'edges', C: 4, N, batch: 4, size: 16, classes: 10 };
      const method = makeMethod(be, cfg);
      const train = batchOf(be, cfg, 1), valid = batchOf(be, cfg, 2);
      await method.trainStep(train, valid, { updateArch: true }); // warm-up (first-step buffers)
      await be.sync();
      let d0 = be.dispatchCount();
      await method.trainStep(train, null, { updateArch: false });
      await be.sync();
      const w = be.dispatchCount() - d0;
      d0 = be.dispatchCount();
      await method.trainStep(train, valid, { updateArch: true });
      await be.sync();
      counts.push({ w, a: be.dispatchCount() - d0 - w });
      method.dispose();
      for (const t of [train.x, train.y, valid.x, valid.y]) t.dispose();
    }
    return { weightStep: round((counts[1].w - counts[0].w) / 18), archStep: round((counts[1].a - counts[0].a) / 18) };
  } finally {
    setMode(be, 'fused');
  }
}

export interface OptimizerResult { flat_ms: number; multi_ms: number; ratio: number; flat_launches: number; multi_launches: number; params: number }

/**
 * Gradient clipping + one SGD step over a supernet's parameters (NB201's: max norm 5, momentum 0.9,
 * Nesterov, weight decay), per call: the parameters in one arena (one SGD launch, two for
 * clipping; switches.flatOptimizer) vs multi-tensor launches, two supernets of the same shape
 * on one backend, alternating rounds, best round of five. The gradients come from one real weight
 * step (batch and image size do not change the parameters' shapes: small ones keep it cheap).
 */
export async function benchOptimizer(be: Backend, cfg: StepConfig, reps: number): Promise<OptimizerResult> {
  const small: StepConfig = { ...cfg, batch: 8, size: 16 };
  const sides: { flat: boolean; m: BaseMethod; ms: number; launches: number }[] = [];
  const saved = switches.flatOptimizer;
  try {
    for (const flat of [true, false]) {
      switches.flatOptimizer = flat;
      sides.push({ flat, m: makeMethod(be, small, false), ms: Infinity, launches: 0 });
    }
  } finally {
    switches.flatOptimizer = saved;
  }
  const train = batchOf(be, small, 1);
  for (const s of sides) await s.m.trainStep(train, null, { updateArch: false }); // gradients, momentum buffers
  await be.sync();
  for (let round = 0; round < 5; round++) {
    for (const s of sides) {
      const opt = s.m.weightOptimizer;
      const d0 = be.dispatchCount(), t0 = performance.now();
      for (let i = 0; i < reps; i++) { clipGradNorm(opt.params, 5); opt.step(); }
      await be.sync();
      s.ms = Math.min(s.ms, (performance.now() - t0) / reps);
      s.launches = (be.dispatchCount() - d0) / reps;
    }
  }
  const [flat, multi] = sides;
  if (!flat.m.weightOptimizer.arena || flat.m.weightOptimizer.stepsBy.flat === 0) throw new Error('benchOptimizer: the flat side did not use its arena');
  const result = {
    flat_ms: Math.round(flat.ms * 1000) / 1000, multi_ms: Math.round(multi.ms * 1000) / 1000, ratio: round(multi.ms / flat.ms),
    flat_launches: flat.launches, multi_launches: multi.launches, params: flat.m.weightOptimizer.params.length,
  };
  for (const s of sides) s.m.dispose();
  train.x.dispose();
  train.y.dispose();
  return result;
}
