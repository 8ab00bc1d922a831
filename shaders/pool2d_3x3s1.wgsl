// 3x3 average pooling, stride 1, padding 1 (output the size of the input), W a multiple of 4: the
// avg_pool_3x3 of NB201 and DARTS, forward and backward. pool2d.wgsl and pool2d_backward_avg.wgsl
// serve every other geometry with the same semantics (divisor = the window clipped to the image, or
// 9 when p.countIncludePad != 0).
// One invocation owns a strip of 4 columns of one plane and walks down its rows with a sliding window
// of three row sums, so each input row is loaded once (one vec4 + one scalar each side) for 4 outputs,
// instead of three times; and the (plane, column) split costs two divisions per strip, not per row.
// On CPU rasterisers loads (and integer divisions) are the cost (see shader-variants.ts).
//   forward:  y[h, w]  = sum_{|dh|,|dw| <= 1} x[h + dh, w + dw] / (rows(h) * cols(w))
//   backward: dx[h, w] = sum_{|dh|,|dw| <= 1} dy[h + dh, w + dw] / (rows(h + dh) * cols(w + dw))
// with rows(h) = how many of h-1..h+1 lie in the image (3 when countIncludePad), likewise cols, and
// out-of-image terms 0. The input (x or dy) is bound twice: as vec4s and as scalars (read-only aliases).
// The backward writes dx = (p.accumulate != 0 ? dx : 0) + (p.scaled != 0 ? w[p.windex] : 1) * that:
// a weighted-sum input's deferred gradient w·dy, pooled and added into the gradient so far in one pass.

struct Params { planes: u32, countIncludePad: u32, accumulate: u32, scaled: u32, windex: u32, H: i32, W: i32 }

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> inV: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> inS: array<f32>;
@group(0) @binding(2) var<storage, read_write> outV: array<vec4<f32>>;
// forward: [inV, inS, outV, pf]; backward: [inV, inS, outV, w, pb] (no entry point uses both of a slot)
@group(0) @binding(3) var<uniform> pf: Params;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<uniform> pb: Params;

/** How many of c-1, c, c+1 lie in [0, n) (3 with the padded zeros counted). */
fn span(c: i32, n: i32, countIncludePad: u32) -> f32 {
  if (countIncludePad != 0u) { return 3.0; }
  return f32(min(c + 1, n - 1) - max(c - 1, 0) + 1);
}

/** span() of the four columns w0..w0+3. */
fn spans4(w0: i32, n: i32, countIncludePad: u32) -> vec4<f32> {
  return vec4<f32>(span(w0, n, countIncludePad), span(w0 + 1, n, countIncludePad),
                   span(w0 + 2, n, countIncludePad), span(w0 + 3, n, countIncludePad));
}

/** Horizontal 3-sums of row `row` at columns w0..w0+3, each input value first multiplied by `scale`
 *  at its own column (scale(w0-1), scale(w0..w0+3), scale(w0+4)); 0 for a row outside the image. */
fn row_sums(rowBase: i32, w0: i32, W: i32, ok: bool, sl: f32, sc: vec4<f32>, sr: f32) -> vec4<f32> {
  if (!ok) { return vec4<f32>(0.0); }
  let c = inV[(rowBase + w0) / 4] * sc;
  let l = select(0.0, inS[rowBase + max(w0 - 1, 0)], w0 > 0) * sl;
  let r = select(0.0, inS[rowBase + min(w0 + 4, W - 1)], w0 + 4 < W) * sr;
  let mid = c.y + c.z;
  return vec4<f32>(l + c.x + c.y, c.x + mid, mid + c.w, c.z + c.w + r);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let H = pf.H;
  let W = pf.W;
  let cip = pf.countIncludePad;
  let wTiles = u32(W / 4);
  for (var s = (wid.x + wid.y * nwg.x) * WG + lid; s < pf.planes * wTiles; s += nwg.x * nwg.y * WG) {
    let plane = i32(s / wTiles);
    let w0 = i32(s % wTiles) * 4;
    let cols = spans4(w0, W, cip);
    let one = vec4<f32>(1.0);
    let planeBase = plane * H * W;
    var prev = vec4<f32>(0.0);
    var cur = row_sums(planeBase, w0, W, true, 1.0, one, 1.0);
    for (var h = 0; h < H; h++) {
      let next = row_sums(planeBase + (h + 1) * W, w0, W, h + 1 < H, 1.0, one, 1.0);
      outV[(planeBase + h * W + w0) / 4] = (prev + cur + next) / (span(h, H, cip) * cols);
      prev = cur;
      cur = next;
    }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let H = pb.H;
  let W = pb.W;
  let cip = pb.countIncludePad;
  let k = select(1.0, w[pb.windex], pb.scaled != 0u);
  let wTiles = u32(W / 4);
  for (var s = (wid.x + wid.y * nwg.x) * WG + lid; s < pb.planes * wTiles; s += nwg.x * nwg.y * WG) {
    let plane = i32(s / wTiles);
    let w0 = i32(s % wTiles) * 4;
    // each dy value is divided by its own window's column count, then (per row) by its row count
    let sl = 1.0 / span(w0 - 1, W, cip);
    let sc = 1.0 / spans4(w0, W, cip);
    let sr = 1.0 / span(w0 + 4, W, cip);
    let planeBase = plane * H * W;
    var prev = vec4<f32>(0.0);
    var cur = row_sums(planeBase, w0, W, true, sl, sc, sr) / span(0, H, cip);
    for (var h = 0; h < H; h++) {
      let next = row_sums(planeBase + (h + 1) * W, w0, W, h + 1 < H, sl, sc, sr) / span(h + 1, H, cip);
      let at = (planeBase + h * W + w0) / 4;
      var v = k * (prev + cur + next);
      if (pb.accumulate != 0u) { v += outV[at]; }
      outV[at] = v;
      prev = cur;
      cur = next;
    }
  }
}
