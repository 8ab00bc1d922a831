// Average pooling over NCHW planes (PyTorch semantics, as src/engine/cpu/pool.ts: floor output size;
// the divisor counts the window clipped to the padded image, or only real pixels when !includePad).
// Planes [p0, p1) of N·C. The backward scatters dy/divisor over each window into an f32 plane.

@inline function lo(o: i32, s: i32, p: i32): i32 { return o * s - p; }

export function avgPool(x: usize, y: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, includePad: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) {
    const xp = x + ((p * H * W) << 2), yp = y + ((p * OH * OW) << 2);
    for (let oh = 0; oh < OH; oh++) {
      let h0 = lo(oh, sH, pH), h1 = min(h0 + KH, H + pH);
      const ph = h1 - h0;
      h0 = max(h0, 0); h1 = min(h1, H);
      for (let ow = 0; ow < OW; ow++) {
        let w0 = lo(ow, sW, pW), w1 = min(w0 + KW, W + pW);
        const pw = w1 - w0;
        w0 = max(w0, 0); w1 = min(w1, W);
        const div = includePad ? ph * pw : (h1 - h0) * (w1 - w0);
        let s: f32 = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += load<f32>(xp + ((h * W + w) << 2));
        store<f32>(yp + ((oh * OW + ow) << 2), div > 0 ? s / <f32>div : 0);
      }
    }
  }
}

/** dx = (acc ? dx : 0) + scale · avgPool backward of dy; `tmp` holds H·W floats per call (one plane). */
export function avgPoolBackward(dy: usize, dx: usize, tmp: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  sH: i32, sW: i32, pH: i32, pW: i32, includePad: i32, scale: f32, acc: i32, p0: i32, p1: i32): void {
  const plane = H * W;
  for (let p = p0; p < p1; p++) {
    const dp = dy + ((p * OH * OW) << 2), xp = dx + ((p * plane) << 2);
    memory.fill(tmp, 0, (plane as usize) << 2);
    for (let oh = 0; oh < OH; oh++) {
      let h0 = lo(oh, sH, pH), h1 = min(h0 + KH, H + pH);
      const ph = h1 - h0;
      h0 = max(h0, 0); h1 = min(h1, H);
      for (let ow = 0; ow < OW; ow++) {
        let w0 = lo(ow, sW, pW), w1 = min(w0 + KW, W + pW);
        const pw = w1 - w0;
        w0 = max(w0, 0); w1 = min(w1, W);
        const div = includePad ? ph * pw : (h1 - h0) * (w1 - w0);
        if (div <= 0) continue;
        const share = load<f32>(dp + ((oh * OW + ow) << 2)) / <f32>div;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) {
          const q = tmp + ((h * W + w) << 2);
          store<f32>(q, load<f32>(q) + share);
        }
      }
    }
    for (let i = 0; i < plane; i++) {
      const v = scale * load<f32>(tmp + (i << 2));
      const q = xp + (i << 2);
      store<f32>(q, acc ? load<f32>(q) + v : v);
    }
  }
}
