// Depthwise convolution (one input and one output channel per group: the DARTS space's sep_conv /
// dil_conv, MobileNet's blocks) directly on one channel plane. The generic path (conv.ts) writes a
// KH·KW × OH·OW patch matrix and multiplies a 1 × KH·KW row by it: as many stores as multiply-adds,
// and one GEMM call per plane. Here every tap is one pass over the output rows:
//   forward      y[oh, ow]  = Σ_t w[t] · x[oh·sH − pH + kh·dH, ow·sW − pW + kw·dW]
//   input grad   dx[ih, iw] = Σ over the outputs that read (ih, iw) of w[t] · dy[oh, ow]  (the adjoint)
//   weight grad  dw[t]     (+)= Σ_{oh, ow} dy[oh, ow] · x[…]
// x is read as max(x, 0) when relu != 0 (the fused ReLU → conv). For stride 1 the columns of one
// (oh, tap) are a contiguous run, processed with 4-lane loads and stores.

@inline function lowCol(kw: i32, OW: i32, sW: i32, pW: i32, dW: i32): i32 {
  const shift = kw * dW - pW; // input column = ow·sW + shift
  const lo = shift >= 0 ? 0 : (-shift + sW - 1) / sW;
  return lo < OW ? lo : OW;
}

/** One past the last output column whose tap kw reads inside the row, and at least `lo`. */
@inline function highCol(kw: i32, W: i32, OW: i32, sW: i32, pW: i32, dW: i32, lo: i32): i32 {
  const shift = kw * dW - pW;
  const h = (W - 1 - shift) >= 0 ? (W - 1 - shift) / sW + 1 : 0;
  const hi = h < OW ? h : OW;
  return hi < lo ? lo : hi;
}

export function dwForward(x: usize, H: i32, W: i32, w: usize, KH: i32, KW: i32, OH: i32, OW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, dH: i32, dW: i32, relu: i32, y: usize): void {
  memory.fill(y, 0, ((OH * OW) as usize) << 2);
  const zero = f32x4.splat(0);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const wt = load<f32>(w + (((kh * KW + kw) as usize) << 2));
      const wv = f32x4.splat(wt);
      const lo = lowCol(kw, OW, sW, pW, dW);
      const hi = highCol(kw, W, OW, sW, pW, dW, lo);
      const shift = kw * dW - pW;
      for (let oh = 0; oh < OH; oh++) {
        const ih = oh * sH - pH + kh * dH;
        if (ih < 0 || ih >= H) continue;
        const out = y + ((oh * OW) << 2);
        const src = x + ((ih * W + shift) << 2);
        let ow = lo;
        if (sW == 1) {
          if (relu) {
            for (; ow + 4 <= hi; ow += 4) {
              const p = out + (ow << 2);
              v128.store(p, f32x4.add(v128.load(p), f32x4.mul(wv, f32x4.max(v128.load(src + (ow << 2)), zero))));
            }
          } else {
            for (; ow + 4 <= hi; ow += 4) {
              const p = out + (ow << 2);
              v128.store(p, f32x4.add(v128.load(p), f32x4.mul(wv, v128.load(src + (ow << 2)))));
            }
          }
        }
        for (; ow < hi; ow++) {
          let v = load<f32>(src + ((ow * sW) << 2));
          if (relu && !(v > 0)) v = 0;
          const p = out + (ow << 2);
          store<f32>(p, load<f32>(p) + wt * v);
        }
      }
    }
  }
}

export function dwInputGrad(dy: usize, H: i32, W: i32, w: usize, KH: i32, KW: i32, OH: i32, OW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, dH: i32, dW: i32, dx: usize): void {
  memory.fill(dx, 0, ((H * W) as usize) << 2);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const wt = load<f32>(w + (((kh * KW + kw) as usize) << 2));
      const wv = f32x4.splat(wt);
      const lo = lowCol(kw, OW, sW, pW, dW);
      const hi = highCol(kw, W, OW, sW, pW, dW, lo);
      const shift = kw * dW - pW;
      for (let oh = 0; oh < OH; oh++) {
        const ih = oh * sH - pH + kh * dH;
        if (ih < 0 || ih >= H) continue;
        const src = dy + ((oh * OW) << 2);
        const dst = dx + ((ih * W + shift) << 2);
        let ow = lo;
        if (sW == 1) {
          for (; ow + 4 <= hi; ow += 4) {
            const p = dst + (ow << 2);
            v128.store(p, f32x4.add(v128.load(p), f32x4.mul(wv, v128.load(src + (ow << 2)))));
          }
        }
        for (; ow < hi; ow++) {
          const p = dst + ((ow * sW) << 2);
          store<f32>(p, load<f32>(p) + wt * load<f32>(src + (ow << 2)));
        }
      }
    }
  }
}

export function dwWeightGrad(dy: usize, x: usize, H: i32, W: i32, KH: i32, KW: i32, OH: i32, OW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, dH: i32, dW: i32, relu: i32, dw: usize, acc: i32): void {
  const zero = f32x4.splat(0);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const lo = lowCol(kw, OW, sW, pW, dW);
      const hi = highCol(kw, W, OW, sW, pW, dW, lo);
      const shift = kw * dW - pW;
      let sv = f32x4.splat(0);
      let s: f32 = 0;
      for (let oh = 0; oh < OH; oh++) {
        const ih = oh * sH - pH + kh * dH;
        if (ih < 0 || ih >= H) continue;
        const g = dy + ((oh * OW) << 2);
        const src = x + ((ih * W + shift) << 2);
        let ow = lo;
        if (sW == 1) {
          if (relu) {
            for (; ow + 4 <= hi; ow += 4) sv = f32x4.add(sv, f32x4.mul(v128.load(g + (ow << 2)), f32x4.max(v128.load(src + (ow << 2)), zero)));
          } else {
            for (; ow + 4 <= hi; ow += 4) sv = f32x4.add(sv, f32x4.mul(v128.load(g + (ow << 2)), v128.load(src + (ow << 2))));
          }
        }
        for (; ow < hi; ow++) {
          let v = load<f32>(src + ((ow * sW) << 2));
          if (relu && !(v > 0)) v = 0;
          s += load<f32>(g + (ow << 2)) * v;
        }
      }
      const total = s + f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3);
      const p = dw + (((kh * KW + kw) as usize) << 2);
      store<f32>(p, acc ? load<f32>(p) + total : total);
    }
  }
}
