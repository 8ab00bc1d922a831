// 2-D average / max pooling forward over NCHW planes (PyTorch semantics, floor output size).
//   window of output (oh, ow): rows [oh*SH - PH, +KH), columns [ow*SW - PW, +KW), clipped to the image
//   avg: sum over the clipped window / divisor, where the divisor counts the window clipped to the
//        padded image when p.countIncludePad != 0, else only the real pixels
//   max: first maximum in row-major window order over real pixels (a NaN wins); 0 for an empty window
// One invocation computes 4 consecutive output columns of one output row. When the input columns
// those 4 windows read fit MAX_WIN registers they are loaded once per window row and shared (about
// 4.5 loads per output for 3x3 stride 1 instead of 9); loads, not arithmetic, are the cost here.
// The window geometry is override constants (loops unroll, the row window stays in registers);
// tensor sizes are uniforms. Entry `argmax` writes, instead of the maximum, its index within the input plane (-1 for an empty
// window) as f32 — the first pass of the max-pool backward.

struct Params { planes: u32, countIncludePad: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32;
override KW: i32;
override SH: i32;
override SW: i32;
override PH: i32;
override PW: i32;
override IS_MAX: bool = false;
override WG: u32 = 64u;

override WIN: i32 = 3 * SW + KW;
const MAX_WIN: i32 = 16;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn is_nan(v: f32) -> bool {
  // bit test: compilers may assume v != v is false
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

/** Result of the 4 windows: value (or argmax index) per output column. */
fn pool_tile(tileIndex: u32, wantIndex: bool) -> vec4<f32> {
  let owTiles = (p.OW + 3) / 4;
  let t = i32(tileIndex);
  let ow0 = (t % owTiles) * 4;
  let oh = (t / owTiles) % p.OH;
  let plane = t / (owTiles * p.OH);          // n*C + c
  let xBase = plane * p.H * p.W;
  let h0 = oh * SH - PH;

  var sum = vec4<f32>(0.0);
  var best = vec4<f32>(0.0);
  var arg = vec4<i32>(-1);
  for (var kh = 0; kh < KH; kh++) {
    let ih = h0 + kh;
    let rowOk = ih >= 0 && ih < p.H;
    let rowBase = xBase + clamp(ih, 0, p.H - 1) * p.W;
    var xs: array<f32, MAX_WIN>;
    if (WIN <= MAX_WIN) {
      for (var j = 0; j < WIN; j++) {
        let iw = ow0 * SW - PW + j;
        xs[j] = x[rowBase + clamp(iw, 0, p.W - 1)];
      }
    }
    for (var k = 0; k < 4; k++) {
      let w0 = (ow0 + k) * SW - PW;
      for (var kw = 0; kw < KW; kw++) {
        let iw = w0 + kw;
        var v: f32;
        if (WIN <= MAX_WIN) { v = xs[k * SW + kw]; } else { v = x[rowBase + clamp(iw, 0, p.W - 1)]; }
        let ok = rowOk && iw >= 0 && iw < p.W;
        if (IS_MAX) {
          let better = v > best[k] || (is_nan(v) && !is_nan(best[k])) || arg[k] < 0;
          if (ok && better) { best[k] = v; arg[k] = ih * p.W + iw; }
        } else {
          sum[k] += select(0.0, v, ok);
        }
      }
    }
  }
  var res: vec4<f32>;
  for (var k = 0; k < 4; k++) {
    if (IS_MAX) {
      if (wantIndex) { res[k] = f32(arg[k]); } else { res[k] = select(best[k], 0.0, arg[k] < 0); }
    } else {
      let w0 = (ow0 + k) * SW - PW;
      var cnt: i32;
      if (p.countIncludePad != 0u) {
        cnt = (min(h0 + KH, p.H + PH) - h0) * (min(w0 + KW, p.W + PW) - w0);
      } else {
        cnt = (min(h0 + KH, p.H) - max(h0, 0)) * (min(w0 + KW, p.W) - max(w0, 0));
      }
      res[k] = select(0.0, sum[k] / f32(cnt), cnt > 0);
    }
  }
  return res;
}

fn store_tile(tileIndex: u32, r: vec4<f32>) {
  let owTiles = (p.OW + 3) / 4;
  let t = i32(tileIndex);
  let ow0 = (t % owTiles) * 4;
  let rowStart = (t / owTiles) * p.OW + ow0;   // (plane*p.OH + oh)*p.OW + ow0
  for (var k = 0; k < 4; k++) {
    if (ow0 + k < p.OW) { y[rowStart + k] = r[k]; }
  }
}

fn tile_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// Grid-stride over the tiles: on GPUs the grid covers them, on CPU rasterisers a few hundred
// workgroups loop (each workgroup has a fixed cost there).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let count = p.planes * u32(p.OH * ((p.OW + 3) / 4));
  for (var tile = tile_of(wid, nwg, lid); tile < count; tile += nwg.x * nwg.y * WG) {
    store_tile(tile, pool_tile(tile, false));
  }
}

@compute @workgroup_size(WG)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
  let count = p.planes * u32(p.OH * ((p.OW + 3) / 4));
  for (var tile = tile_of(wid, nwg, lid); tile < count; tile += nwg.x * nwg.y * WG) {
    store_tile(tile, pool_tile(tile, true));
  }
}
