// Batch normalisation, training mode, per channel c over the M = N*HW values x[n, c, hw]:
//   mean = sum x / M,  var = sum (x - mean)^2 / M  (biased),  invstd = 1 / sqrt(var + eps)
//   y = (x - mean) * invstd * gamma[c] + beta[c];  saveMean[c] = mean, saveInvStd[c] = invstd
//   when p.running != 0, also in place:  runMean = (1 - momentum) runMean + momentum mean,
//                                        runVar  = (1 - momentum) runVar  + momentum var * M/(M-1)
// One workgroup per channel: one read of x accumulates the sum and sum of squares of (x - K) with
// K = the channel's first value (a shift that keeps the single-pass variance free of cancellation
// unless the spread is tiny against |mean - K|), a tree reduction in workgroup memory, then a
// second read writes y. Callers bind ones / zeros for gamma / beta without affine parameters, and
// scratch buffers for runMean / runVar without running statistics (p.running = 0).
// Shapes are uniforms, so one pipeline serves every layer.
struct Params { N: u32, C: u32, HW: u32, running: u32, eps: f32, momentum: f32 }

/** a power of two */
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> saveMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> saveInvStd: array<f32>;
@group(0) @binding(6) var<storage, read_write> runMean: array<f32>;
@group(0) @binding(7) var<storage, read_write> runVar: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> red: array<vec2<f32>, WG>;

/** Walks the indices of channel c's values lid, lid + WG, ... without a division per step. */
struct Cursor { n: u32, hw: u32 }
fn cursor_start(lid: u32) -> Cursor { return Cursor(lid / p.HW, lid % p.HW); }
fn cursor_next(cur: ptr<function, Cursor>) {
  (*cur).hw += WG % p.HW;
  (*cur).n += WG / p.HW;
  if ((*cur).hw >= p.HW) { (*cur).hw -= p.HW; (*cur).n += 1u; }
}
fn cursor_index(cur: Cursor, c: u32) -> u32 { return (cur.n * p.C + c) * p.HW + cur.hw; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  let m = p.N * p.HW;
  let shift = x[c * p.HW];
  var s = vec2<f32>(0.0);
  var cur = cursor_start(lid);
  for (var i = lid; i < m; i += WG) {
    let d = x[cursor_index(cur, c)] - shift;
    s += vec2<f32>(d, d * d);
    cursor_next(&cur);
  }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let tot = red[0];
  let meanShifted = tot.x / f32(m);
  let variance = max(tot.y / f32(m) - meanShifted * meanShifted, 0.0);
  let mean = shift + meanShifted;
  let invStd = 1.0 / sqrt(variance + p.eps);
  let scale = gamma[c] * invStd;
  let b = beta[c];
  cur = cursor_start(lid);
  for (var i = lid; i < m; i += WG) {
    let j = cursor_index(cur, c);
    y[j] = (x[j] - mean) * scale + b;
    cursor_next(&cur);
  }
  if (lid == 0u) {
    saveMean[c] = mean;
    saveInvStd[c] = invStd;
    if (p.running != 0u) {
      let unbiased = select(variance, variance * f32(m) / f32(m - 1u), m > 1u);
      runMean[c] = (1.0 - p.momentum) * runMean[c] + p.momentum * mean;
      runVar[c] = (1.0 - p.momentum) * runVar[c] + p.momentum * unbiased;
    }
  }
}
