// Average and max pooling over NCHW planes, PyTorch semantics (floor output size, no ceil mode).
//
// Window of output (oh, ow): rows [oh*strideH - padH, +KH), columns likewise, clipped to the image.
// Average divisor: count_include_pad=true counts the window clipped to the *padded* image (PyTorch's
// pool_size), false counts only real pixels. Max ignores padding and takes the first maximum in
// row-major window order (NaN wins, as in PyTorch); its gradient goes to that one input.
import type { PoolGeom } from '../backend.js';

interface Window { h0: number; h1: number; w0: number; w1: number; divisor: number }

function windowOf(g: PoolGeom, oh: number, ow: number, out: Window): void {
  let h0 = oh * g.strideH - g.padH, w0 = ow * g.strideW - g.padW;
  let h1 = Math.min(h0 + g.KH, g.H + g.padH), w1 = Math.min(w0 + g.KW, g.W + g.padW);
  const padded = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0); w0 = Math.max(w0, 0);
  h1 = Math.min(h1, g.H); w1 = Math.min(w1, g.W);
  out.h0 = h0; out.h1 = h1; out.w0 = w0; out.w1 = w1;
  out.divisor = g.countIncludePad ? padded : (h1 - h0) * (w1 - w0);
}

/** Index within the plane of the first maximum of the window (-1 for an empty window). */
function argmaxOf(x: Float32Array, base: number, W: number, win: Window): number {
  let best = -Infinity, arg = -1;
  for (let h = win.h0; h < win.h1; h++) {
    for (let w = win.w0; w < win.w1; w++) {
      const v = x[base + h * W + w];
      if (v > best || (v !== v && best === best) || arg < 0) { best = v; arg = h * W + w; }
    }
  }
  return arg;
}

export function pool2dForward(x: Float32Array, y: Float32Array, g: PoolGeom): void {
  const { N, C, H, W, OH, OW } = g;
  const win: Window = { h0: 0, h1: 0, w0: 0, w1: 0, divisor: 0 };
  for (let p = 0; p < N * C; p++) {
    const xBase = p * H * W, yBase = p * OH * OW;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        windowOf(g, oh, ow, win);
        let v: number;
        if (g.kind === 'max') {
          const arg = argmaxOf(x, xBase, W, win);
          v = arg < 0 ? 0 : x[xBase + arg];
        } else {
          let s = 0;
          for (let h = win.h0; h < win.h1; h++) {
            for (let w = win.w0; w < win.w1; w++) s += x[xBase + h * W + w];
          }
          v = win.divisor > 0 ? s / win.divisor : 0;
        }
        y[yBase + oh * OW + ow] = v;
      }
    }
  }
}

export function pool2dBackward(dy: Float32Array, x: Float32Array, dx: Float32Array, g: PoolGeom,
  scratch: Float64Array, scale = 1, accumulate = false): void {
  const { N, C, H, W, OH, OW } = g;
  const plane = H * W;
  const win: Window = { h0: 0, h1: 0, w0: 0, w1: 0, divisor: 0 };
  for (let p = 0; p < N * C; p++) {
    const xBase = p * plane, yBase = p * OH * OW;
    scratch.fill(0, 0, plane);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        windowOf(g, oh, ow, win);
        const d = dy[yBase + oh * OW + ow];
        if (g.kind === 'max') {
          const arg = argmaxOf(x, xBase, W, win);
          if (arg >= 0) scratch[arg] += d;
        } else if (win.divisor > 0) {
          const share = d / win.divisor;
          for (let h = win.h0; h < win.h1; h++) {
            for (let w = win.w0; w < win.w1; w++) scratch[h * W + w] += share;
          }
        }
      }
    }
    // the pooled gradient is rounded to f32 before scaling, as a stored gradient scaled later would be
    if (accumulate) for (let i = 0; i < plane; i++) dx[xBase + i] += scale * Math.fround(scratch[i]);
    else if (scale !== 1) for (let i = 0; i < plane; i++) dx[xBase + i] = scale * Math.fround(scratch[i]);
    else for (let i = 0; i < plane; i++) dx[xBase + i] = scratch[i];
  }
}

/** y[n, c] = mean over HW of x[n, c, :] */
export function globalAvgPool(x: Float32Array, y: Float32Array, NC: number, HW: number): void {
  for (let p = 0; p < NC; p++) {
    let s = 0;
    const base = p * HW;
    for (let i = 0; i < HW; i++) s += x[base + i];
    y[p] = s / HW;
  }
}

export function globalAvgPoolBackward(dy: Float32Array, dx: Float32Array, NC: number, HW: number): void {
  for (let p = 0; p < NC; p++) {
    const v = dy[p] / HW;
    dx.fill(v, p * HW, (p + 1) * HW);
  }
}
