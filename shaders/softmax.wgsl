// Softmax / log-softmax over the last axis of [rows, cols] and their backward passes.
// One workgroup per row (rows folded over a 2-D grid); the row maximum and sums are tree reductions
// in workgroup memory, so any number of columns works.

override WG: u32 = 64;  // a power of two

struct RowParams {
  rows: u32,
  cols: u32,
  log: u32,   // 1: log-softmax
}

@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(1) var<storage, read_write> rw1: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<f32>;
@group(0) @binding(2) var<uniform> u2: RowParams;
@group(0) @binding(3) var<uniform> u3: RowParams;

var<workgroup> scratch: array<f32, WG>;

fn workgroup_max(v: f32, lid: u32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { scratch[lid] = max(scratch[lid], scratch[lid + s]); }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();  // scratch is reused by the next reduction
  return r;
}

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { scratch[lid] = scratch[lid] + scratch[lid + s]; }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
  return r;
}

// [in0 x, rw1 y, u2]
@compute @workgroup_size(WG)
fn softmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  let cols = select(0u, u2.cols, row < u2.rows);  // inactive workgroups still reach every barrier
  let base = row * u2.cols;
  var m = -3.402823e38;
  for (var c = lid; c < cols; c += WG) { m = max(m, in0[base + c]); }
  m = workgroup_max(m, lid);
  var s = 0.0;
  for (var c = lid; c < cols; c += WG) { s += exp(in0[base + c] - m); }
  s = workgroup_sum(s, lid);
  if (u2.log != 0u) {
    let shift = m + log(s);
    for (var c = lid; c < cols; c += WG) { rw1[base + c] = in0[base + c] - shift; }
  } else {
    let inv = 1.0 / s;
    for (var c = lid; c < cols; c += WG) { rw1[base + c] = exp(in0[base + c] - m) * inv; }
  }
}

// softmax: dx = y * (dy - sum(dy * y));  log-softmax: dx = dy - exp(y) * sum(dy)
// [in0 dy, in1 y, rw2 dx, u3]
@compute @workgroup_size(WG)
fn softmax_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  let cols = select(0u, u3.cols, row < u3.rows);
  let base = row * u3.cols;
  let log_mode = u3.log != 0u;
  var s = 0.0;
  for (var c = lid; c < cols; c += WG) {
    s += select(in0[base + c] * in1[base + c], in0[base + c], log_mode);
  }
  s = workgroup_sum(s, lid);
  for (var c = lid; c < cols; c += WG) {
    let dy = in0[base + c];
    let y = in1[base + c];
    rw2[base + c] = select(y * (dy - s), dy - exp(y) * s, log_mode);
  }
}
