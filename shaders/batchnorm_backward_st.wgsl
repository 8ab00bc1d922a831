// TEMPLATE, expanded per tensor count K by src/engine/webgpu/kernels/mixed.ts (see mixed_sum.wgsl for
// the template syntax), with a GRADS flavour (//#if GRADS: dgamma and dbeta are bound and written).
// Backward of batchnorm_stats.wgsl + its (fused) apply for K BN layers that read one incoming
// gradient dy (the conv terms of one mixed node: the node sum's backward runs all of them in one
// launch, workgroup z picking the layer), per channel c over M = N*HW values, dy optionally scaled on
// read by the layer's weight in the sum (the weighted sum's backward then stores nothing):
//   g = dy * (p.scaled != 0 ? w[windex[t]] : 1),  xhat = (x - mean) * invstd
//   dbeta = sum g,  dgamma = sum g * xhat,  dx = gamma * invstd * (g - dbeta / M - xhat * dgamma / M)
// mean and invstd come from the layer's statistics block st = [mean | invstd | scale | shift]; the K
// layers share gamma (ones without affine parameters). One workgroup per (channel, layer): one read
// of (dy, x) for the two sums (tree reduction in workgroup memory), a second to write dx, VEC
// consecutive values per lane with an incremental (n, hw) cursor. dy, x and dx are read in V units
// (shader-variants.ts prepends V = vec4<f32> or f32, VW its width dividing VEC, and hsum).
struct Params { N: u32, C: u32, HW: u32, scaled: u32, windex: array<vec4<u32>, 2> }

/** a power of two */
override WG: u32 = 256u;
/** values per lane and chunk: 16, 4 or 1, dividing HW */
override VEC: u32 = 4u;

@group(0) @binding(0) var<storage, read> dy: array<V>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
//#if GRADS
//#each-term
@group(0) @binding({3+5*k}) var<storage, read> x{k}: array<V>;
@group(0) @binding({4+5*k}) var<storage, read> st{k}: array<f32>;
@group(0) @binding({5+5*k}) var<storage, read_write> dx{k}: array<V>;
@group(0) @binding({6+5*k}) var<storage, read_write> dgamma{k}: array<f32>;
@group(0) @binding({7+5*k}) var<storage, read_write> dbeta{k}: array<f32>;
//#end
@group(0) @binding({3+5*K}) var<uniform> p: Params;
//#else
//#each-term
@group(0) @binding({3+3*k}) var<storage, read> x{k}: array<V>;
@group(0) @binding({4+3*k}) var<storage, read> st{k}: array<f32>;
@group(0) @binding({5+3*k}) var<storage, read_write> dx{k}: array<V>;
//#end
@group(0) @binding({3+3*K}) var<uniform> p: Params;
//#endif

var<workgroup> red: array<vec2<f32>, WG>;

// Layer t's buffers (t = workgroup z, the same for the whole workgroup: a uniform branch).
fn load_x(t: u32, i: u32) -> V {
  switch t {
//#each-term
    case {k}u: { return x{k}[i]; }
//#end
    default: { return V(0.0); }
  }
}

fn load_st(t: u32, i: u32) -> f32 {
  switch t {
//#each-term
    case {k}u: { return st{k}[i]; }
//#end
    default: { return 0.0; }
  }
}

fn store_dx(t: u32, i: u32, v: V) {
  switch t {
//#each-term
    case {k}u: { dx{k}[i] = v; }
//#end
    default: {}
  }
}

//#if GRADS
fn store_grads(t: u32, c: u32, dg: f32, db: f32) {
  switch t {
//#each-term
    case {k}u: { dgamma{k}[c] = dg; dbeta{k}[c] = db; }
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
  let m = p.N * p.HW;
  let mean = load_st(t, c);
  let invStd = load_st(t, p.C + c);
  let ws = select(1.0, w[p.windex[t / 4u][t % 4u]], p.scaled != 0u);
  let cpp = p.HW / VEC;
  let chunks = p.N * cpp;
  let dn = WG / cpp;
  let dq = WG % cpp;
  var s1 = V(0.0);
  var s2 = V(0.0);
  var n = lid / cpp;
  var q = lid % cpp;
  for (var i = lid; i < chunks; i += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let g = dy[base + e] * ws;
      s1 += g;
      s2 += g * (load_x(t, base + e) - mean) * invStd;
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
  for (var i = lid; i < chunks; i += WG) {
    let base = ((n * p.C + c) * p.HW + q * VEC) / VW;
    for (var e = 0u; e < VEC / VW; e++) {
      let xhat = (load_x(t, base + e) - mean) * invStd;
      store_dx(t, base + e, k * (dy[base + e] * ws - meanG - xhat * meanGXhat));
    }
    q += dq;
    n += dn;
    if (q >= cpp) { q -= cpp; n += 1u; }
  }
//#if GRADS
  if (lid == 0u) { store_grads(t, c, tot.y, tot.x); }
//#endif
}
