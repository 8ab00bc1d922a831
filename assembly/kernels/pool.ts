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

/** out[c] = Σ_{r ∈ [r0, r1)} plane[r·n + c] for the n columns of a row-major plane (4 columns a step). */
@inline function columnSums(plane: usize, n: i32, r0: i32, r1: i32, out: usize): void {
  let c = 0;
  for (; c + 4 <= n; c += 4) {
    let v = f32x4.splat(0);
    for (let r = r0; r < r1; r++) v = f32x4.add(v, v128.load(plane + ((r * n + c) << 2)));
    v128.store(out + (c << 2), v);
  }
  for (; c < n; c++) {
    let s: f32 = 0;
    for (let r = r0; r < r1; r++) s += load<f32>(plane + ((r * n + c) << 2));
    store<f32>(out + (c << 2), s);
  }
}

/**
 * Stride-1 average pooling, vectorised: per output row, the window's input rows are summed column by
 * column (4 lanes at a time) into `tmp` (W floats), then each output sums KW neighbouring column sums
 * (4 outputs at a time where the window lies inside the image; edges scalar). Same divisors and
 * results (up to f32 summation order) as avgPool.
 */
export function avgPoolS1(x: usize, y: usize, tmp: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  pH: i32, pW: i32, includePad: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) {
    const xp = x + ((p * H * W) << 2), yp = y + ((p * OH * OW) << 2);
    for (let oh = 0; oh < OH; oh++) {
      let h0 = oh - pH, h1 = min(h0 + KH, H + pH);
      const ph = h1 - h0;
      h0 = max(h0, 0); h1 = min(h1, H);
      // column sums of the window's rows
      columnSums(xp, W, h0, h1, tmp);
      const rows = includePad ? ph : h1 - h0;
      const row = yp + ((oh * OW) << 2);
      // interior outputs: the whole window inside the image columns
      const lo = min(pW, OW), hi = max(lo, min(OW, W - KW + pW + 1));
      const div = <f32>(rows * KW);
      const inv = f32x4.splat(div > 0 ? 1 / div : 0);
      let ow = lo;
      for (; ow + 4 <= hi; ow += 4) {
        let v = f32x4.splat(0);
        const base = tmp + ((ow - pW) << 2);
        for (let k = 0; k < KW; k++) v = f32x4.add(v, v128.load(base + (k << 2)));
        v128.store(row + (ow << 2), f32x4.mul(v, inv));
      }
      // edges (and what the vector loop left)
      for (let o = 0; o < OW; o++) {
        if (o >= lo && o < ow) { o = ow - 1; continue; }
        let w0 = o - pW, w1 = min(w0 + KW, W + pW);
        const pw = w1 - w0;
        w0 = max(w0, 0); w1 = min(w1, W);
        let s: f32 = 0;
        for (let c = w0; c < w1; c++) s += load<f32>(tmp + (c << 2));
        const d = includePad ? rows * pw : rows * (w1 - w0);
        store<f32>(row + (o << 2), d > 0 ? s / <f32>d : 0);
      }
    }
  }
}

/**
 * Stride-1 average pooling backward, vectorised: t = dy / divisor (the divisor is a row count times a
 * column count, so two reciprocals per plane), then dx[h, w] sums t over the outputs whose window holds
 * (h, w) — a box filter over t, done like avgPoolS1: column sums over the output rows, then KW
 * neighbours, 4 at a time inside. dx = (acc ? dx : 0) + scale · that. `tmp`: OH·OW + OW + OH + OW floats.
 */
export function avgPoolBackwardS1(dy: usize, dx: usize, tmp: usize, H: i32, W: i32, OH: i32, OW: i32, KH: i32, KW: i32,
  pH: i32, pW: i32, includePad: i32, scale: f32, acc: i32, p0: i32, p1: i32): void {
  const t = tmp, col = t + ((OH * OW) << 2), rinv = col + (OW << 2), cinv = rinv + (OH << 2);
  for (let oh = 0; oh < OH; oh++) {
    let h0 = oh - pH, h1 = min(h0 + KH, H + pH);
    const ph = h1 - h0;
    h0 = max(h0, 0); h1 = min(h1, H);
    const r = includePad ? ph : h1 - h0;
    store<f32>(rinv + (oh << 2), r > 0 ? 1 / <f32>r : 0);
  }
  for (let ow = 0; ow < OW; ow++) {
    let w0 = ow - pW, w1 = min(w0 + KW, W + pW);
    const pw = w1 - w0;
    w0 = max(w0, 0); w1 = min(w1, W);
    const c = includePad ? pw : w1 - w0;
    store<f32>(cinv + (ow << 2), c > 0 ? 1 / <f32>c : 0);
  }
  const sv = f32x4.splat(scale);
  for (let p = p0; p < p1; p++) {
    const dp = dy + ((p * OH * OW) << 2), xp = dx + ((p * H * W) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const ri = load<f32>(rinv + (oh << 2));
      for (let ow = 0; ow < OW; ow++) {
        const o = (oh * OW + ow) << 2;
        store<f32>(t + o, load<f32>(dp + o) * (ri * load<f32>(cinv + (ow << 2))));
      }
    }
    for (let h = 0; h < H; h++) {
      // outputs whose window rows hold h: oh in [h + pH − KH + 1, h + pH] ∩ [0, OH)
      const a = max(h + pH - KH + 1, 0), b = min(h + pH + 1, OH);
      columnSums(t, OW, a, b, col);
      const row = xp + ((h * W) << 2);
      // inputs whose every window column is an output: ow in [w + pW − KW + 1, w + pW] ⊂ [0, OW)
      const lo = min(max(KW - 1 - pW, 0), W), hi = max(lo, min(W, OW - pW));
      let w = lo;
      for (; w + 4 <= hi; w += 4) {
        let v = f32x4.splat(0);
        const base = col + ((w + pW - KW + 1) << 2);
        for (let k = 0; k < KW; k++) v = f32x4.add(v, v128.load(base + (k << 2)));
        v = f32x4.mul(v, sv);
        if (acc) v = f32x4.add(v, v128.load(row + (w << 2)));
        v128.store(row + (w << 2), v);
      }
      for (let c = 0; c < W; c++) {
        if (c >= lo && c < w) { c = w - 1; continue; }
        const a2 = max(c + pW - KW + 1, 0), b2 = min(c + pW + 1, OW);
        let s: f32 = 0;
        for (let o = a2; o < b2; o++) s += load<f32>(col + (o << 2));
        const q = row + (c << 2);
        const v = scale * s;
        store<f32>(q, acc ? load<f32>(q) + v : v);
      }
    }
  }
}
