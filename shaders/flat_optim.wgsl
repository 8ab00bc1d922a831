// The optimizer and gradient clipping over a whole parameter arena in one launch each
// (src/engine/optim/arena.ts): parameters, gradients and momenta each live in one buffer, at the
// same offsets; `segs` lists the ranges to update — the parameters that have a gradient this step,
// adjacent ones merged — as (start, length, flags, unused), flags bit 0: the momentum buffer is
// new (dampening 0, so that buf = d as PyTorch starts it). Every lane walks every segment with the
// grid stride, so one segment (DARTS: every parameter has a gradient) is a plain grid-stride loop.
// Formulas: optim.wgsl's sgd_momentum and clip_factor, PyTorch's.

struct Params { nseg: u32, nesterov: u32, partials: u32, lr: f32, momentum: f32, dampening: f32, weight_decay: f32, max_norm: f32 }

/** a power of two (tree reductions) */
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> segs: array<vec4<u32>>;
// sgd
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> mom: array<f32>;
@group(0) @binding(4) var<uniform> u4: Params;
// sumsq: partial[workgroup] = sum of squares of its grid-stride share
@group(0) @binding(2) var<storage, read_write> partial_out: array<f32>;
@group(0) @binding(3) var<uniform> u3: Params;
// scale: g *= min(1, max_norm / (sqrt(sum of partials) + 1e-6)), every workgroup summing the partials
@group(0) @binding(1) var<storage, read_write> grad_rw: array<f32>;
@group(0) @binding(2) var<storage, read> partial_in: array<f32>;

var<workgroup> red: array<f32, WG>;

fn tree_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG;
  for (var s = 0u; s < u4.nseg; s++) {
    let seg = segs[s];
    // a new buffer: whatever its place held is ignored and the first update is buf = d
    let fresh = (seg.z & 1u) != 0u;
    let damp = select(u4.dampening, 0.0, fresh);
    for (var i = gid.x; i < seg.y; i += stride) {
      let k = seg.x + i;
      let w = param[k];
      var d = grad[k] + u4.weight_decay * w;
      let buf = u4.momentum * select(mom[k], 0.0, fresh) + (1.0 - damp) * d;
      mom[k] = buf;
      d = select(buf, d + u4.momentum * buf, u4.nesterov != 0u);
      param[k] = w - u4.lr * d;
    }
  }
}

@compute @workgroup_size(WG)
fn sumsq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let stride = nwg.x * WG;
  var acc = 0.0;
  for (var s = 0u; s < u3.nseg; s++) {
    let seg = segs[s];
    for (var i = gid.x; i < seg.y; i += stride) { let v = grad[seg.x + i]; acc += v * v; }
  }
  let total = tree_sum(lid, acc);
  if (lid == 0u) { partial_out[wid.x] = total; }
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < u3.partials; i += WG) { acc += partial_in[i]; }
  let f = min(1.0, u3.max_norm / (sqrt(tree_sum(lid, acc)) + 1e-6));
  let stride = nwg.x * WG;
  for (var s = 0u; s < u3.nseg; s++) {
    let seg = segs[s];
    for (var i = gid.x; i < seg.y; i += stride) { grad_rw[seg.x + i] *= f; }
  }
}
