// TEMPLATE, expanded per tensor count K by src/engine/webgpu/kernels/multi.ts (see mixed_sum.wgsl
// for the template syntax). First pass of the sum of squares over several tensors at once (gradient
// clipping over all parameters: one launch per K tensors instead of one per tensor):
//   partial[g * p.stride + p.col0 + k] = sum over the grid-stride slice of workgroup g of x_k[i]^2
// The caller adds all partials (reduce.wgsl `sum`).
struct Params { sizes: array<vec4<u32>, 4>, col0: u32, stride: u32 }

/** a power of two (tree reduction) */
override WG: u32 = 64u;

//#each-term
@group(0) @binding({k}) var<storage, read> x{k}: array<f32>;
//#end
@group(0) @binding({K}) var<storage, read_write> partial: array<f32>;
@group(0) @binding({K+1}) var<uniform> p: Params;

var<workgroup> red: array<array<f32, {K}>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let stride = nwg.x * WG;
//#each-term
  var a{k} = 0.0;
  for (var i = gid.x; i < p.sizes[{k/4}][{k%4}]; i += stride) { let v = x{k}[i]; a{k} += v * v; }
  red[lid][{k}] = a{k};
//#end
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var k = 0u; k < {K}u; k++) { red[lid][k] += red[lid + half][k]; }
    }
    workgroupBarrier();
  }
  if (lid < {K}u) { partial[wid.x * p.stride + p.col0 + lid] = red[0][lid]; }
}
