// 2-D convolution forward and input gradient as one implicit-GEMM kernel, NCHW, weights
// [COUT, CIN/GROUPS, KH, KW]. Portable variant of conv2d_sg.wgsl (used without the `subgroups`
// feature): the two files differ only in how the weights reach the multiply-adds (marked WEIGHT
// FETCH); keep the rest identical.
//
//   forward      (BACKWARD_DATA = false): out = y  [N, COUT, OH, OW], in = x  [N, CIN, H, W]
//       y[n, co, oh, ow] = bias[co] + sum_{ci in group, kh, kw} x[n, ci, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW] w[co, ci, kh, kw]
//   input grad   (BACKWARD_DATA = true):  out = dx [N, CIN, H, W],  in = dy [N, COUT, OH, OW]
//       dx[n, ci, ih, iw] = sum_{co in group, kh, kw} dy[n, co, oh, ow] w[co, ci, kh, kw]
//       where oh*SH = ih + PH - kh*DH and ow*SW = iw + PW - kw*DW (terms with a remainder or out of range vanish)
//
// Register blocking: one invocation computes 4 consecutive output columns of one output row (a vec4)
// for TC output channels of one group. For stride-1 rows (and forward rows of any stride) the four
// columns share one window of input values, so each input value loaded feeds up to 4*KW*TC
// multiply-adds. Weights depend only on the workgroup, so every lane loads the same address (GPUs
// serve that as a broadcast; the subgroup variant is ~4x faster on CPU rasterisers such as lavapipe).
// Out-of-range invocations clamp their indices instead of branching, so loads stay in uniform control
// flow; only the final store is masked. The kernel window (size, stride, padding, dilation) and the
// channel block are override constants, so the tap loops unroll and the window stays in registers;
// tensor sizes are uniforms, so one pipeline serves every layer with the same window.
// The callers bind zeros for the bias when there is none.

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
/** output channels per invocation: 1, 2, 4 or 8, dividing the output channels per group */
override TC: u32 = 8u;
override WG: u32 = 64u;

/** input values 4 output columns read along a row (forward, or stride-1 backward) */
override WIN: i32 = select(3 * SW + (KW - 1) * DW + 1, 3 + (KW - 1) * DW + 1, BACKWARD_DATA);
override SHARED_WINDOW: bool = WIN <= MAX_WIN && (!BACKWARD_DATA || SW == 1);

const MAX_TC: u32 = 8u;
const MAX_WIN: i32 = 16;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

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
  return select(0.0, src[rowBase + clamp(col, 0, inW - 1)], ok);
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let s = shape();
  let tileIndex = (wid.x + wid.y * nwg.x) * WG + lid;
  let oc = wid.z * TC;                    // first output channel of the tile
  let owTiles = (s.outW + 3) / 4;
  let tiles = p.N * u32(s.outH * owTiles);
  let valid = tileIndex < tiles;
  let t = i32(min(tileIndex, tiles - 1u));
  let ow0 = (t % owTiles) * 4;
  let oh = (t / owTiles) % s.outH;
  let n = t / (owTiles * s.outH);
  let g = oc / s.outPerGroup;
  let oc0 = oc % s.outPerGroup;
  let plane = s.inH * s.inW;
  let inBase = (n * i32(s.inC) + i32(g * s.redPerGroup)) * plane;
  // first input column of the shared window
  let winStart = select(ow0 * SW - PW, ow0 + PW - (KW - 1) * DW, BACKWARD_DATA);

  var acc: array<vec4<f32>, MAX_TC>;
  if (!BACKWARD_DATA) {
    for (var c = 0u; c < TC; c++) { acc[c] = vec4<f32>(bias[oc + c]); }
  }

  for (var r = 0u; r < s.redPerGroup; r++) {
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
      if (SHARED_WINDOW) {
        for (var j = 0; j < WIN; j++) { xs[j] = in_at(rowBase, rowOk, winStart + j, s.inW); }
      }
      for (var kw = 0; kw < KW; kw++) {
        var xv: vec4<f32>;
        if (SHARED_WINDOW) {
          let o = select(kw * DW, (KW - 1 - kw) * DW, BACKWARD_DATA);
          xv = vec4<f32>(xs[o], xs[o + SW], xs[o + 2 * SW], xs[o + 3 * SW]);
        } else if (BACKWARD_DATA) {
          for (var k = 0; k < 4; k++) {
            let num = ow0 + k + PW - kw * DW;
            xv[k] = select(0.0, in_at(rowBase, rowOk, num / SW, s.inW), num >= 0 && num % SW == 0);
          }
        } else {
          let iw = ow0 * SW - PW + kw * DW;
          xv = vec4<f32>(in_at(rowBase, rowOk, iw, s.inW), in_at(rowBase, rowOk, iw + SW, s.inW),
                         in_at(rowBase, rowOk, iw + 2 * SW, s.inW), in_at(rowBase, rowOk, iw + 3 * SW, s.inW));
        }
        // WEIGHT FETCH: the same address in every lane
        for (var c = 0u; c < TC; c++) { acc[c] += xv * w[w_index(g, oc0, c, r, kh, kw)]; }
      }
    }
  }

  if (valid) {
    let outRow = ((n * i32(s.outC) + i32(oc)) * s.outH + oh) * s.outW + ow0;
    for (var c = 0u; c < TC; c++) {
      let base = outRow + i32(c) * s.outH * s.outW;
      for (var k = 0; k < 4; k++) {
        if (ow0 + k < s.outW) { dst[base + k] = acc[c][k]; }
      }
    }
  }
}
