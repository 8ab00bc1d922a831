// Backward of batchnorm_stats.wgsl + its (fused) apply, per channel c over M = N*HW values, with the
// incoming gradient optionally scaled on read (the weight of the mixed-edge term the BN output fed:
// the weighted sum's backward then stores nothing):
//   g = dy * (p.scaled != 0 ? w[p.windex] : 1),  xhat = (x - mean) * invstd
//   dbeta = sum g,  dgamma = sum g * xhat,  dx = gamma * invstd * (g - dbeta / M - xhat * dgamma / M)
// mean and invstd come from the statistics block st = [mean | invstd | scale | shift]. One workgroup
// per channel: one read of (dy, x) for the two sums (tree reduction in workgroup memory), a second
// to write dx, VEC consecutive values per lane with an incremental (n, hw) cursor. dgamma[c] /
// dbeta[c] are written when p.grads != 0 (callers bind scratch buffers otherwise). dy, x and dx are
// read in V units (shader-variants.ts prepends V = vec4<f32> or f32, VW its width dividing VEC, and hsum).
struct Params { N: u32, C: u32, HW: u32, grads: u32, scaled: u32, windex: u32 }

/** a power of two */
override WG: u32 = 256u;
/** values per lane and chunk: 16, 4 or 1, dividing HW */
override VEC: u32 = 4u;

@group(0) @binding(0) var<storage, read> dy: array<V>;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> st: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<V>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> red: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  let m = p.N * p.HW;
  let mean = st[c];
  let invStd = st[p.C + c];
  let ws = select(1.0, w[p.windex], p.scaled != 0u);
  let cpp = p.HW / VEC;
  let chunks = p.N * cpp;
  let dn = WG / cpp;
  let dq = WG % cpp;
  var s1 = V(0.0);
  var s2 = V(0.0);
  var n = lid / cpp;
  var q = lid % cpp;
  for (var t = lid; t < chunks; t += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let g = dy[base + e] * ws;
      s1 += g;
      s2 += g * (x[base + e] - mean) * invStd;
    }
    q += dq;
    n += dn;
    if (q >= cpp) { q -= cpp; n += 1u; }
  }
  red[lid] = vec2<f32>(hsum(s1), hsum(s2));
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  let tot = red[0];
  let k = gamma[c] * invStd;
  let meanG = tot.x / f32(m);
  let meanGXhat = tot.y / f32(m);
  n = lid / cpp;
  q = lid % cpp;
  for (var t = lid; t < chunks; t += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let xhat = (x[base + e] - mean) * invStd;
      dx[base + e] = k * (dy[base + e] * ws - meanG - xhat * meanGXhat);
    }
    q += dq;
    n += dn;
    if (q >= cpp) { q -= cpp; n += 1u; }
  }
  if (lid == 0u && p.grads != 0u) {
    dbeta[c] = tot.x;
    dgamma[c] = tot.y;
  }
}
