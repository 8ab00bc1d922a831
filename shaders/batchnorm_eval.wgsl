// Batch normalisation with running statistics (eval mode), per channel c:
//   y = (x - runMean[c]) * gamma[c] / sqrt(runVar[c] + eps) + beta[c]
// Workgroups (chunk, channel): the channel's constants are loaded once per workgroup and each
// invocation handles up to PER values of that channel. Callers bind ones / zeros for gamma / beta
// without affine parameters. Shapes are uniforms, so one pipeline serves every layer.
struct Params { N: u32, C: u32, HW: u32, eps: f32 }

override WG: u32 = 256u;
override PER: u32 = 8u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read> runMean: array<f32>;
@group(0) @binding(4) var<storage, read> runVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let mean = runMean[c];
  let k = gamma[c] / sqrt(runVar[c] + p.eps);
  let shift = beta[c];
  let m = p.N * p.HW;
  let first = wid.x * WG * PER + lid;
  var n = first / p.HW;
  var hw = first % p.HW;
  for (var r = 0u; r < PER; r++) {
    if (first + r * WG < m) {
      let j = (n * p.C + c) * p.HW + hw;
      y[j] = (x[j] - mean) * k + shift;
    }
    hw += WG % p.HW;
    n += WG / p.HW;
    if (hw >= p.HW) { hw -= p.HW; n += 1u; }
  }
}
