// TEMPLATE, expanded per pair count K by src/engine/webgpu/kernels/split-sum.ts (see mixed_sum.wgsl
// for the template syntax). The second pass of K split-K weight gradients in one launch:
//   dw_k[i] = sum over s of part_k[s * size_k + i], summed in split order (deterministic)
// One launch sums K weight gradients: the runtime merges the passes a backward pass queues
// (GpuRuntime.defer) into launches of this kernel. Grid-stride loops over each pair in turn.
struct Params { sizes: array<vec4<u32>, 2>, splits: array<vec4<u32>, 2> }

override WG: u32 = 64u;

//#each-term
@group(0) @binding({2*k}) var<storage, read> part{k}: array<f32>;
@group(0) @binding({2*k+1}) var<storage, read_write> dw{k}: array<f32>;
//#end
@group(0) @binding({2*K}) var<uniform> u: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
//#each-term
  for (var i = gid.x; i < u.sizes[{k/4}][{k%4}]; i += stride) {
    let size = u.sizes[{k/4}][{k%4}];
    var s = 0.0;
    for (var j = 0u; j < u.splits[{k/4}][{k%4}]; j++) { s += part{k}[j * size + i]; }
    dw{k}[i] = s;
  }
//#end
}
