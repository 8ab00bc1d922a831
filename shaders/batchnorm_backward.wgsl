// Backward of batchnorm_train.wgsl, per channel c over M = N*HW values, xhat = (x - mean) * invstd:
//   dbeta = sum dy,  dgamma = sum dy * xhat,
//   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M)
// One workgroup per channel: one read of (dy, x) for the two sums (tree reduction in workgroup
// memory), a second to write dx; dgamma[c] / dbeta[c] are written when p.grads != 0 (callers bind
// scratch buffers otherwise). Shapes are uniforms, so one pipeline serves every layer.
struct Params { N: u32, C: u32, HW: u32, grads: u32 }

/** a power of two */
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> saveMean: array<f32>;
@group(0) @binding(4) var<storage, read> saveInvStd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;
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
  let mean = saveMean[c];
  let invStd = saveInvStd[c];
  var s = vec2<f32>(0.0);
  var cur = cursor_start(lid);
  for (var i = lid; i < m; i += WG) {
    let j = cursor_index(cur, c);
    let d = dy[j];
    s += vec2<f32>(d, d * (x[j] - mean) * invStd);
    cursor_next(&cur);
  }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let tot = red[0];
  let k = gamma[c] * invStd;
  let meanDy = tot.x / f32(m);
  let meanDyXhat = tot.y / f32(m);
  cur = cursor_start(lid);
  for (var i = lid; i < m; i += WG) {
    let j = cursor_index(cur, c);
    let xhat = (x[j] - mean) * invStd;
    dx[j] = k * (dy[j] - meanDy - xhat * meanDyXhat);
    cursor_next(&cur);
  }
  if (lid == 0u && p.grads != 0u) {
    dbeta[c] = tot.x;
    dgamma[c] = tot.y;
  }
}
