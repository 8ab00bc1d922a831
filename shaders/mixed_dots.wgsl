// TEMPLATE, expanded per term count K by src/engine/webgpu/kernels/mixed.ts (see mixed_sum.wgsl).
//
// First pass of the architecture-weight gradient of a weighted sum (mixed_sum.wgsl): for each term,
//   partial[g * p.cols + p.col0 + k] = sum over the chunks of workgroup g of dy[i] * (x_k[i] * scale_k[c] + shift_k[c])
// one read of dy for all K terms. mixed_dots_final.wgsl adds the workgroups' partials in order
// (deterministic, no atomics). Lanes take VEC consecutive elements in a grid-stride loop, read as
// V units (shader-variants.ts prepends V = vec4<f32> or f32, VW its width, and hsum).
struct Params { chunks: u32, cpp: u32, C: u32, cols: u32, col0: u32 }

/** a power of two (tree reduction) */
override WG: u32 = 256u;
override VEC: u32 = 4u;

@group(0) @binding(0) var<storage, read> dy: array<V>;
//#each-term
@group(0) @binding({2*k+1}) var<storage, read> x{k}: array<V>;
@group(0) @binding({2*k+2}) var<storage, read> st{k}: array<f32>;
//#end
@group(0) @binding({2*K+1}) var<storage, read_write> partial: array<f32>;
@group(0) @binding({2*K+2}) var<uniform> p: Params;

var<workgroup> red: array<array<f32, {K}>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let stride = nwg.x * WG;
  let C = p.C;
//#each-term
  var acc{k} = 0.0;
//#end
  for (var i = gid.x; i < p.chunks; i += stride) {
    let c = (i / p.cpp) % C;
    let base = i * (VEC / VW);
    var sdy = V(0.0);
//#each-term
    var d{k} = V(0.0);
//#end
    for (var e = 0u; e < VEC / VW; e++) {
      let j = base + e;
      let g = dy[j];
      sdy += g;
//#each-term
      d{k} += g * x{k}[j];
//#end
    }
    // sum dy * (x * scale + shift) = scale * sum dy*x + shift * sum dy, per chunk (one channel)
//#each-term
    acc{k} += hsum(d{k}) * st{k}[2u * C + c] + hsum(sdy) * st{k}[3u * C + c];
//#end
  }
//#each-term
  red[lid][{k}] = acc{k};
//#end
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var k = 0u; k < {K}u; k++) { red[lid][k] += red[lid + half][k]; }
    }
    workgroupBarrier();
  }
  if (lid < {K}u) { partial[wid.x * p.cols + p.col0 + lid] = red[0][lid]; }
}
