// A small seeded PRNG for everything that must be reproducible (initialisation, sampling,
// augmentation): mulberry32 — 32-bit state, one multiply-xorshift chain per draw. Not
// cryptographic; plenty for shuffling and weight init, and identical in Node and browsers.
export class Rng {
  private state: number;
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed ${seed} is not a finite number`);
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }
  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A 32-bit seed for a derived stream (kernel masks, child generators). */
  seed32(): number { return Math.floor(this.next() * 4294967296) >>> 0; }
  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): typeof a {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }
  /** The generator's state, to checkpoint and restore. */
  getState(): number { return this.state; }
  setState(s: number): void { this.state = s >>> 0; }
}
