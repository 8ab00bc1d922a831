// Backward of max pooling (pool2d.wgsl with IS_MAX), as a gather over the windows that contain each
// input pixel (no atomics):
//   dx[ih, iw] = sum over windows whose argmax (pool2d.wgsl's `argmax` entry, in argIdx) is (ih, iw) of dy
// Window (oh, ow) contains input row ih when ih = oh*SH - PH + kh for a kh in [0, KH), likewise for
// columns. One invocation computes 4 consecutive input columns of one input row. Window geometry is
// override constants, tensor sizes uniforms.

struct Params { planes: u32, countIncludePad: u32, H: i32, W: i32, OH: i32, OW: i32 }

override KH: i32;
override KW: i32;
override SH: i32;
override SW: i32;
override PH: i32;
override PW: i32;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read> argIdx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

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
    for (var k = 0; k < 4; k++) {
      let here = f32(tl.ih * p.W + tl.iw0 + k);
      for (var kw = 0; kw < KW; kw++) {
        let numw = tl.iw0 + k + PW - kw;
        let ow = numw / SW;
        let i = rowBase + clamp(ow, 0, p.OW - 1);
        let ok = rowOk && numw >= 0 && numw % SW == 0 && ow < p.OW && argIdx[i] == here;
        acc[k] += select(0.0, dy[i], ok);
      }
    }
  }
  let outRow = (tl.plane * p.H + tl.ih) * p.W + tl.iw0;
  for (var k = 0; k < 4; k++) {
    if (tl.iw0 + k < p.W) { dx[outRow + k] = acc[k]; }
  }
}
