// Engine-wide switches (for benchmarks and tests; the defaults are what training uses).

/** Whether an on/off environment value (GMNAS_AUTOTUNE, GMNAS_REPLAY) leaves the feature on: '0',
 *  'false', 'off' and 'no' turn it off; unset means on. */
export function switchFromEnv(value: string | undefined): boolean {
  return !['0', 'false', 'off', 'no'].includes((value ?? '').trim().toLowerCase());
}

/** An environment variable in Node; undefined in browsers (no `process`). */
function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

export const engineOptions = {
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
};
