// The convolutions' main GEMM with its left operand (the weights) packed once per call into 4-row
// panels, Ap[(mb·K + k)·4 + r] = A(4·mb + r, k), so that the inner loop reads A with one pointer
// that steps 16 bytes per k and broadcasts each value straight from memory (v128.load32_splat: a
// single load on x86), instead of the strided scalar loads and index multiplies of gemmNN.
//   gemmPacked: C[m, n] (+)= Σ_k A(m, k) · B[k, n], rows [4·mb0, 4·mb1), all of N
// Loop order: 8-column blocks outside, row blocks inside, so one K×8 panel of B (4.6 KB for NB201's
// K = 144) stays in L1 while every row block of A streams past it.
// Epilogue (what the input gradient of a ReLU → conv needs, without a second pass over dx): with
// `mask` != 0 a value is kept only where X[m, n] > 0 (X laid out like C), and with `acc` != 0 it is
// added to C.
import { madd } from './simd';

/** Pack rows [0, M) of A (A(m, k) = A[m·asm + k·ask]) into ⌈M/4⌉ panels at P; rows past M are 0. */
export function packA4(A: usize, asm: i32, ask: i32, M: i32, K: i32, P: usize): void {
  const panels = (M + 3) >> 2;
  for (let mb = 0; mb < panels; mb++) {
    const base = P + (((mb * K) as usize) << 4);
    for (let r = 0; r < 4; r++) {
      const m = mb * 4 + r;
      if (m < M) {
        for (let k = 0; k < K; k++) store<f32>(base + (((k << 2) + r) << 2), load<f32>(A + (((m * asm + k * ask) as usize) << 2)));
      } else {
        for (let k = 0; k < K; k++) store<f32>(base + (((k << 2) + r) << 2), 0);
      }
    }
  }
}

@inline function out4(c: usize, x: usize, v: v128, acc: i32, mask: i32): void {
  if (mask) v = v128.and(v, f32x4.gt(v128.load(x), f32x4.splat(0)));
  if (acc) v = f32x4.add(v, v128.load(c));
  v128.store(c, v);
}

@inline function out1(c: usize, x: usize, v: f32, acc: i32, mask: i32): void {
  if (mask && !(load<f32>(x) > 0)) v = 0;
  store<f32>(c, acc ? load<f32>(c) + v : v);
}

/** A 4-row × 8-column tile out: rows `rowBytes` apart from `c` (and its mask `x`), the second four
 *  columns `next` bytes after the first. */
@inline function out4x8(c: usize, x: usize, rowBytes: usize, next: usize, a00: v128, a01: v128, a10: v128, a11: v128,
  a20: v128, a21: v128, a30: v128, a31: v128, acc: i32, mask: i32): void {
  out4(c, x, a00, acc, mask); out4(c + next, x + next, a01, acc, mask);
  out4(c + rowBytes, x + rowBytes, a10, acc, mask); out4(c + rowBytes + next, x + rowBytes + next, a11, acc, mask);
  const c2 = c + 2 * rowBytes, x2 = x + 2 * rowBytes;
  out4(c2, x2, a20, acc, mask); out4(c2 + next, x2 + next, a21, acc, mask);
  out4(c2 + rowBytes, x2 + rowBytes, a30, acc, mask); out4(c2 + rowBytes + next, x2 + rowBytes + next, a31, acc, mask);
}

/** A 4-row × 4-column tile out: rows `rowBytes` apart from `c` (and its mask `x`). */
@inline function out4x4(c: usize, x: usize, rowBytes: usize, a0: v128, a1: v128, a2: v128, a3: v128, acc: i32, mask: i32): void {
  out4(c, x, a0, acc, mask);
  out4(c + rowBytes, x + rowBytes, a1, acc, mask);
  out4(c + 2 * rowBytes, x + 2 * rowBytes, a2, acc, mask);
  out4(c + 3 * rowBytes, x + 3 * rowBytes, a3, acc, mask);
}

export function gemmPacked(Ap: usize, B: usize, ldb: i32, C: usize, ldc: i32, X: usize,
  mb0: i32, mb1: i32, N: i32, K: i32, acc: i32, mask: i32): void {
  const n8 = N & ~7, n4 = N & ~3;
  const bStep = (ldb as usize) << 2, rowBytes = (ldc as usize) << 2;
  let n = 0;
  for (; n < n8; n += 8) {
    for (let mb = mb0; mb < mb1; mb++) {
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
      let a = Ap + (((mb * K) as usize) << 4);
      let b = B + ((n as usize) << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        const w0 = v128.load32_splat(a);
        a00 = madd(w0, b0, a00); a01 = madd(w0, b1, a01);
        const w1 = v128.load32_splat(a, 4);
        a10 = madd(w1, b0, a10); a11 = madd(w1, b1, a11);
        const w2 = v128.load32_splat(a, 8);
        a20 = madd(w2, b0, a20); a21 = madd(w2, b1, a21);
        const w3 = v128.load32_splat(a, 12);
        a30 = madd(w3, b0, a30); a31 = madd(w3, b1, a31);
        a += 16; b += bStep;
      }
      const off = ((((mb << 2) * ldc + n) as usize) << 2);
      out4x8(C + off, X + off, rowBytes, 16, a00, a01, a10, a11, a20, a21, a30, a31, acc, mask);
    }
  }
  for (; n < n4; n += 4) {
    for (let mb = mb0; mb < mb1; mb++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let a = Ap + (((mb * K) as usize) << 4);
      let b = B + ((n as usize) << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b);
        a0 = madd(v128.load32_splat(a), b0, a0);
        a1 = madd(v128.load32_splat(a, 4), b0, a1);
        a2 = madd(v128.load32_splat(a, 8), b0, a2);
        a3 = madd(v128.load32_splat(a, 12), b0, a3);
        a += 16; b += bStep;
      }
      const off = ((((mb << 2) * ldc + n) as usize) << 2);
      out4x4(C + off, X + off, rowBytes, a0, a1, a2, a3, acc, mask);
    }
  }
  for (; n < N; n++) {
    for (let mb = mb0; mb < mb1; mb++) {
      const a = Ap + (((mb * K) as usize) << 4);
      for (let r = 0; r < 4; r++) {
        let s: f32 = 0;
        for (let k = 0; k < K; k++) s += load<f32>(a + (((k << 2) + r) << 2)) * load<f32>(B + (((k * ldb + n) as usize) << 2));
        const off = (((((mb << 2) + r) * ldc + n) as usize) << 2);
        out1(C + off, X + off, s, acc, mask);
      }
    }
  }
}

/** out[c, i, j] = x[c, i − pH, j − pW] inside, 0 on the border: the C planes of x padded to
 *  (H + 2pH) × (W + 2pW), through max(·, 0) when relu != 0 (the fused ReLU → conv). */
export function padPlanes(x: usize, C: i32, H: i32, W: i32, pH: i32, pW: i32, relu: i32, out: usize): void {
  const HP = H + 2 * pH, WP = W + 2 * pW, zero = f32x4.splat(0);
  memory.fill(out, 0, ((C * HP * WP) as usize) << 2);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H; i++) {
      const src = x + ((((c * H + i) * W) as usize) << 2);
      const dst = out + ((((c * HP + i + pH) * WP + pW) as usize) << 2);
      if (!relu) { memory.copy(dst, src, (W as usize) << 2); continue; }
      let j = 0;
      for (; j + 4 <= W; j += 4) v128.store(dst + (j << 2), f32x4.max(v128.load(src + (j << 2)), zero));
      for (; j < W; j++) { const v = load<f32>(src + (j << 2)); store<f32>(dst + (j << 2), v > 0 ? v : 0); }
    }
  }
}

/**
 * A stride-1 convolution as an implicit GEMM over padded planes (padPlanes): column n = (oh, ow) of
 * the patch matrix row k = (c, kh, kw) is xp[c, oh + kh·dH, ow + kw·dW], so 8 neighbouring output
 * columns of one row are 8 consecutive floats of xp — loaded straight from it, no patch matrix.
 * `koff` is scratch for K byte offsets (c, kh, kw) → xp. C[m, oh·OW + ow] for rows [4·mb0, 4·mb1);
 * epilogue as gemmPacked (X laid out like C).
 */
export function convImplicit(Ap: usize, xp: usize, CI: i32, HP: i32, WP: i32, KH: i32, KW: i32, dH: i32, dW: i32,
  koff: usize, C: usize, X: usize, OH: i32, OW: i32, mb0: i32, mb1: i32, acc: i32, mask: i32): void {
  const K = CI * KH * KW, P = OH * OW;
  let t = koff;
  for (let c = 0; c < CI; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) { store<i32>(t, ((c * HP + kh * dH) * WP + kw * dW) << 2); t += 4; }
    }
  }
  const rowBytes = (P as usize) << 2;
  const ow8 = OW & ~7, ow4 = OW & ~3;
  // Planes 4 to 7 wide (NB201's 4×4 stage): no 8-column block fits in a row, and one 4-column block
  // keeps only 4 accumulators in flight (latency-bound on the adds); two rows at a time give 8.
  const rowPairs = ow8 === 0 && ow4 > 0 ? OH & ~1 : 0;
  for (let oh = 0; oh < rowPairs; oh += 2) {
    for (let ow = 0; ow < ow4; ow += 4) {
      const base = xp + ((((oh * WP) + ow) as usize) << 2), below = (WP as usize) << 2;
      for (let mb = mb0; mb < mb1; mb++) {
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
        let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
        let a = Ap + (((mb * K) as usize) << 4);
        let kp = koff;
        const kEnd = koff + ((K as usize) << 2);
        for (; kp < kEnd; kp += 4) {
          const b = base + (load<i32>(kp) as usize);
          const b0 = v128.load(b), b1 = v128.load(b + below);
          const w0 = v128.load32_splat(a);
          a00 = madd(w0, b0, a00); a01 = madd(w0, b1, a01);
          const w1 = v128.load32_splat(a, 4);
          a10 = madd(w1, b0, a10); a11 = madd(w1, b1, a11);
          const w2 = v128.load32_splat(a, 8);
          a20 = madd(w2, b0, a20); a21 = madd(w2, b1, a21);
          const w3 = v128.load32_splat(a, 12);
          a30 = madd(w3, b0, a30); a31 = madd(w3, b1, a31);
          a += 16;
        }
        const off = (((((mb << 2) * P) + oh * OW + ow) as usize) << 2), next = (OW as usize) << 2;
        out4x8(C + off, X + off, rowBytes, next, a00, a01, a10, a11, a20, a21, a30, a31, acc, mask);
      }
    }
    for (let r = oh; r < oh + 2; r++) {
      for (let ow = ow4; ow < OW; ow++) convColumn(Ap, xp + ((((r * WP) + ow) as usize) << 2), koff, K, C, X, P, r * OW + ow, mb0, mb1, acc, mask);
    }
  }
  for (let oh = rowPairs; oh < OH; oh++) {
    const rowBase = xp + (((oh * WP) as usize) << 2);
    let ow = 0;
    for (; ow < ow8; ow += 8) {
      const base = rowBase + ((ow as usize) << 2);
      for (let mb = mb0; mb < mb1; mb++) {
        let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
        let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
        let a = Ap + (((mb * K) as usize) << 4);
        let kp = koff;
        const kEnd = koff + ((K as usize) << 2);
        for (; kp < kEnd; kp += 4) {
          const b = base + (load<i32>(kp) as usize);
          const b0 = v128.load(b), b1 = v128.load(b, 16);
          const w0 = v128.load32_splat(a);
          a00 = madd(w0, b0, a00); a01 = madd(w0, b1, a01);
          const w1 = v128.load32_splat(a, 4);
          a10 = madd(w1, b0, a10); a11 = madd(w1, b1, a11);
          const w2 = v128.load32_splat(a, 8);
          a20 = madd(w2, b0, a20); a21 = madd(w2, b1, a21);
          const w3 = v128.load32_splat(a, 12);
          a30 = madd(w3, b0, a30); a31 = madd(w3, b1, a31);
          a += 16;
        }
        const off = (((((mb << 2) * P) + oh * OW + ow) as usize) << 2);
        out4x8(C + off, X + off, rowBytes, 16, a00, a01, a10, a11, a20, a21, a30, a31, acc, mask);
      }
    }
    for (; ow < ow4; ow += 4) {
      const base = rowBase + ((ow as usize) << 2);
      for (let mb = mb0; mb < mb1; mb++) {
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let a = Ap + (((mb * K) as usize) << 4);
        for (let k = 0; k < K; k++) {
          const b0 = v128.load(base + (load<i32>(koff + ((k as usize) << 2)) as usize));
          a0 = madd(v128.load32_splat(a), b0, a0);
          a1 = madd(v128.load32_splat(a, 4), b0, a1);
          a2 = madd(v128.load32_splat(a, 8), b0, a2);
          a3 = madd(v128.load32_splat(a, 12), b0, a3);
          a += 16;
        }
        const off = (((((mb << 2) * P) + oh * OW + ow) as usize) << 2);
        out4x4(C + off, X + off, rowBytes, a0, a1, a2, a3, acc, mask);
      }
    }
    for (; ow < OW; ow++) convColumn(Ap, rowBase + ((ow as usize) << 2), koff, K, C, X, P, oh * OW + ow, mb0, mb1, acc, mask);
  }
}

/** One output column n of convImplicit (the scalar remainder of a row), its patch values at base + koff(k). */
@inline function convColumn(Ap: usize, base: usize, koff: usize, K: i32, C: usize, X: usize, P: i32, n: i32,
  mb0: i32, mb1: i32, acc: i32, mask: i32): void {
  for (let mb = mb0; mb < mb1; mb++) {
    const a = Ap + (((mb * K) as usize) << 4);
    for (let r = 0; r < 4; r++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        s += load<f32>(a + (((k << 2) + r) << 2)) * load<f32>(base + (load<i32>(koff + ((k as usize) << 2)) as usize));
      }
      const off = (((((mb << 2) + r) * P + n) as usize) << 2);
      out1(C + off, X + off, s, acc, mask);
    }
  }
}

/** out[r, i·WP + j] = x[r, i·W + j] for j < W, 0 for W ≤ j < WP and past H·WP up to L: R planes of
 *  H rows of W values widened to rows of WP, each plane L floats (the weight gradient's dy). */
export function padRows(x: usize, R: i32, H: i32, W: i32, WP: i32, L: i32, out: usize): void {
  memory.fill(out, 0, ((R * L) as usize) << 2);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < H; i++) {
      memory.copy(out + ((((r * L) + i * WP) as usize) << 2), x + ((((r * H + i) * W) as usize) << 2), (W as usize) << 2);
    }
  }
}

@inline function dotKoff(a: usize, b: usize, L: i32): f32 {
  let s = f32x4.splat(0);
  for (let i = 0; i < L; i += 4) s = madd(v128.load(a + ((i as usize) << 2)), v128.load(b + ((i as usize) << 2)), s);
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

@inline function hsum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

@inline function put(p: usize, v: f32, acc: i32): void {
  store<f32>(p, acc ? load<f32>(p) + v : v);
}

/**
 * The weight gradient of a stride-1 convolution without a patch matrix: dW[m, k] (+)= Σ_i D[m, i] ·
 * xp[koff(k) + i] over i < L, where D holds dy widened to the padded planes' row width (padRows:
 * zeros in the extra columns, so their products vanish) and xp the padded input planes (padPlanes,
 * followed by zeroed slack for the last rows' overrun). L is a multiple of 4. Rows [4·mb0, 4·mb1)
 * of dW (row length K), 4 × 2 blocks of dot products as in gemmNT.
 * S samples at once: sample s's D and xp lie dStride and xStride floats after sample s − 1's, and the
 * 8 accumulators run on over all S before the horizontal sums — at small planes (4×4: L = 24, six
 * vector steps) the sums and the read-add-write of dW per sample cost as much as the dot products.
 */
export function wgradImplicit(D: usize, L: i32, xp: usize, CI: i32, HP: i32, WP: i32, KH: i32, KW: i32, dH: i32, dW: i32,
  koff: usize, out: usize, mb0: i32, mb1: i32, acc: i32, S: i32, dStride: i32, xStride: i32): void {
  const K = CI * KH * KW;
  let t = koff;
  for (let c = 0; c < CI; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) { store<i32>(t, ((c * HP + kh * dH) * WP + kw * dW) << 2); t += 4; }
    }
  }
  const Lb = (L as usize) << 2, Kb = (K as usize) << 2, dSb = (dStride as usize) << 2, xSb = (xStride as usize) << 2;
  for (let mb = mb0; mb < mb1; mb++) {
    const r0 = D + (((mb << 2) as usize) * Lb), r1 = r0 + Lb, r2 = r1 + Lb, r3 = r2 + Lb;
    const o0 = out + (((mb << 2) as usize) * Kb), o1 = o0 + Kb, o2 = o1 + Kb, o3 = o2 + Kb;
    let k = 0;
    for (; k + 2 <= K; k += 2) {
      const q0 = xp + (load<i32>(koff + ((k as usize) << 2)) as usize), q1 = xp + (load<i32>(koff + ((k as usize) << 2), 4) as usize);
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      for (let sm: usize = 0; sm < (S as usize); sm++) {
        const dOff = sm * dSb, xOff = sm * xSb;
        const p0 = q0 + xOff, p1 = q1 + xOff, d0 = r0 + dOff, d1 = r1 + dOff, d2 = r2 + dOff, d3 = r3 + dOff;
        for (let i: usize = 0; i < Lb; i += 16) {
          const b0 = v128.load(p0 + i), b1 = v128.load(p1 + i);
          const x0 = v128.load(d0 + i); s00 = madd(x0, b0, s00); s01 = madd(x0, b1, s01);
          const x1 = v128.load(d1 + i); s10 = madd(x1, b0, s10); s11 = madd(x1, b1, s11);
          const x2 = v128.load(d2 + i); s20 = madd(x2, b0, s20); s21 = madd(x2, b1, s21);
          const x3 = v128.load(d3 + i); s30 = madd(x3, b0, s30); s31 = madd(x3, b1, s31);
        }
      }
      const kb = (k as usize) << 2;
      put(o0 + kb, hsum4(s00), acc); put(o0 + kb + 4, hsum4(s01), acc);
      put(o1 + kb, hsum4(s10), acc); put(o1 + kb + 4, hsum4(s11), acc);
      put(o2 + kb, hsum4(s20), acc); put(o2 + kb + 4, hsum4(s21), acc);
      put(o3 + kb, hsum4(s30), acc); put(o3 + kb + 4, hsum4(s31), acc);
    }
    for (; k < K; k++) {
      const q0 = xp + (load<i32>(koff + ((k as usize) << 2)) as usize), kb = (k as usize) << 2;
      let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
      for (let sm: usize = 0; sm < (S as usize); sm++) {
        const dOff = sm * dSb, p0 = q0 + sm * xSb;
        t0 += dotKoff(r0 + dOff, p0, L); t1 += dotKoff(r1 + dOff, p0, L);
        t2 += dotKoff(r2 + dOff, p0, L); t3 += dotKoff(r3 + dOff, p0, L);
      }
      put(o0 + kb, t0, acc); put(o1 + kb, t1, acc); put(o2 + kb, t2, acc); put(o3 + kb, t3, acc);
    }
  }
}
