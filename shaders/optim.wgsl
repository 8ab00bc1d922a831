// Optimizer updates in place (PyTorch formulas, see src/engine/cpu/optim.ts) and the gradient
// clipping factor. In-place tensors are bound once, read_write.

override WG: u32 = 256;

struct SgdParams {
  n: u32,
  nesterov: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
}

struct AdamParams {
  n: u32,
  step_size: f32,     // lr / (1 - beta1^t)
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  bias2_sqrt: f32,    // sqrt(1 - beta2^t)
}

struct ClipParams {
  k: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> state2: array<f32>;  // SGD momentum buffer / Adam m
@group(0) @binding(3) var<storage, read_write> state3: array<f32>;  // Adam v
@group(0) @binding(2) var<uniform> sgd2: SgdParams;
@group(0) @binding(3) var<uniform> sgd3: SgdParams;
@group(0) @binding(4) var<uniform> adam4: AdamParams;

@group(0) @binding(0) var<storage, read> sq: array<f32>;
@group(0) @binding(1) var<storage, read_write> clip_out: array<f32>;
@group(0) @binding(2) var<uniform> clip2: ClipParams;

fn linear_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * (nwg.x * WG);
}

// p -= lr * (g + wd * p)    [param, grad, sgd2]
@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= sgd2.n) { return; }
  let p = param[i];
  param[i] = p - sgd2.lr * (grad[i] + sgd2.weight_decay * p);
}

// d = g + wd*p; buf = momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf; p -= lr*d
// [param, grad, state2 = buf, sgd3]
@compute @workgroup_size(WG)
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= sgd3.n) { return; }
  let p = param[i];
  var d = grad[i] + sgd3.weight_decay * p;
  let buf = sgd3.momentum * state2[i] + (1.0 - sgd3.dampening) * d;
  state2[i] = buf;
  d = select(buf, d + sgd3.momentum * buf, sgd3.nesterov != 0u);
  param[i] = p - sgd3.lr * d;
}

// [param, grad, state2 = m, state3 = v, adam4]
@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= adam4.n) { return; }
  let p = param[i];
  let g = grad[i] + adam4.weight_decay * p;
  let m = adam4.beta1 * state2[i] + (1.0 - adam4.beta1) * g;
  let v = adam4.beta2 * state3[i] + (1.0 - adam4.beta2) * g * g;
  state2[i] = m;
  state3[i] = v;
  param[i] = p - adam4.step_size * m / (sqrt(v) / adam4.bias2_sqrt + adam4.eps);
}

var<workgroup> partial: array<f32, WG>;

// out[0] = min(1, max_norm / (sqrt(sum_{i<k} sq[i]) + 1e-6)); one workgroup.  [sq, clip_out, clip2]
@compute @workgroup_size(WG)
fn clip_factor(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < clip2.k; i += WG) { acc += sq[i]; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { partial[lid] = partial[lid] + partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { clip_out[0] = min(1.0, clip2.max_norm / (sqrt(partial[0]) + 1e-6)); }
}
