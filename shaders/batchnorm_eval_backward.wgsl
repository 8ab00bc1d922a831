// Backward of batchnorm_eval.wgsl (the running statistics are constants), per channel c:
//   invstd = 1 / sqrt(runVar[c] + eps),  dx = dy * gamma[c] * invstd
//   when p.grads != 0 also: dbeta[c] = sum dy,  dgamma[c] = sum dy * (x - runMean[c]) * invstd
// One workgroup per channel (tree reduction in workgroup memory for the parameter gradients;
// callers bind scratch buffers for dgamma / dbeta when p.grads = 0). Shapes are uniforms.
struct Params { N: u32, C: u32, HW: u32, grads: u32, eps: f32 }

/** a power of two */
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> runMean: array<f32>;
@group(0) @binding(4) var<storage, read> runVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> red: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let mean = runMean[c];
  let invStd = 1.0 / sqrt(runVar[c] + p.eps);
  let k = gamma[c] * invStd;
  let grads = p.grads != 0u;
  var s = vec2<f32>(0.0);
  var n = lid / p.HW;
  var hw = lid % p.HW;
  for (var i = lid; i < p.N * p.HW; i += WG) {
    let j = (n * p.C + c) * p.HW + hw;
    let d = dy[j];
    dx[j] = d * k;
    if (grads) { s += vec2<f32>(d, d * (x[j] - mean) * invStd); }
    hw += WG % p.HW;
    n += WG / p.HW;
    if (hw >= p.HW) { hw -= p.HW; n += 1u; }
  }
  if (!grads) { return; }
  red[lid] = s;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) { red[lid] += red[lid + half]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    dbeta[c] = red[0].x;
    dgamma[c] = red[0].y;
  }
}
