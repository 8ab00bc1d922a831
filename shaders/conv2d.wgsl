//#if SUBGROUPS
enable subgroups;
//#endif
// 2-D convolution forward and input gradient as one implicit-GEMM kernel, NCHW, weights
// [COUT, CIN/GROUPS, KH, KW]. Compiled in two flavours (kernels/shader-variants.ts): SUBGROUPS where
// the device has the `subgroups` feature, and a portable one; they differ only in how the weights
// reach the multiply-adds (WEIGHT FETCH).
//
//   forward      (BACKWARD_DATA = false): out = y  [N, COUT, OH, OW], in = x  [N, CIN, H, W]
//       y[n, co, oh, ow] = bias[co] + sum_{ci in group, kh, kw} x[n, ci, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] w[co, ci, kh, kw]
//   input grad   (BACKWARD_DATA = true):  out = dx [N, CIN, H, W],  in = dy [N, COUT, OH, OW]
//       dx[n, ci, ih, iw] = sum_{co in group, kh, kw} dy[n, co, oh, ow] w[co, ci, kh, kw]
//       where oh*SH = ih + PH - kh*DH and ow*SW = iw + PW - kw*DW (terms with a remainder or out of range vanish)
//
// Register blocking: one invocation computes 4*CV consecutive output columns of one output row (CV
// vec4s) for TC output channels of one group. For stride-1 rows (and forward rows of any stride)
// those columns share one window of input values, so each input value loaded feeds up to
// 4*CV*KW*TC multiply-adds, and each weight fetched 4*CV. CV = 2 (8 columns) is ~20% faster than
// CV = 1 on lavapipe at every NB201 stage (measured); rows narrower than 8 use CV = 1.
// Weights depend only on the workgroup. SUBGROUPS: lane c of each subgroup loads the weight of
// output channel c (and 8 + c when TC = 16) and subgroupBroadcast hands them to every lane (needs
// subgroup size >= 8). On CPU rasterisers (lavapipe) a per-lane load costs about as much as a dozen
// multiply-adds and a "uniform" load is no cheaper, so this cuts the dominant cost ~4x. Portable:
// every lane loads the same address (GPUs serve that as a broadcast).
// Out-of-range invocations clamp their indices instead of branching, so loads stay in uniform control
// flow; only the final store is masked. The kernel window (size, stride, padding, dilation) and the
// channel block are override constants, so the tap loops unroll and the window stays in registers;
// tensor sizes are uniforms, so one pipeline serves every layer with the same window.
// The callers bind zeros for the bias when there is none.
//
// Fused ReLU (RELU_IN, the NB201 ReLU -> conv): forward reads max(x, 0) instead of x; the input
// gradient is masked on store, dx = convT(dy) * (x > 0), with the pre-ReLU input bound as `xmask`
// (callers bind a placeholder otherwise: the binding layout is the same in every mode).
// ACCUMULATE adds the result to dst (a gradient accumulated in place: no separate add pass).
//
// VEC_WINDOW (set by the host for stride-1, undilated "same" windows, KW = 2*PW + 1, over rows whose
// width is a multiple of 4: NB201's and DARTS's 3x3 and 1x1 convolutions, forward and input
// gradient): the window row is read as CV aligned vec4s plus PW scalars each side, 4 loads instead
// of 10 for 3x3 with CV = 2 (on CPU rasterisers every load is a per-lane gather). `srcV` is `src`
// bound a second time as vec4s.
//
// DENSE (a fully connected layer, ops/dense.ts through Backend.matmul): the geometry is 1x1 over
// one image of one row whose columns are the batch (N = 1, H = OH = 1, W = OW = batch), and both
// the tensor read and the one written are row-major [batch, channels] (channels-last) instead of
// NCHW: forward y[b, co] = bias[co] + sum_ci x[b, ci] w[co, ci]; input grad
// dx[b, ci] = sum_co dy[b, co] w[co, ci]. Everything else (blocking, weight fetch) is unchanged.
//
// PAIR (variant flag; kernels/conv-pair.ts): a convolution and a 1x1 partner (stride 1, no padding,
// same input, same output grid, no bias: NB201's conv_3x3 and conv_1x1 of one edge, both reading
// relu(x)) in one launch. The partner's value at an output position is the product of its weights
// with the input at that very position, a strip this kernel already knows how to load. PAIR_OUT
// (forward): the grid gets a second set of COUT/TC channel tiles that compute the partner's output
// into dst2 (weights w2). Otherwise (input gradient): the partner's dy (src2V) is one more reduction
// term of the same dx, dx = mask(convT(dy, w) + dy2 x w2^T), so dx is written once, not twice.
// Needs rows whose width is a multiple of 4 (the strips are read as vec4s).

struct Params { N: u32, CIN: u32, COUT: u32, GROUPS: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32;
override KW: i32;
override SH: i32;
override SW: i32;
override PH: i32;
override PW: i32;
override DH: i32;
override DW: i32;
override BACKWARD_DATA: bool = false;
/** fused ReLU on the input: forward reads max(x, 0); input gradient masked by xmask > 0 */
override RELU_IN: bool = false;
/** add the result to dst instead of overwriting it (gradient accumulation in the kernel) */
override ACCUMULATE: bool = false;
/** output channels per invocation: 1, 2, 4, 8 or 16, dividing the output channels per group */
override TC: u32 = 8u;
/** vec4 column groups per invocation: 1 to 4 (4*CV output columns) */
override CV: i32 = 1;
/** read the window as aligned vec4s (see the header); the host checks the geometry allows it */
override VEC_WINDOW: bool = false;
/** channels-last [batch, channels] tensors on a 1x1 geometry (see the header) */
override DENSE: bool = false;
override WG: u32 = 64u;

/** input values 4*CV output columns read along a row (forward, or stride-1 backward) */
override WIN: i32 = select((4 * CV - 1) * SW + (KW - 1) * DW + 1, 4 * CV - 1 + (KW - 1) * DW + 1, BACKWARD_DATA);
override SHARED_WINDOW: bool = WIN <= MAX_WIN && (!BACKWARD_DATA || SW == 1);

const MAX_TC: u32 = 16u;
const MAX_CV: i32 = 4;
const MAX_WIN: i32 = 24;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> srcV: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> xmask: array<f32>;
//#if PAIR
/** the 1x1 partner's weights [COUT, CIN] */
@group(0) @binding(5) var<storage, read> w2: array<f32>;
//#if PAIR_OUT
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
/** the partner's output */
@group(0) @binding(7) var<storage, read_write> dst2: array<f32>;
//#else
/** the partner's dy, as vec4s */
@group(0) @binding(6) var<storage, read> src2V: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dst: array<f32>;
//#endif
@group(0) @binding(8) var<uniform> p: Params;
//#else
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
//#endif

/** Sizes of the tensor produced ("out") and the one consumed ("in") in the current mode. */
struct Shape { outC: u32, outH: i32, outW: i32, inC: u32, inH: i32, inW: i32, outPerGroup: u32, redPerGroup: u32 }

fn shape() -> Shape {
  let cig = p.CIN / p.GROUPS;
  let cog = p.COUT / p.GROUPS;
  if (BACKWARD_DATA) { return Shape(p.CIN, p.H, p.W, p.COUT, p.OH, p.OW, cig, cog); }
  return Shape(p.COUT, p.OH, p.OW, p.CIN, p.H, p.W, cog, cig);
}

fn in_at(rowBase: i32, rowOk: bool, col: i32, inW: i32) -> f32 {
  let ok = rowOk && col >= 0 && col < inW;
  // DENSE: consecutive columns (batch rows) lie a row of channels apart
  let v = src[rowBase + clamp(col, 0, inW - 1) * select(1, i32(select(p.CIN, p.COUT, BACKWARD_DATA)), DENSE)];
  return select(0.0, select(v, max(v, 0.0), RELU_IN && !BACKWARD_DATA), ok);
}

/** Index of w[co, ci, kh, kw] for output channel offset c (within the tile) and reduction channel r
 *  (within the group); oc0 is the tile's first output channel within its group, g the group. */
fn w_index(g: u32, oc0: u32, c: u32, r: u32, kh: i32, kw: i32) -> i32 {
  let cig = p.CIN / p.GROUPS;
  let cog = p.COUT / p.GROUPS;
  let taps = KH * KW;
  if (BACKWARD_DATA) {
    return i32((g * cog + r) * cig + oc0 + c) * taps + kh * KW + kw;
  }
  return i32((g * cog + oc0 + c) * cig + r) * taps + kh * KW + kw;
}

//#if SUBGROUPS
/** The TC per-channel values of one tap in every lane: lane c holds channel c in `lo` and 8 + c in
 *  `hi` (TC = 16); subgroupBroadcast hands them to all. Called in uniform control flow. */
fn spread(lo: f32, hi: f32) -> array<f32, MAX_TC> {
  var wc: array<f32, MAX_TC>;
  wc[0] = subgroupBroadcast(lo, 0u);
  if (TC > 1u) { wc[1] = subgroupBroadcast(lo, 1u); }
  if (TC > 2u) { wc[2] = subgroupBroadcast(lo, 2u); wc[3] = subgroupBroadcast(lo, 3u); }
  if (TC > 4u) {
    wc[4] = subgroupBroadcast(lo, 4u); wc[5] = subgroupBroadcast(lo, 5u);
    wc[6] = subgroupBroadcast(lo, 6u); wc[7] = subgroupBroadcast(lo, 7u);
  }
  if (TC > 8u) {
    wc[8] = subgroupBroadcast(hi, 0u); wc[9] = subgroupBroadcast(hi, 1u);
    wc[10] = subgroupBroadcast(hi, 2u); wc[11] = subgroupBroadcast(hi, 3u);
    wc[12] = subgroupBroadcast(hi, 4u); wc[13] = subgroupBroadcast(hi, 5u);
    wc[14] = subgroupBroadcast(hi, 6u); wc[15] = subgroupBroadcast(hi, 7u);
  }
  return wc;
}
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
//#if SUBGROUPS
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
//#else
        @builtin(local_invocation_index) lid: u32) {
//#endif
  let s = shape();
  let tileIndex = (wid.x + wid.y * nwg.x) * WG + lid;
//#if PAIR_OUT
  // z tiles past the convolution's own compute the 1x1 partner's output (PAIR)
  let second = wid.z >= s.outC / TC;
  let oc = (wid.z % (s.outC / TC)) * TC;  // first output channel of the tile
//#else
  let second = false;
  let oc = wid.z * TC;                    // first output channel of the tile
//#endif
  let owTiles = (s.outW + 4 * CV - 1) / (4 * CV);
  let tiles = p.N * u32(s.outH * owTiles);
  let valid = tileIndex < tiles;
  let t = i32(min(tileIndex, tiles - 1u));
  let ow0 = (t % owTiles) * 4 * CV;
  let oh = (t / owTiles) % s.outH;
  let n = t / (owTiles * s.outH);
  let g = oc / s.outPerGroup;
  let oc0 = oc % s.outPerGroup;
  let plane = select(s.inH * s.inW, 1, DENSE);
  let inBase = (n * i32(s.inC) + i32(g * s.redPerGroup)) * plane;
  // first input column of the shared window
  let winStart = select(ow0 * SW - PW, ow0 + PW - (KW - 1) * DW, BACKWARD_DATA);

  // acc[c * MAX_CV + v]: output channel oc + c, columns ow0 + 4v .. ow0 + 4v + 3
  var acc: array<vec4<f32>, MAX_TC * u32(MAX_CV)>;
  if (!BACKWARD_DATA) {
    for (var c = 0u; c < TC; c++) {
      for (var v = 0; v < CV; v++) { acc[c * u32(MAX_CV) + u32(v)] = vec4<f32>(bias[oc + c]); }
    }
  }

  for (var r = 0u; r < select(s.redPerGroup, 0u, second); r++) {
    let inC = inBase + i32(r) * plane;
    for (var kh = 0; kh < KH; kh++) {
      var ih: i32;
      var rowOk: bool;
      if (BACKWARD_DATA) {
        let num = oh + PH - kh * DH;
        ih = num / SH;
        rowOk = num >= 0 && num % SH == 0 && ih < s.inH;
      } else {
        ih = oh * SH - PH + kh * DH;
        rowOk = ih >= 0 && ih < s.inH;
      }
      let rowBase = inC + clamp(ih, 0, s.inH - 1) * s.inW;
      var xs: array<f32, MAX_WIN>;
      if (SHARED_WINDOW && VEC_WINDOW) {
        // winStart = ow0 - PW; ow0 and the row starts are multiples of 4, so the CV vec4s are aligned
        for (var v = 0; v < CV; v++) {
          let col = ow0 + 4 * v;
          var q = select(vec4<f32>(0.0), srcV[(rowBase + min(col, s.inW - 4)) / 4], rowOk && col < s.inW);
          if (RELU_IN && !BACKWARD_DATA) { q = max(q, vec4<f32>(0.0)); }
          xs[PW + 4 * v] = q.x;
          xs[PW + 4 * v + 1] = q.y;
          xs[PW + 4 * v + 2] = q.z;
          xs[PW + 4 * v + 3] = q.w;
        }
        for (var j = 0; j < PW; j++) {
          xs[j] = in_at(rowBase, rowOk, winStart + j, s.inW);
          xs[PW + 4 * CV + j] = in_at(rowBase, rowOk, ow0 + 4 * CV + j, s.inW);
        }
      } else if (SHARED_WINDOW) {
        for (var j = 0; j < WIN; j++) { xs[j] = in_at(rowBase, rowOk, winStart + j, s.inW); }
      }
      for (var kw = 0; kw < KW; kw++) {
        // xv[v]: the inputs of columns ow0 + 4v .. + 3 for this tap
        var xv: array<vec4<f32>, MAX_CV>;
        for (var v = 0; v < CV; v++) {
          let c0 = 4 * v;
          if (SHARED_WINDOW) {
            let o = select(kw * DW, (KW - 1 - kw) * DW, BACKWARD_DATA) + c0 * SW;
            xv[v] = vec4<f32>(xs[o], xs[o + SW], xs[o + 2 * SW], xs[o + 3 * SW]);
          } else if (BACKWARD_DATA) {
            for (var k = 0; k < 4; k++) {
              let num = ow0 + c0 + k + PW - kw * DW;
              xv[v][k] = select(0.0, in_at(rowBase, rowOk, num / SW, s.inW), num >= 0 && num % SW == 0);
            }
          } else {
            let iw = (ow0 + c0) * SW - PW + kw * DW;
            xv[v] = vec4<f32>(in_at(rowBase, rowOk, iw, s.inW), in_at(rowBase, rowOk, iw + SW, s.inW),
                              in_at(rowBase, rowOk, iw + 2 * SW, s.inW), in_at(rowBase, rowOk, iw + 3 * SW, s.inW));
          }
        }
        // WEIGHT FETCH: every lane gets the TC weights of this tap
        var wc: array<f32, MAX_TC>;
//#if SUBGROUPS
        // lane c loads the weight of output channel c (and 8 + c)
        let wl = w[w_index(g, oc0, min(lane, TC - 1u), r, kh, kw)];
        var wh = 0.0;
        if (TC > 8u) { wh = w[w_index(g, oc0, min(lane + 8u, TC - 1u), r, kh, kw)]; }
        wc = spread(wl, wh);
//#else
        for (var c = 0u; c < TC; c++) { wc[c] = w[w_index(g, oc0, c, r, kh, kw)]; }
//#endif
        for (var c = 0u; c < TC; c++) {
          for (var v = 0; v < CV; v++) { acc[c * u32(MAX_CV) + u32(v)] += xv[v] * wc[c]; }
        }
      }
    }
  }

//#if PAIR
  // the 1x1 partner: its input strip is row oh, columns ow0 .. ow0 + 4*CV - 1 of each reduction
  // channel (forward: x, second tiles only; input gradient: dy2, every tile, into the same sums)
  if (BACKWARD_DATA || second) {
    let rowV = (n * i32(s.inC) * s.inH * s.inW + oh * s.inW + ow0) / 4;
    let planeV = s.inH * s.inW / 4;
    for (var r = 0u; r < s.redPerGroup; r++) {
      var xv: array<vec4<f32>, MAX_CV>;
      for (var v = 0; v < CV; v++) {
        let at = rowV + i32(r) * planeV + min(v, (s.inW - ow0) / 4 - 1);
        let ok = ow0 + 4 * v < s.inW;
//#if PAIR_OUT
        var q = srcV[at];
        if (RELU_IN) { q = max(q, vec4<f32>(0.0)); }
        xv[v] = select(vec4<f32>(0.0), q, ok);
//#else
        xv[v] = select(vec4<f32>(0.0), src2V[at], ok);
//#endif
      }
      // w2[co, ci]: forward co = oc + c, ci = r; input gradient co = r, ci = oc + c
      var wc: array<f32, MAX_TC>;
//#if SUBGROUPS
      let cl = oc + min(lane, TC - 1u);
      let wl = w2[select(cl * p.CIN + r, r * p.CIN + cl, BACKWARD_DATA)];
      var wh = 0.0;
      if (TC > 8u) {
        let ch = oc + min(lane + 8u, TC - 1u);
        wh = w2[select(ch * p.CIN + r, r * p.CIN + ch, BACKWARD_DATA)];
      }
      wc = spread(wl, wh);
//#else
      for (var c = 0u; c < TC; c++) { wc[c] = w2[select((oc + c) * p.CIN + r, r * p.CIN + oc + c, BACKWARD_DATA)]; }
//#endif
      for (var c = 0u; c < TC; c++) {
        for (var v = 0; v < CV; v++) { acc[c * u32(MAX_CV) + u32(v)] += xv[v] * wc[c]; }
      }
    }
  }
//#endif

  if (valid) {
    let outRow = ((n * i32(s.outC) + i32(oc)) * s.outH + oh) * s.outW + ow0;
    for (var c = 0u; c < TC; c++) {
      let base = outRow + i32(c) * s.outH * s.outW;
      // DENSE: out[b, oc + c] with b = ow0 + col
      let denseBase = ow0 * i32(s.outC) + i32(oc + c);
      for (var v = 0; v < CV; v++) {
        for (var k = 0; k < 4; k++) {
          let col = 4 * v + k;
          if (ow0 + col < s.outW) {
            var o = acc[c * u32(MAX_CV) + u32(v)][k];
            let at = select(base + col, denseBase + col * i32(s.outC), DENSE);
            if (RELU_IN && BACKWARD_DATA) { o = select(0.0, o, xmask[at] > 0.0); }
            if (ACCUMULATE) { o += dst[at]; }
//#if PAIR_OUT
            if (second) { dst2[at] = o; } else { dst[at] = o; }
//#else
            dst[at] = o;
//#endif
          }
        }
      }
    }
  }
}
