// out[c] = sum over r < ROWS of x[r, c] for a row-major [ROWS, COLS] matrix (the linear layer's bias
// gradient). One invocation per column, rows added in order (deterministic).
struct Params { ROWS: u32, COLS: u32 }
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= p.COLS) { return; }
  var s = 0.0;
  for (var r = 0u; r < p.ROWS; r++) { s += x[r * p.COLS + c]; }
  out[c] = s;
}
