// Per-channel kernels over NCHW tensors (channel c of sample n is the contiguous run
// x[(n·C + c)·HW .. +HW)): the reductions batch norm and the mixed-sum gradients need, written as
// f64 per channel (each run is summed in f32 lanes, then added in f64), and the affine maps that
// apply them. Per-channel coefficient arrays are f32[C]; a pointer of 0 means "not given".
import { madd, hsum } from './simd';

@inline function runSum(p: usize, HW: i32): f64 {
  let v = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= HW; i += 4) v = f32x4.add(v, v128.load(p + (i << 2)));
  let s: f32 = hsum(v);
  for (; i < HW; i++) s += load<f32>(p + (i << 2));
  return <f64>s;
}

@inline function runDot(a: usize, b: usize, m: f32, HW: i32): f64 {
  const mv = f32x4.splat(m);
  let v = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= HW; i += 4) v = madd(v128.load(a + (i << 2)), f32x4.sub(v128.load(b + (i << 2)), mv), v);
  let s: f32 = hsum(v);
  for (; i < HW; i++) s += load<f32>(a + (i << 2)) * (load<f32>(b + (i << 2)) - m);
  return <f64>s;
}

@inline function runSqDev(p: usize, m: f32, HW: i32): f64 {
  const mv = f32x4.splat(m);
  let v = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= HW; i += 4) { const d = f32x4.sub(v128.load(p + (i << 2)), mv); v = madd(d, d, v); }
  let s: f32 = hsum(v);
  for (; i < HW; i++) { const d = load<f32>(p + (i << 2)) - m; s += d * d; }
  return <f64>s;
}

/** out[c] = Σ_n Σ_i x[n, c, i]  (f64 out) for channels [c0, c1) */
export function chanSum(x: usize, N: i32, C: i32, HW: i32, out: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    let s: f64 = 0;
    for (let n = 0; n < N; n++) s += runSum(x + (((n * C + c) * HW) << 2), HW);
    store<f64>(out + (c << 3), s);
  }
}

/** out[c] = Σ (x − mean[c])²  (mean f32[C], f64 out) */
export function chanSqDev(x: usize, mean: usize, N: i32, C: i32, HW: i32, out: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    const m = load<f32>(mean + (c << 2));
    let s: f64 = 0;
    for (let n = 0; n < N; n++) s += runSqDev(x + (((n * C + c) * HW) << 2), m, HW);
    store<f64>(out + (c << 3), s);
  }
}

/** Both batch-norm statistics passes of channels [c0, c1) in one call (one thread hand-off instead of
 *  two): sum[c] = Σ x (f64), then sqDev[c] = Σ (x − m)² with m = f32(sum[c] / count) — the values
 *  chanSum and then chanSqDev give with the mean rounded to f32 in between; a channel's N·HW values
 *  are read twice while they are in cache. */
export function chanMeanSqDev(x: usize, N: i32, C: i32, HW: i32, count: f64, sum: usize, sqDev: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    let s: f64 = 0;
    for (let n = 0; n < N; n++) s += runSum(x + (((n * C + c) * HW) << 2), HW);
    store<f64>(sum + (c << 3), s);
    const m = <f32>(s / count);
    let q: f64 = 0;
    for (let n = 0; n < N; n++) q += runSqDev(x + (((n * C + c) * HW) << 2), m, HW);
    store<f64>(sqDev + (c << 3), q);
  }
}

/** out[c] = Σ a·(b − mean[c]) over channel c (f64 out; mean = 0: no centring). Centring inside the
 *  sum keeps the batch-norm backward's Σ dy·(x − mean) free of cancellation. */
export function chanDot(a: usize, b: usize, mean: usize, N: i32, C: i32, HW: i32, out: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    const m: f32 = mean ? load<f32>(mean + (c << 2)) : 0;
    let s: f64 = 0;
    for (let n = 0; n < N; n++) {
      const o = ((n * C + c) * HW) << 2;
      s += runDot(a + o, b + o, m, HW);
    }
    store<f64>(out + (c << 3), s);
  }
}

/**
 * Several chanDots against the same a in one call: out[t·C + c] = Σ a·(x_t − mean_t[c]) over channel c
 * (f64; mean_t = 0: no centring), and with `withSum` also out[T·C + c] = Σ a (chanSum) — the values of
 * one chanSum/chanDot call each, but one thread hand-off, and a's channel read from cache after the
 * first term. `terms`: T entries of 2 f64 (x, mean pointers). The mixed sum's α gradient (mixedDots)
 * and the batch-norm backwards of one mixed sum's terms (batchNormStatsBackwardMulti).
 */
export function chanDotTerms(a: usize, terms: usize, T: i32, N: i32, C: i32, HW: i32, withSum: i32, out: usize, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    if (withSum) {
      let s: f64 = 0;
      for (let n = 0; n < N; n++) s += runSum(a + (((n * C + c) * HW) << 2), HW);
      store<f64>(out + (((T * C + c) as usize) << 3), s);
    }
    for (let t = 0; t < T; t++) {
      const e = terms + ((t as usize) << 4);
      const x = load<f64>(e) as usize, mean = load<f64>(e, 8) as usize;
      const m: f32 = mean ? load<f32>(mean + (c << 2)) : 0;
      let s: f64 = 0;
      for (let n = 0; n < N; n++) {
        const o = ((n * C + c) * HW) << 2;
        s += runDot(a + o, x + o, m, HW);
      }
      store<f64>(out + (((t * C + c) as usize) << 3), s);
    }
  }
}

/**
 * out = (acc ? out : 0) + k · (x·scale[c] + shift[c])   for samples [n0, n1)
 * scale = 0: x itself (scale 1, shift 0). The mixed sum of BN-applied terms and batchNormApply.
 */
export function chanAffine(x: usize, scale: usize, shift: usize, k: f32, out: usize, N: i32, C: i32, HW: i32,
  acc: i32, n0: i32, n1: i32): void {
  for (let n = n0; n < n1; n++) {
    for (let c = 0; c < C; c++) {
      const a: f32 = scale ? load<f32>(scale + (c << 2)) * k : k;
      const b: f32 = scale ? load<f32>(shift + (c << 2)) * k : 0;
      const av = f32x4.splat(a), bv = f32x4.splat(b);
      const o = ((n * C + c) * HW) << 2;
      const xp = x + o, op = out + o;
      let i = 0;
      if (acc) {
        for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), f32x4.add(v128.load(op + (i << 2)), madd(v128.load(xp + (i << 2)), av, bv)));
        for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(op + (i << 2)) + (load<f32>(xp + (i << 2)) * a + b));
      } else {
        for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), madd(v128.load(xp + (i << 2)), av, bv));
        for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(xp + (i << 2)) * a + b);
      }
    }
  }
}

/**
 * The whole mixed sum out = Σ_t k_t·(x_t·scale_t[c] + shift_t[c]) (scale_t = 0: k_t·x_t) for samples
 * [n0, n1) in one call: per (n, c) plane the terms are added one after another while the out plane
 * stays in L1, in the same operations and order as one chanAffine/axpy pass per term (the same
 * values), but one thread hand-off and one pass over out instead of one per term. `terms`: T entries
 * of 4 f64 (x, scale, shift pointers, k).
 */
export function mixedSumTerms(terms: usize, T: i32, out: usize, N: i32, C: i32, HW: i32, n0: i32, n1: i32): void {
  for (let n = n0; n < n1; n++) {
    for (let c = 0; c < C; c++) {
      const o = ((n * C + c) * HW) << 2, op = out + o;
      for (let t = 0; t < T; t++) {
        const e = terms + ((t as usize) << 5);
        const xp = (load<f64>(e) as usize) + o, scale = load<f64>(e, 8) as usize, shift = load<f64>(e, 16) as usize;
        const k = load<f64>(e, 24) as f32;
        let i = 0;
        if (scale) {
          const a: f32 = load<f32>(scale + (c << 2)) * k, b: f32 = load<f32>(shift + (c << 2)) * k;
          const av = f32x4.splat(a), bv = f32x4.splat(b);
          if (t > 0) {
            for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), f32x4.add(v128.load(op + (i << 2)), madd(v128.load(xp + (i << 2)), av, bv)));
            for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(op + (i << 2)) + (load<f32>(xp + (i << 2)) * a + b));
          } else {
            for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), madd(v128.load(xp + (i << 2)), av, bv));
            for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(xp + (i << 2)) * a + b);
          }
        } else {
          const kv = f32x4.splat(k);
          if (t > 0) {
            for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), madd(v128.load(xp + (i << 2)), kv, v128.load(op + (i << 2))));
            for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(op + (i << 2)) + load<f32>(xp + (i << 2)) * k);
          } else {
            for (; i + 4 <= HW; i += 4) v128.store(op + (i << 2), f32x4.mul(v128.load(xp + (i << 2)), kv));
            for (; i < HW; i++) store<f32>(op + (i << 2), load<f32>(xp + (i << 2)) * k);
          }
        }
      }
    }
  }
}

/**
 * dx = (acc ? dx : 0) + s[c]·(p[c]·dy + q[c]·(x − m[c]) + r[c])   for samples [n0, n1): the batch-norm
 * input gradient once its per-channel sums are known (see wasm-backend.ts bnBackward), in the reference's
 * order: x centred first and the sum scaled last, so small batches (the terms nearly cancel) keep
 * their digits.
 */
export function chanBackward(dy: usize, x: usize, p: usize, q: usize, m: usize, r: usize, sc: usize, dx: usize,
  N: i32, C: i32, HW: i32, acc: i32, n0: i32, n1: i32): void {
  for (let n = n0; n < n1; n++) {
    for (let c = 0; c < C; c++) {
      const a = load<f32>(p + (c << 2)), b = load<f32>(q + (c << 2)), mu = load<f32>(m + (c << 2)), d = load<f32>(r + (c << 2));
      const k = load<f32>(sc + (c << 2));
      const av = f32x4.splat(a), bv = f32x4.splat(b), mv = f32x4.splat(mu), dv = f32x4.splat(d), kv = f32x4.splat(k);
      const o = ((n * C + c) * HW) << 2;
      const gp = dy + o, xp = x + o, op = dx + o;
      let i = 0;
      for (; i + 4 <= HW; i += 4) {
        let v = f32x4.mul(kv, madd(v128.load(gp + (i << 2)), av, madd(f32x4.sub(v128.load(xp + (i << 2)), mv), bv, dv)));
        if (acc) v = f32x4.add(v, v128.load(op + (i << 2)));
        v128.store(op + (i << 2), v);
      }
      for (; i < HW; i++) {
        let v = k * (load<f32>(gp + (i << 2)) * a + ((load<f32>(xp + (i << 2)) - mu) * b + d));
        if (acc) v += load<f32>(op + (i << 2));
        store<f32>(op + (i << 2), v);
      }
    }
  }
}

/** out = (acc ? out : 0) + k·x over n values */
export function axpy(x: usize, k: f32, out: usize, n: i32, acc: i32): void {
  const kv = f32x4.splat(k);
  let i = 0;
  if (acc) {
    for (; i + 4 <= n; i += 4) v128.store(out + (i << 2), madd(v128.load(x + (i << 2)), kv, v128.load(out + (i << 2))));
    for (; i < n; i++) store<f32>(out + (i << 2), load<f32>(out + (i << 2)) + load<f32>(x + (i << 2)) * k);
  } else {
    for (; i + 4 <= n; i += 4) v128.store(out + (i << 2), f32x4.mul(v128.load(x + (i << 2)), kv));
    for (; i < n; i++) store<f32>(out + (i << 2), load<f32>(x + (i << 2)) * k);
  }
}

/** chanBackward for T layers that share dy, samples [n0, n1), in one call (one thread hand-off instead
 *  of T): `terms` holds 8 f64 per layer — x, p, q, m, r, sc, dx pointers and acc — and each runs as
 *  its own chanBackward call would (the same values). batchNormStatsBackwardMulti's input gradients. */
export function chanBackwardTerms(dy: usize, terms: usize, T: i32, N: i32, C: i32, HW: i32, n0: i32, n1: i32): void {
  for (let t = 0; t < T; t++) {
    const e = terms + ((t as usize) << 6);
    chanBackward(dy, load<f64>(e) as usize, load<f64>(e, 8) as usize, load<f64>(e, 16) as usize, load<f64>(e, 24) as usize,
      load<f64>(e, 32) as usize, load<f64>(e, 40) as usize, load<f64>(e, 48) as usize, N, C, HW, load<f64>(e, 56) as i32, n0, n1);
  }
}
