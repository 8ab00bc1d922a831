// Second pass of mixed_dots.wgsl: dw[j] = sum over workgroups g (in order) of partial[g * cols + k]
// for the term k whose weight index is j, and dw[j] = 0 for the indices no term uses (j < size);
// with p.accumulate, dw[j] += that sum for the indices the terms use and the others stay (the
// architecture weights' gradient summed over the cells in place, no separate add).
// Deterministic: a fixed summation order, no atomics.
struct Params { cols: u32, groups: u32, size: u32, accumulate: u32, widx: array<vec4<u32>, 8> }

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= p.size) { return; }
  var v = 0.0;
  var used = false;
  for (var k = 0u; k < p.cols; k++) {
    if (p.widx[k / 4u][k % 4u] == j) {
      used = true;
      for (var g = 0u; g < p.groups; g++) { v += partial[g * p.cols + k]; }
    }
  }
  if (p.accumulate == 0u) { dw[j] = v; } else if (used) { dw[j] = dw[j] + v; }
}
