// Cross-entropy with label smoothing, its backward pass, and the correct-prediction count.
// Labels are f32 holding class indices. A label that is not an integer in [0, cols) cannot raise an
// error on the device, so it makes that row's loss and gradient NaN (and never counts as correct).

override WG: u32 = 64;  // a power of two

struct CeParams {
  rows: u32,
  cols: u32,
  smoothing: f32,
}

struct CountParams {
  rows: u32,
  cols: u32,
  out_index: u32,
}

@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<f32>;
@group(0) @binding(3) var<storage, read_write> rw3: array<f32>;
@group(0) @binding(4) var<uniform> ce4: CeParams;
@group(0) @binding(3) var<uniform> cnt3: CountParams;

var<workgroup> scratch: array<f32, WG>;

fn workgroup_max(v: f32, lid: u32) -> f32 {
  scratch[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { scratch[lid] = max(scratch[lid], scratch[lid + s]); }
    workgroupBarrier();
  }
  let r = scratch[0];
  workgroupBarrier();
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

/** The class index of a label value, or cols when it is not a valid class. */
fn class_of(label: f32, cols: u32) -> u32 {
  if (label >= 0.0 && label < f32(cols) && floor(label) == label) { return u32(label); }
  return cols;
}

// A quiet NaN. The bits come in as a function argument: a constant expression yielding NaN is a
// shader-creation error.
fn nan_from_bits(bits: u32) -> f32 {
  return bitcast<f32>(bits);
}

fn nan() -> f32 {
  return nan_from_bits(0x7fc00000u);
}

// One workgroup per row (2-D folded): probs = softmax(logits) and
// rowloss[r] = (1-s) * (logZ - x[label]) + s * mean_c(logZ - x[c]).
// [in0 logits, in1 labels, rw2 probs, rw3 rowloss, ce4]
@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  let in_range = row < ce4.rows;
  let cols = select(0u, ce4.cols, in_range);
  let base = row * ce4.cols;
  var m = -3.402823e38;
  for (var c = lid; c < cols; c += WG) { m = max(m, in0[base + c]); }
  m = workgroup_max(m, lid);
  var s = 0.0;
  var xsum = 0.0;
  for (var c = lid; c < cols; c += WG) {
    let x = in0[base + c];
    s += exp(x - m);
    xsum += x;
  }
  s = workgroup_sum(s, lid);
  xsum = workgroup_sum(xsum, lid);
  let log_z = m + log(s);
  for (var c = lid; c < cols; c += WG) { rw2[base + c] = exp(in0[base + c] - log_z); }
  if (lid == 0u && in_range) {
    let label = class_of(in1[row], ce4.cols);
    if (label < ce4.cols) {
      let nll = log_z - in0[base + label];
      let mean_neg_log_p = log_z - xsum / f32(ce4.cols);
      rw3[row] = (1.0 - ce4.smoothing) * nll + ce4.smoothing * mean_neg_log_p;
    } else {
      rw3[row] = nan();
    }
  }
}

// dlogits = dloss[0] * (probs - target) / rows, one thread per element (1-D folded).
// [in0 probs, in1 labels, in2 dloss, rw3 dlogits, ce4]
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * (nwg.x * WG);
  if (i >= ce4.rows * ce4.cols) { return; }
  let r = i / ce4.cols;
  let c = i - r * ce4.cols;
  let label = class_of(in1[r], ce4.cols);
  let off_target = ce4.smoothing / f32(ce4.cols);
  let on_target = 1.0 - ce4.smoothing + off_target;
  let target_c = select(off_target, on_target, c == label);
  let k = in2[0] / f32(ce4.rows);
  rw3[i] = select(k * (in0[i] - target_c), nan(), label >= ce4.cols);
}

// out[out_index] = number of rows whose first maximum is at the label. One workgroup; each thread
// scans whole rows.  [in0 logits, in1 labels, rw2 out, cnt3]
@compute @workgroup_size(WG)
fn correct_count(@builtin(local_invocation_index) lid: u32) {
  var count = 0.0;
  for (var r = lid; r < cnt3.rows; r += WG) {
    let base = r * cnt3.cols;
    var best = 0u;
    var best_v = in0[base];
    for (var c = 1u; c < cnt3.cols; c++) {
      let v = in0[base + c];
      if (v > best_v) { best = c; best_v = v; }
    }
    if (class_of(in1[r], cnt3.cols) == best) { count += 1.0; }
  }
  let total = workgroup_sum(count, lid);
  if (lid == 0u) { rw2[cnt3.out_index] = total; }
}
