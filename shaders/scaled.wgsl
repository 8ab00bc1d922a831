// The two streaming kernels of a weighted sum's deferred gradient w[index]·dy (ops/fused.ts):
//   add_scaled_in_place   acc += w[index] * x    [rw0 acc, in1 x, in2 w, u3]  (gradient accumulation)
//   scale_by_element      out  = w[index] * x    [in0 x, in1 w, rw2 out, u3]  (made real)
// Written in V units (shader-variants.ts prepends V = vec4<f32> or f32 and VW): the host takes
// vec4s when the length allows, 4x fewer load instructions on CPU rasterisers. Grid-stride loops as
// in elementwise.wgsl; bindings share slots the same way (no entry point uses two variables of a slot).

override WG: u32 = 256;

struct Params {
  n: u32,       // length in V units
  index: u32,   // the element of w
}

@group(0) @binding(0) var<storage, read_write> rw0: array<V>;
@group(0) @binding(0) var<storage, read> inV0: array<V>;
@group(0) @binding(1) var<storage, read> inV1: array<V>;
@group(0) @binding(1) var<storage, read> inS1: array<f32>;
@group(0) @binding(2) var<storage, read> inS2: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<V>;
@group(0) @binding(3) var<uniform> u3: Params;

@compute @workgroup_size(WG)
fn add_scaled_in_place(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let a = inS2[u3.index];
  for (var i = gid.x + gid.y * (nwg.x * WG); i < u3.n; i += nwg.x * nwg.y * WG) {
    rw0[i] = rw0[i] + a * inV1[i];
  }
}

@compute @workgroup_size(WG)
fn scale_by_element(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let a = inS1[u3.index];
  for (var i = gid.x + gid.y * (nwg.x * WG); i < u3.n; i += nwg.x * nwg.y * WG) {
    rw2[i] = a * inV0[i];
  }
}
