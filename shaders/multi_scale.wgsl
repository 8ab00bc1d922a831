// TEMPLATE, expanded per tensor count K by src/engine/webgpu/kernels/multi.ts (see mixed_sum.wgsl
// for the template syntax). In place, several tensors at once: x_k *= f[p.findex] (gradient clipping:
// one launch per K tensors instead of one per tensor). Grid-stride loops.
struct Params { sizes: array<vec4<u32>, 4>, findex: u32 }

override WG: u32 = 64u;

//#each-term
@group(0) @binding({k}) var<storage, read_write> x{k}: array<f32>;
//#end
@group(0) @binding({K}) var<storage, read> f: array<f32>;
@group(0) @binding({K+1}) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  let s = f[p.findex];
//#each-term
  for (var i = gid.x; i < p.sizes[{k/4}][{k%4}]; i += stride) { x{k}[i] = x{k}[i] * s; }
//#end
}
