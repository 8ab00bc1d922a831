// out[r, c] = x[r, c] + bias[c] for a row-major [ROWS, COLS] matrix (the linear layer's bias).
struct Params { ROWS: u32, COLS: u32 }
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.ROWS * p.COLS) { return; }
  out[i] = x[i] + bias[i % p.COLS];
}
