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
  return Math.max(K * P, coutG * g.KH * g.KW * g.H * g.W) + cinG * g.H * g.W;
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

/** y for samples [n0, n1). */
export function convForward(k: KernelExports, g: ConvGeom, x: number, w: number, bias: number, y: number,
  n0: number, n1: number, scratch: number): void {
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
      const B = patches(k, g, x, n, gi, scratch);
      const out = y + 4 * (n * g.Cout + gi * coutG) * P;
      k.gemmNN(w + 4 * gi * coutG * K, K, 1, B, P, out, P, 0, coutG, P, K, 0);
      if (bias) k.addChannelBias(out, bias + 4 * gi * coutG, coutG, P);
    }
  }
}

/** dx for samples [n0, n1); x is the pre-ReLU input (read only when g.reluInput). `wFlip` (0 when
 *  transposedPadding(g) is null) holds flipWeights(w). */
export function convInputGrad(k: KernelExports, g: ConvGeom, dy: number, w: number, wFlip: number, dx: number, x: number,
  accumulate: boolean, n0: number, n1: number, scratch: number): void {
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

/** dw (+)= the weight gradient of samples [n0, n1): overwritten for n0's contribution when !accumulate. */
export function convWeightGrad(k: KernelExports, g: ConvGeom, dy: number, x: number, dw: number,
  n0: number, n1: number, accumulate: boolean, scratch: number): void {
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
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const B = patches(k, g, x, n, gi, scratch);
      const dyS = dy + 4 * (n * g.Cout + gi * coutG) * P;
      k.gemmNT(dyS, P, B, P, dw + 4 * gi * coutG * K, K, 0, coutG, K, P, accumulate || n > n0 ? 1 : 0);
    }
  }
}
