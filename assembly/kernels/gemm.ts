// Register-blocked single-precision matrix products over linear memory (byte pointers, element
// strides). These are the cores of every convolution of the wasm backend (see conv.ts):
//   gemmNN: C[m, n] (+)= Σ_k A(m, k) · B[k, n]    A(m, k) = A[m·asm + k·ask], B rows contiguous in n
//   gemmNT: C[m, n] (+)= Σ_k A[m, k] · B[n, k]    both rows contiguous in k (dot-product form)
// gemmNN keeps a 4×8 block of C in eight v128 accumulators (4 rows × two 4-lane vectors): per k it
// loads two vectors of B and four scalars of A — 8 multiply-adds for 6 loads. gemmNT keeps 4×2 dot
// products as vectors over k and reduces them horizontally once at the end.
import { madd, hsum } from './simd';

@inline function ldA(A: usize, m: i32, k: i32, asm: i32, ask: i32): f32 {
  return load<f32>(A + (((m * asm + k * ask) as usize) << 2));
}

/** Rows [m0, m1) of C; all of N. `acc` != 0 adds to C instead of overwriting it. */
export function gemmNN(A: usize, asm: i32, ask: i32, B: usize, ldb: i32, C: usize, ldc: i32,
  m0: i32, m1: i32, N: i32, K: i32, acc: i32): void {
  const n8 = N & ~7, n4 = N & ~3;
  let m = m0;
  for (; m + 4 <= m1; m += 4) {
    const c0 = C + ((m * ldc) << 2), c1 = c0 + (ldc << 2), c2 = c1 + (ldc << 2), c3 = c2 + (ldc << 2);
    let n = 0;
    for (; n < n8; n += 8) {
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
      let b = B + (n << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        const w0 = f32x4.splat(ldA(A, m, k, asm, ask));
        a00 = madd(w0, b0, a00); a01 = madd(w0, b1, a01);
        const w1 = f32x4.splat(ldA(A, m + 1, k, asm, ask));
        a10 = madd(w1, b0, a10); a11 = madd(w1, b1, a11);
        const w2 = f32x4.splat(ldA(A, m + 2, k, asm, ask));
        a20 = madd(w2, b0, a20); a21 = madd(w2, b1, a21);
        const w3 = f32x4.splat(ldA(A, m + 3, k, asm, ask));
        a30 = madd(w3, b0, a30); a31 = madd(w3, b1, a31);
        b += ldb << 2;
      }
      const o = (n as usize) << 2;
      if (acc) {
        a00 = f32x4.add(a00, v128.load(c0 + o)); a01 = f32x4.add(a01, v128.load(c0 + o, 16));
        a10 = f32x4.add(a10, v128.load(c1 + o)); a11 = f32x4.add(a11, v128.load(c1 + o, 16));
        a20 = f32x4.add(a20, v128.load(c2 + o)); a21 = f32x4.add(a21, v128.load(c2 + o, 16));
        a30 = f32x4.add(a30, v128.load(c3 + o)); a31 = f32x4.add(a31, v128.load(c3 + o, 16));
      }
      v128.store(c0 + o, a00); v128.store(c0 + o, a01, 16);
      v128.store(c1 + o, a10); v128.store(c1 + o, a11, 16);
      v128.store(c2 + o, a20); v128.store(c2 + o, a21, 16);
      v128.store(c3 + o, a30); v128.store(c3 + o, a31, 16);
    }
    for (; n < n4; n += 4) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b = B + (n << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b);
        a0 = madd(f32x4.splat(ldA(A, m, k, asm, ask)), b0, a0);
        a1 = madd(f32x4.splat(ldA(A, m + 1, k, asm, ask)), b0, a1);
        a2 = madd(f32x4.splat(ldA(A, m + 2, k, asm, ask)), b0, a2);
        a3 = madd(f32x4.splat(ldA(A, m + 3, k, asm, ask)), b0, a3);
        b += ldb << 2;
      }
      const o = (n as usize) << 2;
      if (acc) {
        a0 = f32x4.add(a0, v128.load(c0 + o)); a1 = f32x4.add(a1, v128.load(c1 + o));
        a2 = f32x4.add(a2, v128.load(c2 + o)); a3 = f32x4.add(a3, v128.load(c3 + o));
      }
      v128.store(c0 + o, a0); v128.store(c1 + o, a1); v128.store(c2 + o, a2); v128.store(c3 + o, a3);
    }
    for (; n < N; n++) {
      for (let r = 0; r < 4; r++) {
        let s: f32 = 0;
        for (let k = 0; k < K; k++) s += ldA(A, m + r, k, asm, ask) * load<f32>(B + (((k * ldb + n) as usize) << 2));
        const p = C + ((((m + r) * ldc + n) as usize) << 2);
        store<f32>(p, acc ? load<f32>(p) + s : s);
      }
    }
  }
  for (; m < m1; m++) {
    const c0 = C + ((m * ldc) << 2);
    let n = 0;
    for (; n < n4; n += 4) {
      let a0 = f32x4.splat(0);
      let b = B + (n << 2);
      for (let k = 0; k < K; k++) {
        a0 = madd(f32x4.splat(ldA(A, m, k, asm, ask)), v128.load(b), a0);
        b += ldb << 2;
      }
      const o = (n as usize) << 2;
      if (acc) a0 = f32x4.add(a0, v128.load(c0 + o));
      v128.store(c0 + o, a0);
    }
    for (; n < N; n++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += ldA(A, m, k, asm, ask) * load<f32>(B + (((k * ldb + n) as usize) << 2));
      const p = c0 + ((n as usize) << 2);
      store<f32>(p, acc ? load<f32>(p) + s : s);
    }
  }
}

@inline function dotTail(a: usize, b: usize, k0: i32, K: i32): f32 {
  let s: f32 = 0;
  for (let k = k0; k < K; k++) s += load<f32>(a + ((k as usize) << 2)) * load<f32>(b + ((k as usize) << 2));
  return s;
}

/** Rows [m0, m1) of C; all of N. */
export function gemmNT(A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32,
  m0: i32, m1: i32, N: i32, K: i32, acc: i32): void {
  const k4 = K & ~3;
  let m = m0;
  for (; m + 4 <= m1; m += 4) {
    const r0 = A + ((m * lda) << 2), r1 = r0 + (lda << 2), r2 = r1 + (lda << 2), r3 = r2 + (lda << 2);
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      const q0 = B + ((n * ldb) << 2), q1 = q0 + (ldb << 2);
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      for (let k = 0; k < k4; k += 4) {
        const o = (k as usize) << 2;
        const b0 = v128.load(q0 + o), b1 = v128.load(q1 + o);
        const x0 = v128.load(r0 + o); s00 = madd(x0, b0, s00); s01 = madd(x0, b1, s01);
        const x1 = v128.load(r1 + o); s10 = madd(x1, b0, s10); s11 = madd(x1, b1, s11);
        const x2 = v128.load(r2 + o); s20 = madd(x2, b0, s20); s21 = madd(x2, b1, s21);
        const x3 = v128.load(r3 + o); s30 = madd(x3, b0, s30); s31 = madd(x3, b1, s31);
      }
      storeC(C, ldc, m, n, hsum(s00) + dotTail(r0, q0, k4, K), acc);
      storeC(C, ldc, m, n + 1, hsum(s01) + dotTail(r0, q1, k4, K), acc);
      storeC(C, ldc, m + 1, n, hsum(s10) + dotTail(r1, q0, k4, K), acc);
      storeC(C, ldc, m + 1, n + 1, hsum(s11) + dotTail(r1, q1, k4, K), acc);
      storeC(C, ldc, m + 2, n, hsum(s20) + dotTail(r2, q0, k4, K), acc);
      storeC(C, ldc, m + 2, n + 1, hsum(s21) + dotTail(r2, q1, k4, K), acc);
      storeC(C, ldc, m + 3, n, hsum(s30) + dotTail(r3, q0, k4, K), acc);
      storeC(C, ldc, m + 3, n + 1, hsum(s31) + dotTail(r3, q1, k4, K), acc);
    }
    for (; n < N; n++) {
      const q0 = B + ((n * ldb) << 2);
      for (let r = 0; r < 4; r++) storeC(C, ldc, m + r, n, dotRow(A + (((m + r) * lda) << 2), q0, K), acc);
    }
  }
  for (; m < m1; m++) {
    const r0 = A + ((m * lda) << 2);
    for (let n = 0; n < N; n++) storeC(C, ldc, m, n, dotRow(r0, B + ((n * ldb) << 2), K), acc);
  }
}

@inline function storeC(C: usize, ldc: i32, m: i32, n: i32, v: f32, acc: i32): void {
  const p = C + (((m * ldc + n) as usize) << 2);
  store<f32>(p, acc ? load<f32>(p) + v : v);
}

function dotRow(a: usize, b: usize, K: i32): f32 {
  const k4 = K & ~3;
  let s = f32x4.splat(0);
  for (let k = 0; k < k4; k += 4) {
    const o = (k as usize) << 2;
    s = madd(v128.load(a + o), v128.load(b + o), s);
  }
  return hsum(s) + dotTail(a, b, k4, K);
}
