// Channel slicing of NCHW tensors (concat forward, slice backward and vice versa):
// dst[n, dstOffset + c, hw] (+)= src[n, srcOffset + c, hw] for c < count. One thread per copied
// element over a folded 1-D grid.

override WG: u32 = 256;

struct CopyParams {
  total: u32,       // N * count * HW
  hw: u32,
  src_c: u32,
  src_offset: u32,
  dst_c: u32,
  dst_offset: u32,
  count: u32,
  accumulate: u32,  // 1: dst += src
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: CopyParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * (nwg.x * WG);
  if (i >= p.total) { return; }
  let per_sample = p.count * p.hw;     // the copied channels are contiguous within a sample
  let n = i / per_sample;
  let r = i - n * per_sample;
  let s = (n * p.src_c + p.src_offset) * p.hw + r;
  let d = (n * p.dst_c + p.dst_offset) * p.hw + r;
  if (p.accumulate != 0u) {
    dst[d] = dst[d] + src[s];
  } else {
    dst[d] = src[s];
  }
}
