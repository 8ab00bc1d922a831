// The three convolutions of the wasm backend as GEMMs over patch matrices, one sample (and group) at
// a time so a patch matrix (K·P values, K = Cin/groups·KH·KW, P = OH·OW: 144·1024 for NB201's first
// stage) stays in cache between the im2col that writes it and the GEMM that reads it:
//   forward     y_n[Cout, P]   = W[Cout, K] · cols(x_n)[K, P]                    (gemmNN)
//   input grad  stride 1: dx_n[Cin, HW] = W̃[Cin, Cout·KH·KW] · cols(dy_n)        (gemmNN: a forward
//               convolution of dy with the flipped, transposed kernel W̃ and padding dil·(K−1) − pad)
//               otherwise: cols[K, P] = Wᵀ[K, Cout] · dy_n[Cout, P], dx_n = col2im(cols) (gemmNN, W read transposed)
//   weight grad dW[Cout, K]   += dy_n[Cout, P] · cols(x_n)ᵀ                     (gemmNT, summed over n)
// A 1×1, stride-1, unpadded convolution skips the patch matrix: x_n itself is [Cin, P].
// The fused ReLU on the input is applied while building the patch matrix (forward, weight grad) and as
// the x > 0 mask on the input gradient's write. Work is split over samples between threads
// (threads.ts); the weight gradient gives each thread its own partial dW and sums them.
import type { ConvGeom } from '../backend.js';
import type { KernelExports } from './module.js';

/** Multiply-adds × 2 of a convolution (forward, and each gradient): sizes how it is split. */
export function convFlops(g: ConvGeom): number {
  return 2 * g.N * g.Cout * (g.Cin / g.groups) * g.KH * g.KW * g.OH * g.OW;
}

/** Whether g is depthwise (one input and one output channel per group): assembly/kernels/depthwise.ts
 *  convolves each plane directly instead of through a patch matrix. */
export function isDepthwise(g: ConvGeom): boolean {
  return g.groups > 1 && g.Cin === g.groups && g.Cout === g.groups && !isPointwise(g);
}

/** Whether the patch matrix of g is the input itself (1×1 kernel, stride 1, no padding). */
export function isPointwise(g: ConvGeom): boolean {
  return g.KH === 1 && g.KW === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
}

/** Floats of scratch one thread needs for a convolution of g (patch matrix or ReLU'd input, plus a
 *  dx plane for the masked / accumulating input gradient). */
export function convScratchFloats(g: ConvGeom): number {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  const tp = transposedPadding(g);
  // implicit GEMMs (stride 1): padded planes and their K offsets, for the input or for dy
  const padded = Math.max(cinG * (g.H + 2 * g.padH) * (g.W + 2 * g.padW) + K,
    tp ? coutG * (g.OH + 2 * tp.padH) * (g.OW + 2 * tp.padW) + coutG * g.KH * g.KW : 0);
  return Math.max(K * P, coutG * g.KH * g.KW * g.H * g.W, padded, wgradImplicitFloats(g)) + cinG * g.H * g.W;
}

/** The weight gradient's implicit form (wgradImplicit) for S samples at once: per sample its padded
 *  input planes (xStride floats), then zeroed slack for the last rows' overrun, the K offsets, and per
 *  sample dy widened to rows of the padded width (coutG planes of L floats: dStride floats). */
function wgradLayout(g: ConvGeom, S: number): {
  HP: number; WP: number; L: number; slack: number; xStride: number; dStride: number; koffAt: number; dAt: number; floats: number;
} {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW;
  const HP = g.H + 2 * g.padH, WP = g.W + 2 * g.padW, L = Math.ceil((g.OH * WP) / 4) * 4;
  const slack = (g.KW - 1) * g.dilW + 16, xStride = cinG * HP * WP, dStride = coutG * L;
  const koffAt = (S * xStride + slack + 15) & ~15, dAt = (koffAt + K + 15) & ~15;
  return { HP, WP, L, slack, xStride, dStride, koffAt, dAt, floats: dAt + S * dStride };
}

/** Samples wgradImplicit takes at once: as many as keep one batch's padded planes and widened dy
 *  within ~192 KB (L2-resident beside the weights), at most 16 — 1 at NB201's C16 32×32, 8+ at 8×8
 *  and 4×4, where one sample's dot products are a few vector steps. */
export function wgradBatch(g: ConvGeom): number {
  const one = wgradLayout(g, 1);
  return Math.max(1, Math.min(16, g.N, Math.floor(48 * 1024 / (one.xStride + one.dStride))));
}

function wgradImplicitFloats(g: ConvGeom): number {
  if (pointwiseWeightGrad(g)) return pointwiseBatch(g) * (g.Cin / g.groups) * g.OH * g.OW + 16 + g.Cin / g.groups;
  return implicitForward(g) ? wgradLayout(g, wgradBatch(g)).floats : 0;
}

/** Whether a 1×1 weight gradient runs as wgradImplicit over several samples (dy and x are already
 *  its operands: plane length P a multiple of 4, whole 4-row blocks of dW) instead of one gemmNT of
 *  P-long dot products per sample: at planes up to 8×8 (1.1× at 8×8, 1.6–1.9× at 4×4, one thread);
 *  from 16×16 on gemmNT's per-sample form measured as fast or faster (0.85–0.99×). */
export function pointwiseWeightGrad(g: ConvGeom): boolean {
  const P = g.OH * g.OW;
  return isPointwise(g) && packable(g.Cout / g.groups) && P % 4 === 0 && P <= 64;
}

/** Samples per call of the 1×1 weight gradient: the ReLU'd inputs of a batch within ~192 KB. */
function pointwiseBatch(g: ConvGeom): number {
  return Math.max(1, Math.min(16, g.N, Math.floor(48 * 1024 / ((g.Cin / g.groups) * g.OH * g.OW))));
}

/** Samples per weight-gradient call (wgradImplicit) for g: 0 where that form does not apply. */
export function weightGradBatch(g: ConvGeom): number {
  if (pointwiseWeightGrad(g)) return pointwiseBatch(g);
  return implicitWeightGrad(g) ? wgradBatch(g) : 0;
}

/** Whether the weight gradient runs as wgradImplicit (stride 1, whole 4-row blocks of dW). */
export function implicitWeightGrad(g: ConvGeom): boolean {
  return implicitForward(g) && packable(g.Cout / g.groups);
}

/** Whether the stride-1 convolutions run as implicit GEMMs over padded planes (convImplicit):
 *  a patch matrix is KH·KW times its input, the padded planes little more than it. */
function implicitForward(g: ConvGeom): boolean {
  return g.strideH === 1 && g.strideW === 1 && !isPointwise(g);
}

/** The padding of the input gradient as a forward convolution of dy (stride 1 only), or null when
 *  that form does not apply (stride > 1, or padding beyond the kernel's reach). */
export function transposedPadding(g: ConvGeom): { padH: number; padW: number } | null {
  if (g.strideH !== 1 || g.strideW !== 1) return null;
  const padH = g.dilH * (g.KH - 1) - g.padH, padW = g.dilW * (g.KW - 1) - g.padW;
  return padH >= 0 && padW >= 0 ? { padH, padW } : null;
}

/** W̃[gi][ic][oc][kh][kw] = w[gi·coutG + oc][ic][KH−1−kh][KW−1−kw]: the kernel of the input gradient
 *  as a forward convolution of dy (see transposedPadding). */
export function flipWeights(w: Float32Array, g: ConvGeom, out: Float32Array): void {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, taps = g.KH * g.KW;
  for (let gi = 0; gi < g.groups; gi++) {
    for (let ic = 0; ic < cinG; ic++) {
      for (let oc = 0; oc < coutG; oc++) {
        const src = ((gi * coutG + oc) * cinG + ic) * taps, dst = ((gi * cinG + ic) * coutG + oc) * taps;
        for (let t = 0; t < taps; t++) out[dst + t] = w[src + taps - 1 - t];
      }
    }
  }
}

function im2col(k: KernelExports, g: ConvGeom, x: number, cinG: number, relu: boolean, cols: number): void {
  k.im2col(x, cinG, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, relu ? 1 : 0, cols);
}

/** The patch matrix of sample n, group gi: its pointer (maybe x itself) for the GEMMs. */
function patches(k: KernelExports, g: ConvGeom, x: number, n: number, gi: number, scratch: number): number {
  const cinG = g.Cin / g.groups;
  const xs = x + 4 * (n * g.Cin + gi * cinG) * g.H * g.W;
  const relu = !!g.reluInput;
  if (isPointwise(g)) {
    if (!relu) return xs;
    k.reluCopy(xs, scratch, cinG * g.H * g.W);
    return scratch;
  }
  im2col(k, g, xs, cinG, relu, scratch);
  return scratch;
}

/** Whether a GEMM with M output rows per group runs on 4-row packed panels (gemmPacked): every
 *  row block must be whole, so M a multiple of 4 (depthwise and odd group sizes keep gemmNN). */
export function packable(M: number): boolean {
  return M >= 4 && M % 4 === 0;
}

/** The forward's left operand per group, W_g[coutG, K], packed into `out` (packA4 layout, groups
 *  one after another: coutG·K floats each). Returns false (nothing written) when not packable. */
export function packForward(k: KernelExports, g: ConvGeom, w: number, out: number): boolean {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW;
  if (!packable(coutG)) return false;
  for (let gi = 0; gi < g.groups; gi++) k.packA4(w + 4 * gi * coutG * K, K, 1, coutG, K, out + 4 * gi * coutG * K);
  return true;
}

/** The input gradient's left operand per group, packed into `out` when it has whole 4-row blocks and
 *  the gradient is one GEMM straight into dx (pointwise, or stride 1 through the flipped kernel
 *  `wFlip`): W_gᵀ[cinG, coutG] or W̃_g[cinG, coutG·KH·KW], cinG·Kdim floats per group. */
export function packInputGrad(k: KernelExports, g: ConvGeom, w: number, wFlip: number, out: number): boolean {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, Kt = coutG * g.KH * g.KW;
  if (!packable(cinG)) return false;
  if (isPointwise(g)) {
    for (let gi = 0; gi < g.groups; gi++) k.packA4(w + 4 * gi * coutG * K, 1, K, cinG, coutG, out + 4 * gi * cinG * coutG);
    return true;
  }
  if (!wFlip) return false;
  for (let gi = 0; gi < g.groups; gi++) k.packA4(wFlip + 4 * gi * cinG * Kt, Kt, 1, cinG, Kt, out + 4 * gi * cinG * Kt);
  return true;
}

/** y for samples [n0, n1); `packed` (0: none) holds packForward(w). */
export function convForward(k: KernelExports, g: ConvGeom, x: number, w: number, bias: number, y: number,
  n0: number, n1: number, scratch: number, packed: number): void {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  if (isDepthwise(g)) {
    const HW = g.H * g.W, relu = g.reluInput ? 1 : 0;
    for (let n = n0; n < n1; n++) {
      for (let c = 0; c < g.Cin; c++) {
        const out = y + 4 * (n * g.Cout + c) * P;
        k.dwForward(x + 4 * (n * g.Cin + c) * HW, g.H, g.W, w + 4 * c * K, g.KH, g.KW, g.OH, g.OW,
          g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, relu, out);
      }
      if (bias) k.addChannelBias(y + 4 * n * g.Cout * P, bias, g.Cout, P);
    }
    return;
  }
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const out = y + 4 * (n * g.Cout + gi * coutG) * P;
      if (packed && implicitForward(g)) {
        const xs = x + 4 * (n * g.Cin + gi * cinG) * g.H * g.W, HP = g.H + 2 * g.padH, WP = g.W + 2 * g.padW;
        k.padPlanes(xs, cinG, g.H, g.W, g.padH, g.padW, g.reluInput ? 1 : 0, scratch);
        k.convImplicit(packed + 4 * gi * coutG * K, scratch, cinG, HP, WP, g.KH, g.KW, g.dilH, g.dilW, scratch + 4 * cinG * HP * WP,
          out, 0, g.OH, g.OW, 0, coutG / 4, 0, 0);
        if (bias) k.addChannelBias(out, bias + 4 * gi * coutG, coutG, P);
        continue;
      }
      const B = patches(k, g, x, n, gi, scratch);
      if (packed) k.gemmPacked(packed + 4 * gi * coutG * K, B, P, out, P, 0, 0, coutG / 4, P, K, 0, 0);
      else k.gemmNN(w + 4 * gi * coutG * K, K, 1, B, P, out, P, 0, coutG, P, K, 0);
      if (bias) k.addChannelBias(out, bias + 4 * gi * coutG, coutG, P);
    }
  }
}

/** dx for samples [n0, n1); x is the pre-ReLU input (read only when g.reluInput). `wFlip` (0 when
 *  transposedPadding(g) is null) holds flipWeights(w); `packed` (0: none) holds packInputGrad: then
 *  the GEMM writes dx itself, masking and accumulating in its epilogue. */
export function convInputGrad(k: KernelExports, g: ConvGeom, dy: number, w: number, wFlip: number, dx: number, x: number,
  accumulate: boolean, n0: number, n1: number, scratch: number, packed: number): void {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  const plane = cinG * g.H * g.W, HW = g.H * g.W, Kt = coutG * g.KH * g.KW;
  const relu = !!g.reluInput, direct = !relu && !accumulate, pointwise = isPointwise(g);
  const cols = scratch, tmp = scratch + 4 * Math.max(K * P, Kt * HW);
  const tp = pointwise ? null : transposedPadding(g);
  if (isDepthwise(g)) {
    for (let n = n0; n < n1; n++) {
      for (let c = 0; c < g.Cin; c++) {
        const off = 4 * (n * g.Cin + c) * HW;
        const target = direct ? dx + off : tmp;
        k.dwInputGrad(dy + 4 * (n * g.Cout + c) * P, g.H, g.W, w + 4 * c * K, g.KH, g.KW, g.OH, g.OW,
          g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, target);
        if (!direct) k.maskedStore(tmp, x + off, dx + off, HW, relu ? 1 : 0, accumulate ? 1 : 0);
      }
    }
    return;
  }
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const dyS = dy + 4 * (n * g.Cout + gi * coutG) * P;
      const off = 4 * (n * g.Cin + gi * cinG) * g.H * g.W;
      const target = direct ? dx + off : tmp;
      const A = w + 4 * gi * coutG * K; // A(m = patch row, k = output channel) = w[k·K + m]
      if (packed) {
        const Kd = pointwise ? coutG : Kt, mb = cinG / 4, X = relu ? x + off : 0, acc = accumulate ? 1 : 0;
        if (pointwise) {
          k.gemmPacked(packed + 4 * gi * cinG * Kd, dyS, P, dx + off, HW, X, 0, mb, HW, Kd, acc, relu ? 1 : 0);
        } else {
          const HP = g.OH + 2 * tp!.padH, WP = g.OW + 2 * tp!.padW;
          k.padPlanes(dyS, coutG, g.OH, g.OW, tp!.padH, tp!.padW, 0, cols);
          k.convImplicit(packed + 4 * gi * cinG * Kd, cols, coutG, HP, WP, g.KH, g.KW, g.dilH, g.dilW, cols + 4 * coutG * HP * WP,
            dx + off, X, g.H, g.W, 0, mb, acc, relu ? 1 : 0);
        }
        continue;
      }
      if (pointwise) {
        k.gemmNN(A, 1, K, dyS, P, target, P, 0, K, P, coutG, 0);
      } else if (tp && wFlip) {
        k.im2col(dyS, coutG, g.OH, g.OW, g.KH, g.KW, g.H, g.W, 1, 1, tp.padH, tp.padW, g.dilH, g.dilW, 0, cols);
        k.gemmNN(wFlip + 4 * gi * cinG * Kt, Kt, 1, cols, HW, target, HW, 0, cinG, HW, Kt, 0);
      } else {
        k.gemmNN(A, 1, K, dyS, P, cols, P, 0, K, P, coutG, 0);
        k.col2im(cols, cinG, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, target);
      }
      if (!direct) k.maskedStore(tmp, x + off, dx + off, plane, relu ? 1 : 0, accumulate ? 1 : 0);
    }
  }
}

/** dw (+)= the weight gradient of samples [n0, n1): overwritten for n0's contribution when !accumulate.
 *  `batch` > 0 (where implicitWeightGrad(g), decided by the caller; at most wgradBatch(g)) skips the
 *  patch matrices and takes that many samples per wgradImplicit call. */
export function convWeightGrad(k: KernelExports, g: ConvGeom, dy: number, x: number, dw: number,
  n0: number, n1: number, accumulate: boolean, scratch: number, batch: number): void {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  if (isDepthwise(g)) {
    const HW = g.H * g.W, relu = g.reluInput ? 1 : 0;
    for (let n = n0; n < n1; n++) {
      for (let c = 0; c < g.Cin; c++) {
        k.dwWeightGrad(dy + 4 * (n * g.Cout + c) * P, x + 4 * (n * g.Cin + c) * HW, g.H, g.W, g.KH, g.KW, g.OH, g.OW,
          g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, relu, dw + 4 * c * K, accumulate || n > n0 ? 1 : 0);
      }
    }
    return;
  }
  if (batch > 0 && isPointwise(g)) {
    // dy and x (or its ReLU, copied sample by sample) are the operands: a 1×1 "convolution" over H×W planes
    const relu = !!g.reluInput, koff = scratch + 4 * batch * cinG * P;
    for (let nb = n0; nb < n1; nb += batch) {
      const S = Math.min(batch, n1 - nb);
      for (let gi = 0; gi < g.groups; gi++) {
        let xs = x + 4 * (nb * g.Cin + gi * cinG) * P, xStride = g.Cin * P;
        if (relu) {
          for (let s = 0; s < S; s++) k.reluCopy(xs + 4 * s * xStride, scratch + 4 * s * cinG * P, cinG * P);
          xs = scratch; xStride = cinG * P;
        }
        k.wgradImplicit(dy + 4 * (nb * g.Cout + gi * coutG) * P, P, xs, cinG, g.H, g.W, 1, 1, 1, 1, koff, dw + 4 * gi * coutG * K,
          0, coutG / 4, accumulate || nb > n0 ? 1 : 0, S, g.Cout * P, xStride);
      }
    }
    return;
  }
  if (batch > 0) {
    const { HP, WP, L, slack, xStride, dStride, koffAt, dAt } = wgradLayout(g, batch);
    const xpad = scratch, D = scratch + 4 * dAt;
    for (let nb = n0; nb < n1; nb += batch) {
      const S = Math.min(batch, n1 - nb);
      // zeroes the slack after the last sample's planes (padPlanes never writes it)
      k.padRows(0, 1, 0, 0, 0, slack, xpad + 4 * S * xStride);
      for (let gi = 0; gi < g.groups; gi++) {
        for (let s = 0; s < S; s++) {
          const n = nb + s;
          k.padPlanes(x + 4 * (n * g.Cin + gi * cinG) * g.H * g.W, cinG, g.H, g.W, g.padH, g.padW, g.reluInput ? 1 : 0, xpad + 4 * s * xStride);
          k.padRows(dy + 4 * (n * g.Cout + gi * coutG) * P, coutG, g.OH, g.OW, WP, L, D + 4 * s * dStride);
        }
        k.wgradImplicit(D, L, xpad, cinG, HP, WP, g.KH, g.KW, g.dilH, g.dilW, scratch + 4 * koffAt, dw + 4 * gi * coutG * K,
          0, coutG / 4, accumulate || nb > n0 ? 1 : 0, S, dStride, xStride);
      }
    }
    return;
  }
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const B = patches(k, g, x, n, gi, scratch);
      const dyS = dy + 4 * (n * g.Cout + gi * coutG) * P;
      k.gemmNT(dyS, P, B, P, dw + 4 * gi * coutG * K, K, 0, coutG, K, P, accumulate || n > n0 ? 1 : 0);
    }
  }
}
