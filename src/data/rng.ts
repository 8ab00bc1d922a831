// Seeded pseudo-random numbers for everything in gmnas that must replay exactly: synthetic images,
// epoch permutations, augmentation draws, random architecture samples.
//
// Generator: xoshiro128** (Blackman & Vigna, 2018). 128 bits of state as four uint32 words, period
// 2^128 − 1, passes BigCrush, and needs only 32-bit integer ops (Math.imul), so it is exact and fast in
// every JS engine. The state is seeded from one 32-bit seed by running a Weyl sequence through the
// murmur3 32-bit finaliser (fmix32), which spreads nearby seeds (0, 1, 2, …) to unrelated states.
//
// Streams: instead of threading one generator through a whole run (which makes every draw depend on
// how many draws came before, and makes resuming hard), code derives a fresh generator per unit of
// work with `hashSeed(seed, STREAM, epoch, batch, …)`. The same key always yields the same numbers.

/** murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hash a seed and any number of integer keys (each a safe integer; negatives allowed) into one uint32
 * seed. Order matters: hashSeed(1, 2) ≠ hashSeed(2, 1).
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!Number.isSafeInteger(p)) throw new RangeError(`hashSeed: part ${i} is ${p}, expected a safe integer`);
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x9e3779b9 * (i + 1));
    h = fmix32((h ^ hi) + 0x7f4a7c15);
  }
  return h;
}

/** Serialisable generator state: the four xoshiro128** words. */
export type RngState = [number, number, number, number];

export class Rng {
  // The four state words live in a typed array: as plain object fields, uint32 values ≥ 2^31 would be
  // boxed as heap numbers on every step (measured: 3× slower generation).
  private readonly s = new Uint32Array(4);

  /** `seed`: any safe integer (it is hashed, so 0, 1, 2 … give unrelated streams). */
  constructor(seed: number = 0) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    let weyl = hashSeed(seed);
    const word = (): number => { weyl = (weyl + 0x9e3779b9) >>> 0; return fmix32(weyl); };
    const s = this.s;
    s[0] = word(); s[1] = word(); s[2] = word(); s[3] = word();
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  }

  /** A generator positioned exactly at a saved state. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.restore(state);
    return r;
  }

  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  restore(state: RngState): void {
    if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) {
      throw new RangeError(`Rng.restore: expected four uint32 words, got ${JSON.stringify(state)}`);
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) throw new RangeError('Rng.restore: the all-zero state is invalid');
    this.s.set(state);
  }

  /** Next uniform uint32. */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0], s1 = s[1], s2 = s[2] ^ s0, s3 = s[3] ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = rotl(s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n), unbiased (rejection of the short last bucket). n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n); // largest multiple of n not above 2^32
    let u: number;
    do u = this.nextU32(); while (u >= limit);
    return u % n;
  }

  /** true with probability p. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller; one of the pair is discarded so the state stays four words). */
  normal(mean = 0, std = 1): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * k distinct integers from [0, n), uniformly (Floyd's algorithm: O(k) time and memory, whatever n).
   * The returned order is random too.
   */
  sampleDistinct(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`Rng.sampleDistinct: need 0 ≤ k ≤ n, got k=${k}, n=${n}`);
    const chosen = new Set<number>();
    const out = new Int32Array(k);
    let m = 0;
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      const pick = chosen.has(t) ? j : t;
      chosen.add(pick);
      out[m++] = pick;
    }
    return this.shuffle(out);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
