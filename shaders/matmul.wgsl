// Dense matrix product out[M, N] = op(a)[M, K] * op(b)[K, N], row-major, where
//   op(a) = a (stored [M, K]) or, with TRANS_A, a^T (a stored [K, M]);
//   op(b) = b (stored [K, N]) or, with TRANS_B, b^T (b stored [N, K]).
// Register blocking: one invocation computes a 4x4 block of out (4 + 4 loads per 16 multiply-adds);
// an 8x8 workgroup covers a 32x32 tile. Out-of-range rows and columns clamp their loads and skip
// their stores. Sizes are uniforms; only the transposes are override constants.
struct Params { M: u32, N: u32, K: u32 }
override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn a_at(m: u32, k: u32) -> f32 {
  if (TRANS_A) { return a[k * p.M + m]; }
  return a[m * p.K + k];
}

fn b_at(k: u32, n: u32) -> f32 {
  if (TRANS_B) { return b[n * p.K + k]; }
  return b[k * p.N + n];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  var rows: vec4<u32>;
  var cols: vec4<u32>;
  for (var i = 0u; i < 4u; i++) {
    rows[i] = min(m0 + i, p.M - 1u);
    cols[i] = min(n0 + i, p.N - 1u);
  }
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let av = vec4<f32>(a_at(rows[0], k), a_at(rows[1], k), a_at(rows[2], k), a_at(rows[3], k));
    let bv = vec4<f32>(b_at(k, cols[0]), b_at(k, cols[1]), b_at(k, cols[2]), b_at(k, cols[3]));
    acc[0] += av[0] * bv;
    acc[1] += av[1] * bv;
    acc[2] += av[2] * bv;
    acc[3] += av[3] * bv;
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      if (m0 + i < p.M && n0 + j < p.N) { out[(m0 + i) * p.N + n0 + j] = acc[i][j]; }
    }
  }
}
