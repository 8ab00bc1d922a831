// Global average pooling over the HW values of each of NC planes, and its backward.
//   forward:  y[p] = (sum over i < HW of x[p*HW + i]) / HW          (one invocation per plane)
//   backward: dx[p*HW + i] = dy[p] / HW                              (one invocation per value)
struct Params { NC: u32, HW: u32 }
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = linear_index(gid, nwg);
  if (plane >= p.NC) { return; }
  var s = 0.0;
  for (var i = 0u; i < p.HW; i++) { s += src[plane * p.HW + i]; }
  dst[plane] = s / f32(p.HW);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_index(gid, nwg);
  if (i >= p.NC * p.HW) { return; }
  dst[i] = src[i / p.HW] / f32(p.HW);
}
