// TEMPLATE, expanded per tensor count K by src/engine/webgpu/kernels/mixed.ts (see mixed_sum.wgsl for
// the template syntax), with a RUNNING flavour (//#if RUNNING: the running statistics are bound and
// updated). Batch-norm training statistics only (the apply is fused into its consumers, see
// mixed_sum.wgsl) of K tensors of one geometry at once — workgroup z picks the tensor: the BN layers
// of a node's conv ops, held back until the node's sum reads them (GpuRuntime.defer) — per channel c
// over the M = N*HW values x[n, c, hw]:
//   mean, var = biased variance, invstd = 1 / sqrt(var + eps)
//   st = [mean (C) | invstd (C) | scale = gamma*invstd (C) | shift = beta - mean*scale (C)]
//   RUNNING, in place: runMean = (1 - m) runMean + m mean, runVar = (1 - m) runVar + m var*M/(M-1)
// scale and shift snapshot gamma and beta at this point, so a deferred apply gives the values a
// stored BN output would have had. One workgroup per (channel, tensor): one read of x accumulates the
// sums of (x - K) and (x - K)^2 with K = the channel's first value (a shift against cancellation),
// VEC consecutive values per lane walking the (n, hw) planes with an incremental cursor (no division
// per step), then a tree reduction in workgroup memory. Callers bind ones / zeros for gamma / beta
// without affine parameters (the K tensors share gamma and beta).
// x is read in V units (shader-variants.ts prepends V = vec4<f32> or f32, VW its width dividing VEC,
// hsum and lane0).
struct Params { N: u32, C: u32, HW: u32, eps: f32, momentum: f32 }

/** a power of two */
override WG: u32 = 256u;
/** values per lane and chunk: 16, 4 or 1, dividing HW */
override VEC: u32 = 4u;

//#if RUNNING
//#each-term
@group(0) @binding({4*k}) var<storage, read> x{k}: array<V>;
@group(0) @binding({4*k+1}) var<storage, read_write> st{k}: array<f32>;
@group(0) @binding({4*k+2}) var<storage, read_write> runMean{k}: array<f32>;
@group(0) @binding({4*k+3}) var<storage, read_write> runVar{k}: array<f32>;
//#end
@group(0) @binding({4*K}) var<storage, read> gamma: array<f32>;
@group(0) @binding({4*K+1}) var<storage, read> beta: array<f32>;
@group(0) @binding({4*K+2}) var<uniform> p: Params;
//#else
//#each-term
@group(0) @binding({2*k}) var<storage, read> x{k}: array<V>;
@group(0) @binding({2*k+1}) var<storage, read_write> st{k}: array<f32>;
//#end
@group(0) @binding({2*K}) var<storage, read> gamma: array<f32>;
@group(0) @binding({2*K+1}) var<storage, read> beta: array<f32>;
@group(0) @binding({2*K+2}) var<uniform> p: Params;
//#endif

var<workgroup> red: array<vec2<f32>, WG>;

// Tensor t's buffers (t = workgroup z, the same for the whole workgroup: a uniform branch).
fn load_x(t: u32, i: u32) -> V {
  switch t {
//#each-term
    case {k}u: { return x{k}[i]; }
//#end
    default: { return V(0.0); }
  }
}

fn store_stats(t: u32, c: u32, mean: f32, invStd: f32, scale: f32, shift: f32) {
  switch t {
//#each-term
    case {k}u: { st{k}[c] = mean; st{k}[p.C + c] = invStd; st{k}[2u * p.C + c] = scale; st{k}[3u * p.C + c] = shift; }
//#end
    default: {}
  }
}

//#if RUNNING
fn update_running(t: u32, c: u32, mean: f32, unbiased: f32) {
  let m = p.momentum;
  switch t {
//#each-term
    case {k}u: {
      runMean{k}[c] = (1.0 - m) * runMean{k}[c] + m * mean;
      runVar{k}[c] = (1.0 - m) * runVar{k}[c] + m * unbiased;
    }
//#end
    default: {}
  }
}
//#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let c = wid.x + wid.y * nwg.x;
  let t = wid.z;
  if (c >= p.C) { return; }
  let cpp = p.HW / VEC;                 // chunks per plane
  let chunks = p.N * cpp;
  let shift = lane0(load_x(t, c * p.HW / VW));
  var s1 = V(0.0);
  var s2 = V(0.0);
  // cursor over (n, chunk in plane) for chunk index i = lid, lid + WG, ...
  var n = lid / cpp;
  var q = lid % cpp;
  let dn = WG / cpp;
  let dq = WG % cpp;
  for (var i = lid; i < chunks; i += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let d = load_x(t, base + e) - shift;
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
    store_stats(t, c, mean, invStd, scale, beta[c] - mean * scale);
//#if RUNNING
    update_running(t, c, mean, select(variance, variance * f32(m) / f32(m - 1u), m > 1u));
//#endif
  }
}
