// Backward of average pooling (pool2d.wgsl), as a gather over the windows that contain each input
// pixel (no atomics):
//   dx[ih, iw] = sum over windows (oh, ow) containing (ih, iw) of dy[oh, ow] / divisor(oh, ow)
// Window (oh, ow) contains input row ih when ih = oh*SH - PH + kh for a kh in [0, KH), likewise for
// columns. One invocation computes 4 consecutive input columns of one input row; for stride-1 columns
// the dy values of a window row are loaded once and shared by the 4 columns. Window geometry is
// override constants, tensor sizes uniforms.

struct Params { planes: u32, countIncludePad: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32;
override KW: i32;
override SH: i32;
override SW: i32;
override PH: i32;
override PW: i32;
override WG: u32 = 64u;

const MAX_WIN: i32 = 16;
override SHARED_ROW: bool = SW == 1 && KW + 3 <= MAX_WIN;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

/** Divisor of window (oh, ow), as in pool2d.wgsl. */
fn divisor(oh: i32, ow: i32) -> f32 {
  let h0 = oh * SH - PH;
  let w0 = ow * SW - PW;
  var cnt: i32;
  if (p.countIncludePad != 0u) {
    cnt = (min(h0 + KH, p.H + PH) - h0) * (min(w0 + KW, p.W + PW) - w0);
  } else {
    cnt = (min(h0 + KH, p.H) - max(h0, 0)) * (min(w0 + KW, p.W) - max(w0, 0));
  }
  return f32(max(cnt, 1));
}

struct Tile { plane: i32, ih: i32, iw0: i32 }

fn tile_at(index: u32) -> Tile {
  let iwTiles = (p.W + 3) / 4;
  let t = i32(index);
  return Tile(t / (iwTiles * p.H), (t / iwTiles) % p.H, (t % iwTiles) * 4);
}

fn tile_count() -> u32 {
  return p.planes * u32(p.H * ((p.W + 3) / 4));
}

// Grid-stride over the tiles (few workgroups on CPU rasterisers, a full grid on GPUs).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  for (var t = (wid.x + wid.y * nwg.x) * WG + lid; t < tile_count(); t += nwg.x * nwg.y * WG) { backward_tile(t); }
}

fn backward_tile(index: u32) {
  let tl = tile_at(index);
  let dyBase = tl.plane * p.OH * p.OW;
  var acc = vec4<f32>(0.0);
  for (var kh = 0; kh < KH; kh++) {
    let num = tl.ih + PH - kh;
    let oh = num / SH;
    let rowOk = num >= 0 && num % SH == 0 && oh < p.OH;
    let rowBase = dyBase + clamp(oh, 0, p.OH - 1) * p.OW;
    if (SHARED_ROW) {
      // window columns ow = iw0 + PW - (KW-1) + j, j < KW + 3; column iw0+k reads j in [k, k+KW)
      var ws: array<f32, MAX_WIN>;
      for (var j = 0; j < KW + 3; j++) {
        let ow = tl.iw0 + PW - (KW - 1) + j;
        let ok = rowOk && ow >= 0 && ow < p.OW;
        ws[j] = select(0.0, dy[rowBase + clamp(ow, 0, p.OW - 1)] / divisor(oh, ow), ok);
      }
      for (var k = 0; k < 4; k++) {
        for (var kw = 0; kw < KW; kw++) { acc[k] += ws[k + kw]; }
      }
    } else {
      for (var k = 0; k < 4; k++) {
        for (var kw = 0; kw < KW; kw++) {
          let numw = tl.iw0 + k + PW - kw;
          let ow = numw / SW;
          let ok = rowOk && numw >= 0 && numw % SW == 0 && ow < p.OW;
          acc[k] += select(0.0, dy[rowBase + clamp(ow, 0, p.OW - 1)] / divisor(oh, ow), ok);
        }
      }
    }
  }
  let outRow = (tl.plane * p.H + tl.ih) * p.W + tl.iw0;
  for (var k = 0; k < 4; k++) {
    if (tl.iw0 + k < p.W) { dx[outRow + k] = acc[k]; }
  }
}

