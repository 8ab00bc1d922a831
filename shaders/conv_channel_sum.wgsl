// Per-channel sum of an NCHW tensor (the convolution bias gradient):
//   out[c] = sum over n < N, hw < HW of x[(n*C + c)*HW + hw]
// One workgroup per channel: each invocation adds a strided share of the N*HW values, then a tree
// reduction in workgroup memory (fixed order, so the result is deterministic).
struct Params { N: u32, C: u32, HW: u32 }
/** a power of two */
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  var s = 0.0;
  // walk (n, hw) for i = lid, lid + WG, ... without a division per step
  var n = lid / p.HW;
  var hw = lid % p.HW;
  for (var i = lid; i < p.N * p.HW; i += WG) {
    s += x[(n * p.C + c) * p.HW + hw];
    hw += WG % p.HW;
    n += WG / p.HW;
    if (hw >= p.HW) { hw -= p.HW; n += 1u; }
  }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[c] = red[0]; }
}
