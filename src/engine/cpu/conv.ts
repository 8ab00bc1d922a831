// 2-D convolution (NCHW, weights [Cout, Cin/groups, KH, KW]) and its gradients, without im2col.
//
// All three kernels walk the same (kernel tap, output row) structure and keep the innermost loop
// over output columns, where consecutive iterations touch consecutive (or stride-spaced) memory.
// For every kernel column kw the range of output columns whose input column lies inside the image is
// computed once, so the inner loops have no bounds tests. Sums accumulate in f64 scratch buffers.
import type { ConvGeom } from '../backend.js';
import type { Scratch } from './scratch.js';

/** Output columns [lo[kw], hi[kw]) whose input column ow*strideW - padW + kw*dilW lies in [0, W). */
function validColumns(g: ConvGeom): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(g.KW), hi = new Int32Array(g.KW);
  for (let kw = 0; kw < g.KW; kw++) {
    const shift = kw * g.dilW - g.padW; // input column = ow*strideW + shift
    lo[kw] = Math.max(0, Math.ceil(-shift / g.strideW));
    hi[kw] = Math.min(g.OW, Math.floor((g.W - 1 - shift) / g.strideW) + 1);
  }
  return { lo, hi };
}

export function conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array,
  g: ConvGeom, scratch: Scratch): void {
  const { N, Cin, H, W, Cout, KH, KW, OH, OW, strideH, strideW, padH, dilH, dilW, padW, groups } = g;
  const cinG = Cin / groups, coutG = Cout / groups;
  const inPlane = H * W, outPlane = OH * OW, taps = KH * KW;
  const { lo, hi } = validColumns(g);
  const acc = scratch.f64(outPlane);
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < Cout; oc++) {
      const group = Math.floor(oc / coutG);
      acc.fill(bias ? bias[oc] : 0, 0, outPlane);
      for (let icg = 0; icg < cinG; icg++) {
        const xBase = (n * Cin + group * cinG + icg) * inPlane;
        const wBase = (oc * cinG + icg) * taps;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const wv = w[wBase + kh * KW + kw];
            const owLo = lo[kw], owHi = hi[kw];
            const colShift = kw * dilW - padW;
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * strideH - padH + kh * dilH;
              if (ih < 0 || ih >= H) continue;
              const xRow = xBase + ih * W + colShift;
              const aRow = oh * OW;
              for (let ow = owLo; ow < owHi; ow++) acc[aRow + ow] += wv * x[xRow + ow * strideW];
            }
          }
        }
      }
      const yBase = (n * Cout + oc) * outPlane;
      for (let i = 0; i < outPlane; i++) y[yBase + i] = acc[i];
    }
  }
}

/** dx[n, ic, ih, iw] = sum over the output positions and output channels that read it. */
export function conv2dInputGrad(dy: Float32Array, w: Float32Array, dx: Float32Array, g: ConvGeom,
  scratch: Scratch): void {
  const { N, Cin, H, W, Cout, KH, KW, OH, OW, strideH, strideW, padH, dilH, dilW, padW, groups } = g;
  const cinG = Cin / groups, coutG = Cout / groups;
  const inPlane = H * W, outPlane = OH * OW, taps = KH * KW;
  const { lo, hi } = validColumns(g);
  const acc = scratch.f64(inPlane);
  for (let n = 0; n < N; n++) {
    for (let ic = 0; ic < Cin; ic++) {
      const group = Math.floor(ic / cinG), icg = ic - group * cinG;
      acc.fill(0, 0, inPlane);
      for (let ocg = 0; ocg < coutG; ocg++) {
        const oc = group * coutG + ocg;
        const dyBase = (n * Cout + oc) * outPlane;
        const wBase = (oc * cinG + icg) * taps;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const wv = w[wBase + kh * KW + kw];
            const owLo = lo[kw], owHi = hi[kw];
            const colShift = kw * dilW - padW;
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * strideH - padH + kh * dilH;
              if (ih < 0 || ih >= H) continue;
              const aRow = ih * W + colShift;
              const dRow = dyBase + oh * OW;
              for (let ow = owLo; ow < owHi; ow++) acc[aRow + ow * strideW] += wv * dy[dRow + ow];
            }
          }
        }
      }
      const dxBase = (n * Cin + ic) * inPlane;
      for (let i = 0; i < inPlane; i++) dx[dxBase + i] = acc[i];
    }
  }
}

/** dw[oc, icg, kh, kw] = sum over n and output positions of dy * (the input value that tap read). */
export function conv2dWeightGrad(dy: Float32Array, x: Float32Array, dw: Float32Array, g: ConvGeom,
  scratch: Scratch): void {
  const { N, Cin, H, W, Cout, KH, KW, OH, OW, strideH, strideW, padH, dilH, dilW, padW, groups } = g;
  const cinG = Cin / groups, coutG = Cout / groups;
  const inPlane = H * W, outPlane = OH * OW, taps = KH * KW;
  const { lo, hi } = validColumns(g);
  const acc = scratch.f64(taps);
  for (let oc = 0; oc < Cout; oc++) {
    const group = Math.floor(oc / coutG);
    for (let icg = 0; icg < cinG; icg++) {
      acc.fill(0, 0, taps);
      // n outside the taps: one (dy plane, x plane) pair stays in cache for all KH*KW taps.
      for (let n = 0; n < N; n++) {
        const dyBase = (n * Cout + oc) * outPlane;
        const xBase = (n * Cin + group * cinG + icg) * inPlane;
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const owLo = lo[kw], owHi = hi[kw];
            const colShift = kw * dilW - padW;
            let s = 0;
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * strideH - padH + kh * dilH;
              if (ih < 0 || ih >= H) continue;
              const xRow = xBase + ih * W + colShift;
              const dRow = dyBase + oh * OW;
              for (let ow = owLo; ow < owHi; ow++) s += dy[dRow + ow] * x[xRow + ow * strideW];
            }
            acc[kh * KW + kw] += s;
          }
        }
      }
      const wBase = (oc * cinG + icg) * taps;
      for (let t = 0; t < taps; t++) dw[wBase + t] = acc[t];
    }
  }
}

/** out[c] = sum over n, hw of x[n, c, hw] */
export function channelSum(x: Float32Array, out: Float32Array, N: number, C: number, HW: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) s += x[base + i];
    }
    out[c] = s;
  }
}
