// Batch-norm training statistics only (the apply is fused into its consumers, see mixed_sum.wgsl),
// per channel c over the M = N*HW values x[n, c, hw]:
//   mean, var = biased variance, invstd = 1 / sqrt(var + eps)
//   st = [mean (C) | invstd (C) | scale = gamma*invstd (C) | shift = beta - mean*scale (C)]
//   when p.running != 0, in place: runMean = (1 - m) runMean + m mean, runVar = (1 - m) runVar + m var*M/(M-1)
// scale and shift snapshot gamma and beta at this point, so a deferred apply gives the values a
// stored BN output would have had. One workgroup per channel: one read of x accumulates the sums of
// (x - K) and (x - K)^2 with K = the channel's first value (a shift against cancellation), VEC
// consecutive values per lane walking the (n, hw) planes with an incremental cursor (no division per
// step), then a tree reduction in workgroup memory. Callers bind ones / zeros for gamma / beta
// without affine parameters, and scratch buffers for runMean / runVar without running statistics.
// x is read in V units (shader-variants.ts prepends V = vec4<f32> or f32, VW its width dividing VEC,
// hsum and lane0).
struct Params { N: u32, C: u32, HW: u32, running: u32, eps: f32, momentum: f32 }

/** a power of two */
override WG: u32 = 256u;
/** values per lane and chunk: 16, 4 or 1, dividing HW */
override VEC: u32 = 4u;

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> st: array<f32>;
@group(0) @binding(4) var<storage, read_write> runMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runVar: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

var<workgroup> red: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= p.C) { return; }
  let cpp = p.HW / VEC;                 // chunks per plane
  let chunks = p.N * cpp;
  let shift = lane0(x[c * p.HW / VW]);
  var s1 = V(0.0);
  var s2 = V(0.0);
  // cursor over (n, chunk in plane) for chunk index t = lid, lid + WG, ...
  var n = lid / cpp;
  var q = lid % cpp;
  let dn = WG / cpp;
  let dq = WG % cpp;
  for (var t = lid; t < chunks; t += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let d = x[base + e] - shift;
      s1 += d;
      s2 += d * d;
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
  if (lid == 0u) {
    let m = p.N * p.HW;
    let tot = red[0];
    let meanShifted = tot.x / f32(m);
    let variance = max(tot.y / f32(m) - meanShifted * meanShifted, 0.0);
    let mean = shift + meanShifted;
    let invStd = 1.0 / sqrt(variance + p.eps);
    let scale = gamma[c] * invStd;
    st[c] = mean;
    st[p.C + c] = invStd;
    st[2u * p.C + c] = scale;
    st[3u * p.C + c] = beta[c] - mean * scale;
    if (p.running != 0u) {
      let unbiased = select(variance, variance * f32(m) / f32(m - 1u), m > 1u);
      runMean[c] = (1.0 - p.momentum) * runMean[c] + p.momentum * mean;
      runVar[c] = (1.0 - p.momentum) * runVar[c] + p.momentum * unbiased;
    }
  }
}
