// Engine-wide switches (for benchmarks and tests; the defaults are what training uses).
export const engineOptions = {
  /**
   * The NB201 fast path: ReLU→conv (→BN) in a Sequential run as fused ops, BN outputs that only a
   * weighted sum reads are never stored, weighted sums read BN on the fly and hand their inputs
   * deferred scaled gradients (ops/fused.ts). false: every layer runs as its own op, as before the
   * fusion work — the same values and gradients (up to f32 rounding), more kernels and memory;
   * benchmarks use it as the in-process baseline.
   */
  fusion: true,
};
