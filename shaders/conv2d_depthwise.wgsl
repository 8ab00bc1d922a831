// Depthwise convolution (groups = Cin = Cout, weights [C, 1, KH, KW]) with any stride, padding and
// dilation: the separable and dilated convolutions of the DARTS space and the inverted-residual
// blocks of the MobileNet space. Forward, input gradient and weight gradient.
// The implicit-GEMM kernel (conv2d.wgsl) runs these too, but with one input channel per group its
// reduction is only KH*KW long, so its tiles are almost all set-up. Here one invocation owns a strip
// of 4 output columns of one plane (n, c), keeps the plane's KH*KW weights in registers, and walks
// down the rows; for each window row it loads the span of input columns the 4 outputs share once
// (3*SW + (KW-1)*DW + 1 values, not 4*KW).
//
// Bindings (one layout for all entries: each entry uses every binding): a0, a1, a2 read-only, out read-write, p the sizes.
//   forward:      a0 = x,  a1 = w, a2 = bias (zeros when none), out = y
//   input_grad:   a0 = dy, a1 = w, a2 = x (the ReLU mask when RELU_IN), out = dx (+= when p.accumulate)
//   weight_grad:  a0 = dy, a1 = x, a2 = unused, out = per-split partial sums [splits, C*KH*KW]
//                 (multi_split_sum.wgsl sums them in split order: deterministic)
// RELU_IN: the conv reads max(x, 0) (forward, weight gradient) and the input gradient is masked by x > 0.

struct Params { planes: u32, C: u32, N: u32, accumulate: u32, splits: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32 = 3;
override KW: i32 = 3;
override SH: i32 = 1;
override SW: i32 = 1;
override PH: i32 = 1;
override PW: i32 = 1;
override DH: i32 = 1;
override DW: i32 = 1;
override RELU_IN: u32 = 0u;
override WG: u32 = 64u;
/** input columns the 4 outputs of a strip read along one window row (forward, weight gradient) */
override SPAN_IN: i32 = 3 * SW + (KW - 1) * DW + 1;
/** dy columns the 4 input-gradient columns of a strip read along one window row (stride 1) */
override SPAN_DY: i32 = 4 + (KW - 1) * DW;
/** rows of a window, dilation included: the output rows one input row feeds at stride 1 */
override RING: i32 = (KH - 1) * DH + 1;

/** bounds of the private arrays; kernels/depthwise.ts sends larger windows to conv2d.wgsl */
const MAX_SPAN: i32 = 32;
const MAX_TAPS: i32 = 49;
const MAX_RING: i32 = 16;
/** output rows per weight-gradient item at stride 1 (kernels/depthwise.ts WGRAD_BAND) */
const BAND: i32 = 8;

@group(0) @binding(0) var<storage, read> a0: array<f32>;
@group(0) @binding(1) var<storage, read> a1: array<f32>;
@group(0) @binding(2) var<storage, read> a2: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> red: array<f32, WG * u32(KH * KW)>;

/** The conv's view of an input value v at column iw of a row W wide: 0 outside the row (padding),
 *  max(v, 0) when RELU_IN. */
fn conv_in(v: f32, iw: i32, W: i32) -> f32 {
  let r = select(0.0, v, iw >= 0 && iw < W);
  if (RELU_IN != 0u) { return max(r, 0.0); }
  return r;
}

/** x at column iw of the row starting at rowBase, x bound as a0 (forward) or a1 (weight gradient). */
fn x_a0(rowBase: i32, iw: i32, W: i32) -> f32 { return conv_in(a0[rowBase + clamp(iw, 0, W - 1)], iw, W); }
fn x_a1(rowBase: i32, iw: i32, W: i32) -> f32 { return conv_in(a1[rowBase + clamp(iw, 0, W - 1)], iw, W); }

/** a0[rowBase + col], 0 for col outside [0, n). */
fn load_a0(rowBase: i32, col: i32, n: i32) -> f32 {
  return select(0.0, a0[rowBase + clamp(col, 0, n - 1)], col >= 0 && col < n);
}

/** a0[rowBase + col .. col + 3] (0 past the row's end n). */
fn load4_a0(rowBase: i32, col: i32, n: i32) -> vec4<f32> {
  return vec4<f32>(load_a0(rowBase, col, n), load_a0(rowBase, col + 1, n), load_a0(rowBase, col + 2, n),
                   load_a0(rowBase, col + 3, n));
}

/** Writes 4 output values from column `at` (the first `live` of them): mode 0 (forward) as they are;
 *  mode 1 (input gradient) masked by x > 0 when RELU_IN (x bound as a2) and added to dx when
 *  p.accumulate. */
fn store_strip(mode: u32, at: i32, live: i32, v: vec4<f32>) {
  for (var j = 0; j < 4; j++) {
    if (j < live) {
      var s = v[j];
      if (mode == 1u) {
        if (RELU_IN != 0u) { s = select(0.0, s, a2[at + j] > 0.0); }
        if (p.accumulate != 0u) { s += out[at + j]; }
      }
      out[at + j] = s;
    }
  }
}

/**
 * A stride-1 strip (4 output columns from col0, all rows) of one plane with a ring of RING row
 * accumulators: each input row is loaded once (SPAN_DY values) and added into every output row it
 * feeds, instead of being loaded again for each of them. Output row oh reads input rows
 * oh - padH + kh*DH, so while input row ih is read, ring slot r holds output row ih + padH - (RING-1) + r
 * and slot 0 is complete. mode 0: forward (x in a0, ReLU'd when RELU_IN, + b); mode 1: input
 * gradient, which is this same correlation of dy with the flipped window (the caller flips wk and
 * passes padding (K-1)*D - P).
 */
fn ring_strip(mode: u32, inBase: i32, inH: i32, inW: i32, outBase: i32, outH: i32, outW: i32, padH: i32, padW: i32,
              col0: i32, wk: ptr<function, array<f32, MAX_TAPS>>, b: f32) {
  var acc: array<vec4<f32>, MAX_RING>;
  for (var r = 0; r < RING; r++) { acc[r] = vec4<f32>(0.0); }
  let c0 = col0 - padW;
  let live = outW - col0;
  for (var ih = -padH; ih < outH + RING - 1 - padH; ih++) {
    if (ih >= 0 && ih < inH) {
      let rowBase = inBase + ih * inW;
      var row: array<f32, MAX_SPAN>;
      for (var t = 0; t < SPAN_DY; t++) {
        if (mode == 0u) { row[t] = x_a0(rowBase, c0 + t, inW); } else { row[t] = load_a0(rowBase, c0 + t, inW); }
      }
      for (var kh = 0; kh < KH; kh++) {
        var sum = vec4<f32>(0.0);
        for (var kw = 0; kw < KW; kw++) {
          let o = kw * DW;
          sum += vec4<f32>(row[o], row[o + 1], row[o + 2], row[o + 3]) * (*wk)[kh * KW + kw];
        }
        acc[RING - 1 - kh * DH] += sum;
      }
    }
    let oh = ih + padH - (RING - 1);
    if (oh >= 0) { store_strip(mode, outBase + oh * outW + col0, live, acc[0] + vec4<f32>(b)); }
    for (var r = 0; r < RING - 1; r++) { acc[r] = acc[r + 1]; }
    acc[RING - 1] = vec4<f32>(0.0);
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let wTiles = u32((p.OW + 3) / 4);
  for (var s = (wid.x + wid.y * nwg.x) * WG + lid; s < p.planes * wTiles; s += nwg.x * nwg.y * WG) {
    let plane = i32(s / wTiles);
    let ow0 = i32(s % wTiles) * 4;
    let c = plane % i32(p.C);
    var wk: array<f32, MAX_TAPS>;
    for (var t = 0; t < KH * KW; t++) { wk[t] = a1[c * KH * KW + t]; }
    let b = a2[c];
    let iw0 = ow0 * SW - PW;
    let inPlane = plane * p.H * p.W;
    let outPlane = plane * p.OH * p.OW;
    if (SH == 1 && SW == 1) {
      ring_strip(0u, inPlane, p.H, p.W, outPlane, p.OH, p.OW, PH, PW, ow0, &wk, b);
      continue;
    }
    let live = p.OW - ow0;
    for (var oh = 0; oh < p.OH; oh++) {
      var acc = vec4<f32>(b);
      for (var kh = 0; kh < KH; kh++) {
        let ih = oh * SH - PH + kh * DH;
        if (ih < 0 || ih >= p.H) { continue; }
        let rowBase = inPlane + ih * p.W;
        var row: array<f32, MAX_SPAN>;
        for (var t = 0; t < SPAN_IN; t++) { row[t] = x_a0(rowBase, iw0 + t, p.W); }
        for (var kw = 0; kw < KW; kw++) {
          let o = kw * DW;
          acc += vec4<f32>(row[o], row[SW + o], row[2 * SW + o], row[3 * SW + o]) * wk[kh * KW + kw];
        }
      }
      store_strip(0u, outPlane + oh * p.OW + ow0, live, acc);
    }
  }
}

@compute @workgroup_size(WG)
fn input_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let wTiles = u32((p.W + 3) / 4);
  for (var s = (wid.x + wid.y * nwg.x) * WG + lid; s < p.planes * wTiles; s += nwg.x * nwg.y * WG) {
    let plane = i32(s / wTiles);
    let iw0 = i32(s % wTiles) * 4;
    let c = plane % i32(p.C);
    let dyPlane = plane * p.OH * p.OW;
    let xPlane = plane * p.H * p.W;
    var wk: array<f32, MAX_TAPS>;
    if (SH == 1 && SW == 1) {
      // the forward correlation of dy with the flipped window
      for (var t = 0; t < KH * KW; t++) { wk[t] = a1[c * KH * KW + KH * KW - 1 - t]; }
      ring_strip(1u, dyPlane, p.OH, p.OW, xPlane, p.H, p.W, (KH - 1) * DH - PH, (KW - 1) * DW - PW, iw0, &wk, 0.0);
      continue;
    }
    for (var t = 0; t < KH * KW; t++) { wk[t] = a1[c * KH * KW + t]; }
    let live = p.W - iw0;
    for (var ih = 0; ih < p.H; ih++) {
      // dx[ih, iw] = sum over taps (kh, kw) with ih + PH - kh*DH = oh*SH and iw + PW - kw*DW = ow*SW
      var acc = vec4<f32>(0.0);
      for (var kh = 0; kh < KH; kh++) {
        let on = ih + PH - kh * DH;
        if (on < 0 || on % SH != 0 || on / SH >= p.OH) { continue; }
        let rowBase = dyPlane + (on / SH) * p.OW;
        if (SW == 1) {
          // the strip's 4 columns read dy columns o0 .. o0 + SPAN_DY - 1
          let o0 = iw0 + PW - (KW - 1) * DW;
          var row: array<f32, MAX_SPAN>;
          for (var t = 0; t < SPAN_DY; t++) { row[t] = load_a0(rowBase, o0 + t, p.OW); }
          for (var kw = 0; kw < KW; kw++) {
            let o = (KW - 1 - kw) * DW;
            acc += vec4<f32>(row[o], row[o + 1], row[o + 2], row[o + 3]) * wk[kh * KW + kw];
          }
        } else {
          for (var kw = 0; kw < KW; kw++) {
            let wv = wk[kh * KW + kw];
            for (var j = 0; j < 4; j++) {
              let col = iw0 + j + PW - kw * DW;
              let ok = col >= 0 && col % SW == 0;
              acc[j] += select(0.0, load_a0(rowBase, col / SW, p.OW), ok) * wv;
            }
          }
        }
      }
      store_strip(1u, xPlane + ih * p.W + iw0, live, acc);
    }
  }
}

/**
 * Weight-gradient sums of one stride-1 item: BAND output rows from oh0 of the 4-column strip at ow0.
 * Walks the input rows the band reads, each loaded once, with a ring of the RING latest dy rows
 * (vec4s): input row ih pairs with dy row ih + PH - kh*DH for tap row kh, which is ring slot
 * RING-1 - kh*DH after dy row ih + PH was pushed (rows outside the band stay zero).
 */
fn band_taps(plane: i32, oh0: i32, ow0: i32, acc: ptr<function, array<f32, MAX_TAPS>>) {
  let ohEnd = min(p.OH, oh0 + BAND);
  let dyPlane = plane * p.OH * p.OW;
  let iw0 = ow0 - PW;
  var dyr: array<vec4<f32>, MAX_RING>;
  for (var r = 0; r < RING; r++) { dyr[r] = vec4<f32>(0.0); }
  for (var ih = oh0 - PH; ih < ohEnd - PH + RING - 1; ih++) {
    for (var r = 0; r < RING - 1; r++) { dyr[r] = dyr[r + 1]; }
    let ohn = ih + PH;
    var d = vec4<f32>(0.0);
    if (ohn < ohEnd) { d = load4_a0(dyPlane + ohn * p.OW, ow0, p.OW); }
    dyr[RING - 1] = d;
    if (ih < 0 || ih >= p.H) { continue; }
    let rowBase = (plane * p.H + ih) * p.W;
    var row: array<f32, MAX_SPAN>;
    for (var t = 0; t < SPAN_IN; t++) { row[t] = x_a1(rowBase, iw0 + t, p.W); }
    for (var kh = 0; kh < KH; kh++) {
      let dv = dyr[RING - 1 - kh * DH];
      for (var kw = 0; kw < KW; kw++) {
        let o = kw * DW;
        (*acc)[kh * KW + kw] += dot(dv, vec4<f32>(row[o], row[o + 1], row[o + 2], row[o + 3]));
      }
    }
  }
}

/** One workgroup per (split, channel): its lanes stride over the split's (n, oh, 4-column strip)
 *  items, each adding dy * x over its strip into KH*KW private sums; a tree over the workgroup (fixed
 *  order) sums the lanes. */
@compute @workgroup_size(WG)
fn weight_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = &a2; // unused here; kept in the layout all entries share
  let split = wid.x;
  let c = wid.y;
  let wTiles = u32((p.OW + 3) / 4);
  let ring = SH == 1 && SW == 1;
  // items: (n, output row, strip), or at stride 1 (n, band of BAND output rows, strip)
  let rowsPerItem = select(1, BAND, ring);
  let rowItems = u32((p.OH + rowsPerItem - 1) / rowsPerItem) * wTiles;
  let items = p.N * rowItems;
  let per = (items + p.splits - 1u) / p.splits;
  let start = split * per;
  let end = min(items, start + per);
  var acc: array<f32, MAX_TAPS>;
  for (var t = 0; t < KH * KW; t++) { acc[t] = 0.0; }
  for (var it = start + lid; it < end; it += WG) {
    let n = it / rowItems;
    let r = it % rowItems;
    let ow0 = i32(r % wTiles) * 4;
    let plane = i32(n * p.C + c);
    if (ring) {
      band_taps(plane, i32(r / wTiles) * BAND, ow0, &acc);
      continue;
    }
    let oh = i32(r / wTiles);
    let dyRow = plane * p.OH * p.OW + oh * p.OW;
    let dy4 = load4_a0(dyRow, ow0, p.OW);
    let iw0 = ow0 * SW - PW;
    for (var kh = 0; kh < KH; kh++) {
      let ih = oh * SH - PH + kh * DH;
      if (ih < 0 || ih >= p.H) { continue; }
      let rowBase = (plane * p.H + ih) * p.W;
      var row: array<f32, MAX_SPAN>;
      for (var t = 0; t < SPAN_IN; t++) { row[t] = x_a1(rowBase, iw0 + t, p.W); }
      for (var kw = 0; kw < KW; kw++) {
        let o = kw * DW;
        acc[kh * KW + kw] += dot(dy4, vec4<f32>(row[o], row[SW + o], row[2 * SW + o], row[3 * SW + o]));
      }
    }
  }
  let taps = u32(KH * KW);
  for (var t = 0u; t < taps; t++) { red[t * WG + lid] = acc[t]; }
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      for (var t = 0u; t < taps; t++) { red[t * WG + lid] += red[t * WG + lid + half]; }
    }
  }
  if (lid == 0u) {
    let base = (split * p.C + c) * taps;
    for (var t = 0u; t < taps; t++) { out[base + t] = red[t * WG]; }
  }
}
