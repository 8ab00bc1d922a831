// TEMPLATE, expanded per term count K by src/engine/webgpu/kernels/mixed.ts (lines between
// `//#each-term` and `//#end` repeat for k = 0..K-1; `{expr}` is an integer expression of k and K).
//
// The weighted sum of an NB201 node (or a DARTS mixed edge), with batch-norm apply on read:
//   out[i] = (p.acc != 0 ? out[i] : 0) + sum_k w[widx_k] * (x_k[i] * st_k[2C + c] + st_k[3C + c])
// for NCHW tensors, c = channel of element i. st_k is the [mean, invstd, scale, shift] block
// (4 x C floats) that batchnorm_stats.wgsl writes; a plain term binds an identity block (scale 1,
// shift 0), so one code path serves both, and a BN output that only feeds this sum is never stored.
// Each lane handles VEC consecutive elements (16 or 4 when H*W is a multiple, so they share one
// channel and its statistics are loaded once; else 1) in a grid-stride loop: on CPU rasterisers few workgroups are cheaper, on GPUs
// the grid covers the tensor. Statistics bindings may repeat one buffer (read-only).
// Written in V units (shader-variants.ts prepends V = vec4<f32> or f32 and VW, its width; VW divides VEC).
struct Params { chunks: u32, cpp: u32, C: u32, acc: u32, widx: array<vec4<u32>, 2> }

override WG: u32 = 256u;
/** elements per lane and chunk: 16, 4 or 1, dividing H*W */
override VEC: u32 = 4u;

//#each-term
@group(0) @binding({2*k}) var<storage, read> x{k}: array<V>;
@group(0) @binding({2*k+1}) var<storage, read> st{k}: array<f32>;
//#end
@group(0) @binding({2*K}) var<storage, read> w: array<f32>;
@group(0) @binding({2*K+1}) var<storage, read_write> out: array<V>;
@group(0) @binding({2*K+2}) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  let C = p.C;
//#each-term
  let w{k} = w[p.widx[{k/4}][{k%4}]];
//#end
  for (var i = gid.x; i < p.chunks; i += stride) {
    let c = (i / p.cpp) % C;
//#each-term
    let a{k} = w{k} * st{k}[2u * C + c];
    let b{k} = w{k} * st{k}[3u * C + c];
//#end
    let base = i * (VEC / VW);
    for (var e = 0u; e < VEC / VW; e++) {
      let j = base + e;
      var v = V(0.0);
      if (p.acc != 0u) { v = out[j]; }
//#each-term
      v += x{k}[j] * a{k} + b{k};
//#end
      out[j] = v;
    }
  }
}
