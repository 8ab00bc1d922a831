// Patch matrices for the convolutions (conv.ts in src/engine/wasm drives them one sample at a time):
//   im2col: cols[(ic·KH + kh)·KW + kw, oh·OW + ow] = x[ic, oh·sH − pH + kh·dH, ow·sW − pW + kw·dW]
//           (0 outside the image; max(x, 0) when relu != 0 — the NB201 ReLU → conv fused on read)
//   col2im: the adjoint, dx[ic, ih, iw] += every cols entry that read it (dx zeroed first).
// Rows are written whole, so the columns of one (ic, kh, kw) are one contiguous run: for stride 1 that
// run copies with 4-lane loads and stores.

@inline function colRange(kw: i32, W: i32, OW: i32, sW: i32, pW: i32, dW: i32, hi: bool): i32 {
  const shift = kw * dW - pW; // input column = ow·sW + shift
  if (!hi) {
    const lo = shift >= 0 ? 0 : (-shift + sW - 1) / sW;
    return lo < OW ? lo : OW;
  }
  const h = (W - 1 - shift) >= 0 ? (W - 1 - shift) / sW + 1 : 0;
  return h < OW ? h : OW;
}

export function im2col(x: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, OH: i32, OW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, dH: i32, dW: i32, relu: i32, cols: usize): void {
  const P = OH * OW;
  const zero = f32x4.splat(0);
  let row = cols;
  for (let c = 0; c < C; c++) {
    const plane = x + ((c * H * W) << 2);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let lo = colRange(kw, W, OW, sW, pW, dW, false), hi = colRange(kw, W, OW, sW, pW, dW, true);
        if (hi < lo) hi = lo;
        const shift = kw * dW - pW;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sH - pH + kh * dH;
          const out = row + ((oh * OW) << 2);
          if (ih < 0 || ih >= H) { memory.fill(out, 0, (OW as usize) << 2); continue; }
          for (let ow = 0; ow < lo; ow++) store<f32>(out + (ow << 2), 0);
          for (let ow = hi; ow < OW; ow++) store<f32>(out + (ow << 2), 0);
          const src = plane + ((ih * W + shift) << 2);
          if (sW == 1) {
            let ow = lo;
            if (relu) {
              for (; ow + 4 <= hi; ow += 4) v128.store(out + (ow << 2), f32x4.max(v128.load(src + (ow << 2)), zero));
              for (; ow < hi; ow++) { const v = load<f32>(src + (ow << 2)); store<f32>(out + (ow << 2), v > 0 ? v : 0); }
            } else {
              memory.copy(out + (lo << 2), src + (lo << 2), ((hi - lo) as usize) << 2);
            }
          } else {
            for (let ow = lo; ow < hi; ow++) {
              const v = load<f32>(src + ((ow * sW) << 2));
              store<f32>(out + (ow << 2), relu && !(v > 0) ? 0 : v);
            }
          }
        }
        row += (P as usize) << 2;
      }
    }
  }
}

export function col2im(cols: usize, C: i32, H: i32, W: i32, KH: i32, KW: i32, OH: i32, OW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, dH: i32, dW: i32, dx: usize): void {
  const P = OH * OW;
  memory.fill(dx, 0, ((C * H * W) as usize) << 2);
  let row = cols;
  for (let c = 0; c < C; c++) {
    const plane = dx + ((c * H * W) << 2);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let lo = colRange(kw, W, OW, sW, pW, dW, false), hi = colRange(kw, W, OW, sW, pW, dW, true);
        const shift = kw * dW - pW;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * sH - pH + kh * dH;
          if (ih < 0 || ih >= H) continue;
          const src = row + ((oh * OW) << 2);
          const dst = plane + ((ih * W + shift) << 2);
          if (sW == 1) {
            let ow = lo;
            for (; ow + 4 <= hi; ow += 4) {
              const p = dst + (ow << 2);
              v128.store(p, f32x4.add(v128.load(p), v128.load(src + (ow << 2))));
            }
            for (; ow < hi; ow++) { const p = dst + (ow << 2); store<f32>(p, load<f32>(p) + load<f32>(src + (ow << 2))); }
          } else {
            for (let ow = lo; ow < hi; ow++) {
              const p = dst + ((ow * sW) << 2);
              store<f32>(p, load<f32>(p) + load<f32>(src + (ow << 2)));
            }
          }
        }
        row += (P as usize) << 2;
      }
    }
  }
}

/** out[i] = max(x[i], 0) */
export function reluCopy(x: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (i << 2), f32x4.max(v128.load(x + (i << 2)), zero));
  for (; i < n; i++) { const v = load<f32>(x + (i << 2)); store<f32>(out + (i << 2), v > 0 ? v : 0); }
}

/** The input gradient's write: g masked by x > 0 when mask != 0, then stored or added to dx. */
export function maskedStore(g: usize, x: usize, dx: usize, n: i32, mask: i32, acc: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (i as usize) << 2;
    let v = load<f32>(g + o);
    if (mask && !(load<f32>(x + o) > 0)) v = 0;
    store<f32>(dx + o, acc ? load<f32>(dx + o) + v : v);
  }
}

/** out[c·P + p] += bias[c] for a [C, P] plane */
export function addChannelBias(out: usize, bias: usize, C: i32, P: i32): void {
  for (let c = 0; c < C; c++) {
    const b = load<f32>(bias + (c << 2));
    const row = out + ((c * P) << 2);
    for (let p = 0; p < P; p++) store<f32>(row + (p << 2), load<f32>(row + (p << 2)) + b);
  }
}
