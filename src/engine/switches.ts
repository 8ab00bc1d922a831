// The engine's switches: one registry of every on/off or tuning knob of the engine's fast paths,
// for benchmarks (in-process baselines) and tests (forcing a path). The defaults are what training
// uses. Each switch is declared once below, with its doc, and the environment variable that sets
// its default where one exists. Read them as `switches.name` (a plain property read: kernels do it
// per launch); change them for a scope with `withSwitches({ name: value }, fn)`, which rejects
// unknown names and restores the previous values when fn returns, throws or its promise settles.
// This module stays in the engine layer: kernels and ops import it, nothing here imports upward.

/** Whether an on/off environment value (GMNAS_AUTOTUNE, GMNAS_REPLAY) leaves the feature on: '0',
 *  'false', 'off' and 'no' turn it off; unset means on. */
export function switchFromEnv(value: string | undefined): boolean {
  return !['0', 'false', 'off', 'no'].includes((value ?? '').trim().toLowerCase());
}

/** An environment variable in Node; undefined in browsers (no `process`). */
function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

export const switches = {
  // ---- engine-wide (ops, optimizers, training loops)
  /**
   * The NB201 fast path: ReLU→conv (→BN) in a Sequential run as fused ops, BN outputs that only a
   * weighted sum reads are never stored, weighted sums read BN on the fly and hand their inputs
   * deferred scaled gradients (ops/fused.ts). false: every layer runs as its own op, as before the
   * fusion work — the same values and gradients (up to f32 rounding), more kernels and memory;
   * benchmarks use it as the in-process baseline.
   */
  fusion: true,
  /**
   * Default of WebGpuBackend's `autotune` option (read when a backend is created): record the conv
   * shapes dispatched and let `tune()` time a few tilings of each (webgpu/autotune.ts). Off with
   * GMNAS_AUTOTUNE=0 in the environment, or `--no-autotune` on the command line: the kernels then use
   * their fixed rules and nothing is timed, read or written.
   */
  autotune: switchFromEnv(envVar('GMNAS_AUTOTUNE')),
  /**
   * Record one training step and replay it for the following ones where the training loop allows it
   * (search/replay.ts: stand-alone training, DARTS 1st-order weight steps; WebGPU only). The values
   * are those of running the ops; off (GMNAS_REPLAY=0) every step runs through the ops — for
   * debugging, and as the comparison in `npm run bench`.
   */
  replay: switchFromEnv(envVar('GMNAS_REPLAY')),
  /**
   * Default of SGD's `flat` option (read when an optimizer is created; needs `fusion` too): pack the
   * parameters and their gradients into arenas and run SGD as one launch and clipping as two for
   * all parameters (optim/arena.ts). false: multi-tensor launches of a few tensors each
   * (webgpu/kernels/multi.ts) — the same values; benchmarks compare the two.
   */
  flatOptimizer: true,

  // ---- fused ops (ops/fused.ts, nn/layers.ts)
  /** a weighted sum runs the BN backward of its non-affine BN inputs, all in one launch (false: each
   *  reluConvBatchNorm runs its own) */
  bnBackwardAhead: true,
  /** Sequential runs a conv → non-affine training BN that ends it as reluConvBatchNorm without the
   *  ReLU (false: as the two layers) */
  convBnTail: true,

  // ---- Wasm backend (wasm/wasm-backend.ts)
  /** Convolution GEMMs on packed 4-row weight panels (gemmPacked) where the shapes allow. */
  wasmPackedGemm: true,
  /** The implicit weight gradient takes several samples per call (weightGradBatch, 1×1 included);
   *  false: one (1×1: gemmNT per sample), for A/B figures. */
  wasmWeightGradBatch: true,

  // ---- WebGPU convolutions (webgpu/kernels/conv.ts)
  /** Use the subgroup variants when the device offers them (set false to test the fallback). */
  subgroups: true,
  /** Force the implicit-GEMM kernel's vec4 column groups per invocation (1..4), for tests and tuning. */
  convColumnGroups: undefined as number | undefined,
  /**
   * Convolutions with fewer multiply-adds than this keep the rule's tiling and are never timed. Below
   * it dispatch overhead dominates and the variants differ by noise, while each variant still costs a
   * pipeline compile (0.1-0.6 s on lavapipe; measured: tuning the tiny preset's ~20 shapes added
   * ~50 s to the 100 s browser demo test on SwiftShader, where there is no cache file). 2^23 keeps
   * the NB201 cell convolutions at C=16 and batch 48+ in, the quick presets' layers out. Tests lower it.
   */
  minTuneMacs: 2 ** 23,
  /**
   * Output rows per weight-gradient split at least: the reduce pass sums `splits` partials per weight
   * in one lane, so one-row splits of a small layer made it cost as much as the weight gradient
   * itself (the quick preset's 1x1 convs: 512 splits, ~1 ms per reduce on lavapipe). Full-size NB201
   * layers keep their split counts (8+ rows per split already).
   */
  minRowsPerSplit: 8,
  /**
   * Workgroup size of the per-channel reductions (batch-norm statistics and backward, channel sums),
   * a power of two, when set; else channelReduceWorkgroup's rule: 64 on CPU rasterisers, 256 on GPUs.
   * On lavapipe every workgroup barrier switches all its invocations, so the tree reduction's
   * log2(WG) rounds dominate small planes: 64 measured 1.1-1.5x faster than 256 at the NB201 stages
   * (N64) and 1.3-3x at the quick preset's (N32, C8-32, 16x16 to 4x4), BN stats + backward.
   */
  channelReduceWorkgroup: undefined as number | undefined,
  /** Read window rows as aligned vec4s where the geometry allows (vecWindow); false: always scalars. */
  vecWindow: true,
  /** hold pairable convolutions back and run partners together (webgpu/kernels/conv-pair.ts; false:
   *  each launches at once) */
  convPairs: true,
  /** hold the split-K weight-gradient sums back and merge them (webgpu/kernels/split-sum.ts; false:
   *  one launch each, at once) */
  mergeSplitSums: true,

  // ---- other WebGPU kernels
  /** route depthwise convolutions to webgpu/kernels/depthwise.ts (false: the implicit-GEMM kernels,
   *  the benchmarks' baseline) */
  depthwiseKernels: true,
  /** force the depthwise weight gradient's split count (tests) */
  depthwiseWeightGradSplits: undefined as number | undefined,
  /**
   * a @ b^T and a @ b on the implicit-GEMM core (webgpu/kernels/matmul.ts): true / false force it;
   * undefined (the rule) takes it when the batch fills a workgroup of its column tiles (M >= 512 with
   * 8-column tiles). Its lanes are batch tiles, so a small batch leaves most of them idle. Measured on
   * lavapipe (a @ b^T): M 64, 1280 -> 1000: 75 ms on the core vs 22 ms on matmul.wgsl; M 512: 79 vs
   * 183 ms; M 2048, 256 -> 256: 21 vs 35 ms.
   */
  linearOnGemmCore: undefined as boolean | undefined,
  /** terms per mixedSum dispatch at most, when set (else MAX_TERMS = 6; always capped by the
   *  device's storage-binding limit; webgpu/kernels/mixed.ts). On lavapipe with scalar loads 6
   *  streams in one pass measured ~1.7x slower than passes of 3, and the rule used 3 there; with
   *  vec4 loads 3, 4 and 6 terms per pass are within noise of each other (N64 C16-64, 12 terms:
   *  27-33, 13-18, 7-13 ms each way), so 6 everywhere: an NB201 cell's node sums take 5 launches
   *  instead of 9. */
  mixedSumMaxTerms: undefined as number | undefined,
  /** workgroup size of the mixed sum's dots pass (a power of two): 64 measured ~1.5x faster than 256
   *  on lavapipe (fewer barrier rounds in the final tree reduction) */
  mixedDotsWorkgroup: 64,
  /** hold non-affine batch-norm statistics back and merge them (webgpu/kernels/mixed.ts; false: one
   *  launch each, at once) */
  mergeBnStats: true,
  /** use pool2d_3x3s1.wgsl where it applies (webgpu/kernels/pool.ts; else the general kernels) */
  poolStripKernel: true,
};

export type Switches = typeof switches;
export type SwitchName = keyof Switches;

/** The values the switches had when the engine loaded (environment variables applied). */
export const switchDefaults: Readonly<Switches> = Object.freeze({ ...switches });

/** Set switches; returns their previous values. Throws, naming it, on a switch that does not exist
 *  (before changing anything). */
export function setSwitches(values: Partial<Switches>): Partial<Switches> {
  const names = Object.keys(values);
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(switches, name)) {
      throw new Error(`unknown engine switch '${name}' (known: ${Object.keys(switches).join(', ')})`);
    }
  }
  const previous: Record<string, unknown> = {};
  const all = switches as Record<string, unknown>;
  for (const name of names) {
    previous[name] = all[name];
    all[name] = (values as Record<string, unknown>)[name];
  }
  return previous as Partial<Switches>;
}

/**
 * Run `fn` with these switches set, then put the previous values back — when fn returns, when it
 * throws, and for a promise when it settles. Unknown names throw before fn runs.
 */
export function withSwitches<R>(values: Partial<Switches>, fn: () => R): R {
  const previous = setSwitches(values);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    setSwitches(previous);
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => setSwitches(previous)) as R;
  }
  setSwitches(previous);
  return result;
}
