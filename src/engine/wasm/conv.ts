// The three convolutions of the wasm backend as GEMMs over patch matrices, one sample (and group) at
// a time so a patch matrix (K·P values, K = Cin/groups·KH·KW, P = OH·OW: 144·1024 for NB201's first
// stage) stays in cache between the im2col that writes it and the GEMM that reads it:
//   forward     y_n[Cout, P]   = W[Cout, K] · cols(x_n)[K, P]                    (gemmNN)
//   input grad  cols[K, P]     = Wᵀ[K, Cout] · dy_n[Cout, P], dx_n = col2im(cols) (gemmNN, W read transposed)
//   weight grad dW[Cout, K]   += dy_n[Cout, P] · cols(x_n)ᵀ                     (gemmNT, summed over n)
// A 1×1, stride-1, unpadded convolution skips the patch matrix: x_n itself is [Cin, P].
// The fused ReLU on the input is applied while building the patch matrix (forward, weight grad) and as
// the x > 0 mask on the input gradient's write. Work is split over samples between threads
// (threads.ts); the weight gradient gives each thread its own partial dW and sums them.
import type { ConvGeom } from '../backend.js';
import type { KernelExports } from './module.js';

/** Whether the patch matrix of g is the input itself (1×1 kernel, stride 1, no padding). */
export function isPointwise(g: ConvGeom): boolean {
  return g.KH === 1 && g.KW === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
}

/** Floats of scratch one thread needs for a convolution of g (patch matrix or ReLU'd input, plus a
 *  dx plane for the masked / accumulating input gradient). */
export function convScratchFloats(g: ConvGeom): number {
  const cinG = g.Cin / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  return K * P + cinG * g.H * g.W;
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
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const B = patches(k, g, x, n, gi, scratch);
      const out = y + 4 * (n * g.Cout + gi * coutG) * P;
      k.gemmNN(w + 4 * gi * coutG * K, K, 1, B, P, out, P, 0, coutG, P, K, 0);
      if (bias) k.addChannelBias(out, bias + 4 * gi * coutG, coutG, P);
    }
  }
}

/** dx for samples [n0, n1); x is the pre-ReLU input (read only when g.reluInput). */
export function convInputGrad(k: KernelExports, g: ConvGeom, dy: number, w: number, dx: number, x: number,
  accumulate: boolean, n0: number, n1: number, scratch: number): void {
  const cinG = g.Cin / g.groups, coutG = g.Cout / g.groups, K = cinG * g.KH * g.KW, P = g.OH * g.OW;
  const plane = cinG * g.H * g.W;
  const relu = !!g.reluInput, direct = !relu && !accumulate, pointwise = isPointwise(g);
  const cols = scratch, tmp = scratch + 4 * K * P;
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const dyS = dy + 4 * (n * g.Cout + gi * coutG) * P;
      const off = 4 * (n * g.Cin + gi * cinG) * g.H * g.W;
      const target = direct ? dx + off : tmp;
      const A = w + 4 * gi * coutG * K; // A(m = patch row, k = output channel) = w[k·K + m]
      if (pointwise) {
        k.gemmNN(A, 1, K, dyS, P, target, P, 0, K, P, coutG, 0);
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
  for (let n = n0; n < n1; n++) {
    for (let gi = 0; gi < g.groups; gi++) {
      const B = patches(k, g, x, n, gi, scratch);
      const dyS = dy + 4 * (n * g.Cout + gi * coutG) * P;
      k.gemmNT(dyS, P, B, P, dw + 4 * gi * coutG * K, K, 0, coutG, K, P, accumulate || n > n0 ? 1 : 0);
    }
  }
}
