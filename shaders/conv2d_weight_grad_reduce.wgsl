// Second pass of the split-K convolution weight gradient: dw[i] = sum_s part[s * size + i], summed in
// split order, so the result is deterministic.
struct Params { size: u32, splits: u32 }
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.size) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += part[k * p.size + i]; }
  dw[i] = s;
}
