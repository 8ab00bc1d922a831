// Counter-based uniform random numbers for dropout masks.
//
// A mask element must be a pure function of (seed, index) so that the CPU and the WebGPU backend
// draw the same masks, whatever order or parallelism computes them. The WGSL kernel reproduces this
// bit for bit, so the algorithm uses only 32-bit unsigned integer operations (wrapping multiply,
// wrapping add, xor, logical right shift) that WGSL's u32 has natively.
//
// Exact algorithm (all values u32, every operation modulo 2^32):
//
//   mix(x):                       // "lowbias32" integer finaliser (a bijection on u32)
//     x = x ^ (x >> 16)
//     x = x * 0x7feb352d
//     x = x ^ (x >> 15)
//     x = x * 0x846ca68b
//     x = x ^ (x >> 16)
//     return x
//
//   hashU32(seed, i):
//     k = mix(seed + 0x9e3779b9)  // per-seed key; the constant keeps seed 0 away from mix's fixed point 0
//     h = mix(i ^ k)
//     h = mix(h + k)              // second keyed round: streams of different seeds are not mere
//                                 // permutations of one another
//     return h
//
//   hashUniform(seed, i) = f32(hashU32(seed, i) >> 8) / 16777216.0    // in [0, 1), exact in f32
//
// Dropout keeps element i when hashUniform(seed, i) >= p (p rounded to f32 first).
//
// WGSL:
//   fn mix32(x0: u32) -> u32 { var x = x0; x ^= x >> 16u; x *= 0x7feb352du; x ^= x >> 15u;
//                              x *= 0x846ca68bu; x ^= x >> 16u; return x; }
//   let k = mix32(seed + 0x9e3779b9u); let h = mix32(mix32(i ^ k) + k);
//   let u = f32(h >> 8u) / 16777216.0;

/** The lowbias32 finaliser: a bijection on u32 with good avalanche. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x;
}

/** The per-seed key of hashU32 (hoist it out of loops over i). */
export function seedKey(seed: number): number {
  return mix32(((seed >>> 0) + 0x9e3779b9) >>> 0);
}

/** hashU32 for a precomputed key = seedKey(seed). */
export function hashWithKey(key: number, i: number): number {
  const h = mix32(((i >>> 0) ^ key) >>> 0);
  return mix32((h + key) >>> 0);
}

/** A u32 that is a pure function of (seed, i); see the algorithm above. */
export function hashU32(seed: number, i: number): number {
  return hashWithKey(seedKey(seed), i);
}

/** A uniform value in [0, 1) with 24 random bits, a pure function of (seed, i). */
export function hashUniform(seed: number, i: number): number {
  return (hashU32(seed, i) >>> 8) / 16777216;
}
