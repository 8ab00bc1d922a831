// Dropout masks: mask[i] = keep_scale when hashUniform(seed, i) >= threshold, else 0.
// Bit-for-bit the algorithm of src/engine/cpu/hash.ts (u32 wrapping arithmetic only). The per-seed
// key mix32(seed + 0x9e3779b9) is computed on the host (seedKey) and passed in.

override WG: u32 = 256;

struct DropoutParams {
  n: u32,
  key: u32,
  threshold: f32,   // f32(p)
  keep_scale: f32,  // f32(1 / f32(1 - f32(p)))
}

@group(0) @binding(0) var<storage, read_write> mask: array<f32>;
@group(0) @binding(1) var<uniform> p: DropoutParams;

fn mix32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * (nwg.x * WG);
  if (i >= p.n) { return; }
  let h = mix32(mix32(i ^ p.key) + p.key);
  let u = f32(h >> 8u) / 16777216.0;
  mask[i] = select(0.0, p.keep_scale, u >= p.threshold);
}
