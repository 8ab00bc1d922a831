// TEMPLATE, expanded per parameter count K by src/engine/webgpu/kernels/multi.ts (see
// mixed_sum.wgsl for the template syntax). SGD with momentum (optim.wgsl's sgd_momentum, PyTorch's
// formula) over K parameters in one launch:
//   d = g + wd*p; buf = momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf; p -= lr*d
struct Params { sizes: array<vec4<u32>, 2>, nesterov: u32, lr: f32, momentum: f32, dampening: f32, weight_decay: f32 }

override WG: u32 = 64u;

//#each-term
@group(0) @binding({3*k}) var<storage, read_write> p{k}: array<f32>;
@group(0) @binding({3*k+1}) var<storage, read> g{k}: array<f32>;
@group(0) @binding({3*k+2}) var<storage, read_write> m{k}: array<f32>;
//#end
@group(0) @binding({3*K}) var<uniform> u: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
//#each-term
  for (var i = gid.x; i < u.sizes[{k/4}][{k%4}]; i += stride) {
    let w = p{k}[i];
    var d = g{k}[i] + u.weight_decay * w;
    let buf = u.momentum * m{k}[i] + (1.0 - u.dampening) * d;
    m{k}[i] = buf;
    d = select(buf, d + u.momentum * buf, u.nesterov != 0u);
    p{k}[i] = w - u.lr * d;
  }
//#end
}
