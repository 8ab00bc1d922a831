// Max pooling over NCHW planes (PyTorch semantics, as src/engine/cpu/pool.ts): the window of output
// (oh, ow) is rows [oh·sH − pH, +KH) and columns likewise, clipped to the image (padding never wins);
// the output is the first maximum in row-major window order, a NaN winning (the first one), and 0 for
// an empty window. The backward sends each dy to that one input. Planes [p0, p1) of N·C.

/** Offset within the plane (elements) of the window's winner; -1 for an empty window. */
@inline function argmaxWindow(xp: usize, W: i32, h0: i32, h1: i32, w0: i32, w1: i32): i32 {
  let best: f32 = -Infinity, arg = -1;
  for (let h = h0; h < h1; h++) {
    const row = xp + ((h * W) << 2);
    for (let w = w0; w < w1; w++) {
      const v = load<f32>(row + (w << 2));
      // v > best, or the first NaN (best stays NaN after: every comparison with it is false), or the first value
      if (v > best || (v != v && best == best) || arg < 0) { best = v; arg = h * W + w; }
    }
  }
  return arg;
}

/** The columns [c0, c1) of a stride-1 output row whose windows lie inside the image horizontally
 *  (4 at a time in maxRow4), packed as c0 | c1 << 16. */
@inline function innerCols(sW: i32, pW: i32, KW: i32, W: i32, OW: i32): i32 {
  if (sW != 1) return 0;
  const c0 = min(pW, OW), c1 = max(c0, min(OW, W - KW + pW + 1));
  return c0 | (c1 << 16);
}

/**
 * Four neighbouring stride-1 windows at once (columns ow..ow+3 of a row whose window rows [h0, h1) and
 * columns start inside the image): lanes keep their best value and its plane offset, updated by the
 * same rule as argmaxWindow in the same row-major order, so the winners are the same.
 */
@inline function maxRow4(xp: usize, W: i32, h0: i32, h1: i32, wStart: i32, KW: i32, arg: usize): v128 {
  let best = v128.load(xp + ((h0 * W + wStart) << 2));
  let at = i32x4.add(i32x4.splat(h0 * W + wStart), i32x4(0, 1, 2, 3));
  for (let h = h0; h < h1; h++) {
    for (let kw = h == h0 ? 1 : 0; kw < KW; kw++) {
      const o = h * W + wStart + kw;
      const v = v128.load(xp + (o << 2));
      // v > best, or v the first NaN (v != v while best == best)
      const take = v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(v, v), f32x4.eq(best, best)));
      best = v128.bitselect(v, best, take);
      at = v128.bitselect(i32x4.add(i32x4.splat(o), i32x4(0, 1, 2, 3)), at, take);
    }
  }
  if (arg) v128.store(arg, at);
  return best;
}

export function maxPool(x: usize, y: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, p0: i32, p1: i32): void {
  const cols = innerCols(sW, pW, KW, W, OW), c0 = cols & 0xffff, c1 = cols >>> 16;
  for (let p = p0; p < p1; p++) {
    const xp = x + ((p * H * W) << 2), yp = y + ((p * OH * OW) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = max(oh * sH - pH, 0), h1 = min(oh * sH - pH + KH, H);
      let ow = 0;
      for (; ow < OW; ow++) {
        if (ow == c0 && h1 > h0) {
          for (; ow + 4 <= c1; ow += 4) v128.store(yp + ((oh * OW + ow) << 2), maxRow4(xp, W, h0, h1, ow - pW, KW, 0));
          if (ow >= OW) break;
        }
        const w0 = max(ow * sW - pW, 0), w1 = min(ow * sW - pW + KW, W);
        const arg = argmaxWindow(xp, W, h0, h1, w0, w1);
        store<f32>(yp + ((oh * OW + ow) << 2), arg < 0 ? 0 : load<f32>(xp + (arg << 2)));
      }
    }
  }
}

/** dx = (acc ? dx : 0) + scale · the max-pool gradient of dy. Each input's share is summed in f64 in
 *  `tmp` (H·W doubles per call, as the reference's scratch, then 4 ints) and rounded to f32 before
 *  scaling. */
export function maxPoolBackward(dy: usize, x: usize, dx: usize, tmp: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, scale: f64, acc: i32, p0: i32, p1: i32): void {
  const plane = H * W;
  const cols = innerCols(sW, pW, KW, W, OW), c0 = cols & 0xffff, c1 = cols >>> 16;
  const args = tmp + ((plane as usize) << 3); // 4 winners' offsets after the sums
  for (let p = p0; p < p1; p++) {
    const xp = x + ((p * plane) << 2), dp = dy + ((p * OH * OW) << 2), gp = dx + ((p * plane) << 2);
    memory.fill(tmp, 0, (plane as usize) << 3);
    for (let oh = 0; oh < OH; oh++) {
      const h0 = max(oh * sH - pH, 0), h1 = min(oh * sH - pH + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        if (ow == c0 && h1 > h0) {
          // four windows at once; their winners' shares added in output order, as below
          for (; ow + 4 <= c1; ow += 4) {
            maxRow4(xp, W, h0, h1, ow - pW, KW, args);
            for (let l = 0; l < 4; l++) {
              const q = tmp + (<usize>load<i32>(args + (l << 2)) << 3);
              store<f64>(q, load<f64>(q) + <f64>load<f32>(dp + ((oh * OW + ow + l) << 2)));
            }
          }
          if (ow >= OW) break;
        }
        const w0 = max(ow * sW - pW, 0), w1 = min(ow * sW - pW + KW, W);
        const arg = argmaxWindow(xp, W, h0, h1, w0, w1);
        if (arg < 0) continue;
        const q = tmp + (arg << 3);
        store<f64>(q, load<f64>(q) + <f64>load<f32>(dp + ((oh * OW + ow) << 2)));
      }
    }
    for (let i = 0; i < plane; i++) {
      const g = <f64><f32>load<f64>(tmp + (i << 3));
      const q = gp + (i << 2);
      store<f32>(q, <f32>(acc ? <f64>load<f32>(q) + scale * g : scale * g));
    }
  }
}
