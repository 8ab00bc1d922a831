//#if SUBGROUPS
enable subgroups;
//#endif
// Weight gradient of a 2-D convolution, NCHW, split over the reduction (split-K, first pass):
//   dw[co, ci, kh, kw] = sum_{n, oh, ow} dy[n, co, oh, ow] * x[n, g*CIG + ci, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]
// The N*OH output rows are cut into SPLITS contiguous ranges; split s writes its partial sums to
// part[s * COUT*CIG*KH*KW + dwIndex] (or straight into dw when SPLITS == 1) and
// multi_split_sum.wgsl (kernels/split-sum.ts) adds the splits in a fixed order: deterministic, no atomics.
// Compiled in two flavours (kernels/shader-variants.ts): SUBGROUPS where the device has the
// `subgroups` feature (and 8+ output channels per group), and a portable one; they differ only in how
// the input window reaches the lanes (WINDOW FETCH).
//
// Mapping: a workgroup is one (split, block of TCI input channels, block of KHB kernel rows) and
// its WG lanes are WG consecutive output channels of one group, so every lane needs the same input
// values. Each invocation walks its rows in chunks of 4 output columns: it loads its own dy (a
// vec4) and the shared input window once per (ci, kh), and does TCI*KHB*KW*4 multiply-adds into
// registers. SUBGROUPS: lanes 0..7 of each subgroup load the window, subgroupBroadcast hands it to
// all (needs subgroup size >= 8 and WG >= 8): on CPU rasterisers per-lane loads dominate the cost.
// Portable: every lane loads the same window addresses (a broadcast on GPUs).
// Stride 1 with all kernel rows in one invocation (KHB == KH): the lanes walk the input rows of their
// split image by image and keep a ring of the RING = (KH-1)*DH+1 latest dy rows (vec4s per 4-column
// strip), so each input window row is fetched once for all KH kernel rows it meets (it pairs with dy
// row ih + PH - kh*DH for kernel row kh), not once per (dy row, kernel row): KH times fewer window
// fetches (subgroup broadcasts) for the same multiply-adds.
// PAIR (variant flag; kernels/conv-pair.ts): also the weight gradient of a 1x1 partner (stride 1, no
// padding, same input x and output grid, its own dy2), written to part2 with the same splits:
// dw2[co, ci] = sum dy2[n, co, oh, ow] * x[n, ci, oh, ow] meets every input row the ring walk
// fetches, at the window's centre columns, so it costs one dy2 strip per row and TCI dot products.
// Only on the ring path (the host checks the plan).
// The kernel window and the blocking are override constants (the tap loops unroll, the window and
// accumulators stay in registers); tensor sizes are uniforms, shared by all layers with that window.

struct Params { N: u32, CIN: u32, COUT: u32, GROUPS: u32, SPLITS: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32;
override KW: i32;
override SH: i32;
override SW: i32;
override PH: i32;
override PW: i32;
override DH: i32;
override DW: i32;
/** input channels per invocation (divides CIN / GROUPS) */
override TCI: u32 = 1u;
/** kernel rows per invocation: KH, or 1 when TCI*KH*KW would not fit MAX_ACC */
override KHB: i32 = 1;
/** fused ReLU on the input: the weight gradient of a conv that reads max(x, 0) */
override RELU_IN: bool = false;
/** lanes = output channels per workgroup (divides COUT / GROUPS) */
override WG: u32 = 16u;

/** input columns read by 4 consecutive output columns for all kw */
override WIN: i32 = 3 * SW + (KW - 1) * DW + 1;
/** the kernel's rows, dilation included: the dy rows one input row meets at stride 1 */
override RING: i32 = (KH - 1) * DH + 1;

const MAX_ACC: u32 = 64u;
const MAX_WIN: i32 = 16;
const MAX_RING: i32 = 16;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
//#if PAIR
@group(0) @binding(3) var<storage, read> dy2: array<f32>;
@group(0) @binding(4) var<storage, read_write> part2: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

/** dy2[dyRow + ow0 .. ow0 + 3] (0 past the row's end). */
fn dy2_strip(dyRow: i32, ow0: i32) -> vec4<f32> {
  var d: vec4<f32>;
  for (var k = 0; k < 4; k++) { d[k] = select(0.0, dy2[dyRow + min(ow0 + k, p.OW - 1)], ow0 + k < p.OW); }
  return d;
}
//#else
@group(0) @binding(3) var<uniform> p: Params;
//#endif

fn x_at(rowBase: i32, rowOk: bool, col: i32) -> f32 {
  let ok = rowOk && col >= 0 && col < p.W;
  let v = x[rowBase + clamp(col, 0, p.W - 1)];
  return select(0.0, select(v, max(v, 0.0), RELU_IN), ok);
}

/** The WIN input columns from winStart of one row, in every lane (WINDOW FETCH). SUBGROUPS: lane j
 *  (< 8) loads column j (and 8 + j) and subgroupBroadcast hands them to all; portable: every lane
 *  loads them. Called in uniform control flow. */
fn fetch_window(rowBase: i32, rowOk: bool, winStart: i32, lane: u32) -> array<f32, MAX_WIN> {
  var xs: array<f32, MAX_WIN>;
//#if SUBGROUPS
  let lo = x_at(rowBase, rowOk, winStart + i32(min(lane, 7u)));
  xs[0] = subgroupBroadcast(lo, 0u); xs[1] = subgroupBroadcast(lo, 1u);
  xs[2] = subgroupBroadcast(lo, 2u); xs[3] = subgroupBroadcast(lo, 3u);
  if (WIN > 4) { xs[4] = subgroupBroadcast(lo, 4u); xs[5] = subgroupBroadcast(lo, 5u);
                 xs[6] = subgroupBroadcast(lo, 6u); xs[7] = subgroupBroadcast(lo, 7u); }
  if (WIN > 8) {
    let hi = x_at(rowBase, rowOk, winStart + 8 + i32(min(lane, 7u)));
    xs[8] = subgroupBroadcast(hi, 0u); xs[9] = subgroupBroadcast(hi, 1u);
    xs[10] = subgroupBroadcast(hi, 2u); xs[11] = subgroupBroadcast(hi, 3u);
    xs[12] = subgroupBroadcast(hi, 4u); xs[13] = subgroupBroadcast(hi, 5u);
    xs[14] = subgroupBroadcast(hi, 6u); xs[15] = subgroupBroadcast(hi, 7u);
  }
//#else
  _ = lane;
  for (var j = 0; j < WIN; j++) { xs[j] = x_at(rowBase, rowOk, winStart + j); }
//#endif
  return xs;
}

/** dy[dyRow + ow0 .. ow0 + 3] (0 past the row's end). */
fn dy_strip(dyRow: i32, ow0: i32) -> vec4<f32> {
  var d: vec4<f32>;
  for (var k = 0; k < 4; k++) { d[k] = select(0.0, dy[dyRow + min(ow0 + k, p.OW - 1)], ow0 + k < p.OW); }
  return d;
}

@compute @workgroup_size(WG)
//#if SUBGROUPS
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
//#else
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = 0u;
//#endif
  let H = p.H;
  let W = p.W;
  let OH = p.OH;
  let OW = p.OW;
  let CIG = p.CIN / p.GROUPS;
  let COG = p.COUT / p.GROUPS;
  let rows = p.N * u32(OH);
  let rowsPerSplit = (rows + p.SPLITS - 1u) / p.SPLITS;
  let split = wid.x;
  let khBlocks = u32(KH / KHB);
  let ciBlock = wid.y / khBlocks;
  let kh0 = i32(wid.y % khBlocks) * KHB;
  let co = wid.z * WG + lid;
  let g = co / COG;
  let ci0 = ciBlock * TCI;              // within the group
  let owTiles = (OW + 3) / 4;
  let rowBegin = split * rowsPerSplit;
  let rowEnd = min(rowBegin + rowsPerSplit, rows);

  var acc: array<f32, MAX_ACC>;
//#if PAIR
  var acc2: array<f32, 16>;               // the partner's dw2[co, ci0 + c] (TCI <= 16)
//#endif
  if (SH == 1 && KHB == KH && WIN <= MAX_WIN && RING <= MAX_RING) {
    // the split's rows, image by image, each strip walking the input rows with a ring of dy rows
    var row = rowBegin;
    while (row < rowEnd) {
      let n = i32(row / u32(OH));
      let oh0 = i32(row % u32(OH));
      let ohEnd = min(OH, oh0 + i32(rowEnd - row));
      let dyImage = (n * i32(p.COUT) + i32(co)) * OH * OW;
      let xImage = (n * i32(p.CIN) + i32(g * CIG + ci0)) * H * W;
      for (var t = 0; t < owTiles; t++) {
        let ow0 = t * 4;
        let winStart = ow0 * SW - PW;
        var ring: array<vec4<f32>, MAX_RING>;
        for (var ih = oh0 - PH; ih < ohEnd - PH + RING - 1; ih++) {
          // push dy row ih + PH: ring slot RING-1-kh*DH then holds dy row ih + PH - kh*DH
          for (var r = 0; r < RING - 1; r++) { ring[r] = ring[r + 1]; }
          let ohn = ih + PH;
          ring[RING - 1] = select(vec4<f32>(0.0), dy_strip(dyImage + min(ohn, OH - 1) * OW, ow0), ohn < ohEnd);
          if (ih < 0 || ih >= H) { continue; }
//#if PAIR
          // the partner's output row ih, when it is one of this split's rows
          let mine = ih >= oh0 && ih < ohEnd;
          let d2 = select(vec4<f32>(0.0), dy2_strip(dyImage + min(ih, OH - 1) * OW, ow0), mine);
//#endif
          for (var c = 0u; c < TCI; c++) {
            let xs = fetch_window(xImage + i32(c) * H * W + ih * W, true, winStart, lane);
//#if PAIR
            acc2[c] += dot(d2, vec4<f32>(xs[PW], xs[PW + 1], xs[PW + 2], xs[PW + 3]));
//#endif
            for (var kh = 0; kh < KH; kh++) {
              let d = ring[RING - 1 - kh * DH];
              for (var kw = 0; kw < KW; kw++) {
                let o = kw * DW;
                let xv = vec4<f32>(xs[o], xs[o + SW], xs[o + 2 * SW], xs[o + 3 * SW]);
                acc[(c * u32(KH) + u32(kh)) * u32(KW) + u32(kw)] += dot(d, xv);
              }
            }
          }
        }
      }
      row += u32(ohEnd - oh0);
    }
  } else {
    for (var row = rowBegin; row < rowEnd; row++) {
      let n = i32(row / u32(OH));
      let oh = i32(row % u32(OH));
      let dyRow = ((n * i32(p.COUT) + i32(co)) * OH + oh) * OW;
      let xImage = (n * i32(p.CIN) + i32(g * CIG + ci0)) * H * W;
      for (var t = 0; t < owTiles; t++) {
        let ow0 = t * 4;
        let d = dy_strip(dyRow, ow0);
        let winStart = ow0 * SW - PW;
        for (var c = 0u; c < TCI; c++) {
          for (var khl = 0; khl < KHB; khl++) {
            let ih = oh * SH - PH + (kh0 + khl) * DH;
            let rowOk = ih >= 0 && ih < H;
            let rowBase = xImage + i32(c) * H * W + clamp(ih, 0, H - 1) * W;
            if (WIN <= MAX_WIN) {
              let xs = fetch_window(rowBase, rowOk, winStart, lane);
              for (var kw = 0; kw < KW; kw++) {
                let o = kw * DW;
                let xv = vec4<f32>(xs[o], xs[o + SW], xs[o + 2 * SW], xs[o + 3 * SW]);
                acc[(c * u32(KHB) + u32(khl)) * u32(KW) + u32(kw)] += dot(d, xv);
              }
            } else {
              // window too wide for registers (very large kernels): four loads per tap
              for (var kw = 0; kw < KW; kw++) {
                let iw = winStart + kw * DW;
                let xv = vec4<f32>(x_at(rowBase, rowOk, iw), x_at(rowBase, rowOk, iw + SW),
                                   x_at(rowBase, rowOk, iw + 2 * SW), x_at(rowBase, rowOk, iw + 3 * SW));
                acc[(c * u32(KHB) + u32(khl)) * u32(KW) + u32(kw)] += dot(d, xv);
              }
            }
          }
        }
      }
    }
  }

  let dwSize = p.COUT * CIG * u32(KH * KW);
  for (var c = 0u; c < TCI; c++) {
    for (var khl = 0; khl < KHB; khl++) {
      for (var kw = 0; kw < KW; kw++) {
        let dwIndex = ((co * CIG + ci0 + c) * u32(KH) + u32(kh0 + khl)) * u32(KW) + u32(kw);
        part[split * dwSize + dwIndex] = acc[(c * u32(KHB) + u32(khl)) * u32(KW) + u32(kw)];
      }
    }
  }
//#if PAIR
  let dw2Size = p.COUT * CIG;
  for (var c = 0u; c < TCI; c++) { part2[split * dw2Size + co * CIG + ci0 + c] = acc2[c]; }
//#endif
}
