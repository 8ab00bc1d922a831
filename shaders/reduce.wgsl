// Full reductions to one value: dot, sum of squares, sum, non-finite count, and the per-channel
// reduction of mulBroadcastGradS.
//
// Two-pass scheme (no float atomics in WGSL): pass 1 runs G workgroups; each thread accumulates a
// grid-stride slice in f32, the workgroup tree-reduces in workgroup memory and writes one partial to
// dst[dst_offset + workgroup]. For G = 1 the "partial" is the result and goes straight to
// out[outIndex]; otherwise the `sum` entry reduces the G partials with one workgroup. `scale`
// multiplies the final value (1 for partials).

override WG: u32 = 256;  // a power of two (tree reduction)

struct ReduceParams {
  n: u32,
  dst_offset: u32,
  scale: f32,
}

// mulBroadcastGradS: ds[m] = sum over o, i of dy[o, m, i] * x[o, m, i]; `splits` workgroups per m.
struct ChannelParams {
  outer: u32,
  mid: u32,
  inner: u32,
  splits: u32,
}

// out[m] = sum over p < splits of partial[m * splits + p]
struct SegmentParams {
  segments: u32,
  splits: u32,
}

@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(1) var<storage, read_write> rw1: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<f32>;
@group(0) @binding(2) var<uniform> u2: ReduceParams;
@group(0) @binding(3) var<uniform> u3: ReduceParams;
@group(0) @binding(3) var<uniform> ch3: ChannelParams;
@group(0) @binding(2) var<uniform> seg2: SegmentParams;

var<workgroup> partial: array<f32, WG>;

/** Tree-reduce `v` over the workgroup; the total is valid in thread 0. Call in uniform control flow. */
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      partial[lid] = partial[lid] + partial[lid + s];
    }
    workgroupBarrier();
  }
  return partial[0];
}

fn is_non_finite(v: f32) -> bool {
  // exponent bits all ones: +-Inf or NaN (a bit test, because `v != v` may be optimised away)
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// [in0 a, in1 b, rw2 dst, u3]
@compute @workgroup_size(WG)
fn dot(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < u3.n; i += nwg.x * WG) {
    acc += in0[i] * in1[i];
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) { rw2[u3.dst_offset + wid.x] = total * u3.scale; }
}

// [in0 x, rw1 dst, u2]
@compute @workgroup_size(WG)
fn sum_squares(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < u2.n; i += nwg.x * WG) {
    let v = in0[i];
    acc += v * v;
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) { rw1[u2.dst_offset + wid.x] = total * u2.scale; }
}

// [in0 x, rw1 dst, u2]
@compute @workgroup_size(WG)
fn sum(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < u2.n; i += nwg.x * WG) {
    acc += in0[i];
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) { rw1[u2.dst_offset + wid.x] = total * u2.scale; }
}

// [in0 x, rw1 dst, u2]; counts are exact in f32 up to 2^24
@compute @workgroup_size(WG)
fn non_finite_count(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  var acc = 0.0;
  for (var i = wid.x * WG + lid; i < u2.n; i += nwg.x * WG) {
    if (is_non_finite(in0[i])) { acc += 1.0; }
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u) { rw1[u2.dst_offset + wid.x] = total * u2.scale; }
}

// [in0 dy, in1 x, rw2 dst, ch3]; workgroup w (2-D folded) handles channel w / splits, part w % splits,
// and writes dst[w] (= ds[m] when splits == 1).
@compute @workgroup_size(WG)
fn mul_broadcast_grad_s(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                        @builtin(num_workgroups) nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  let in_range = w < ch3.mid * ch3.splits;
  let m = w / ch3.splits;
  let part = w % ch3.splits;
  let count = select(0u, ch3.outer * ch3.inner, in_range);
  var acc = 0.0;
  for (var e = part * WG + lid; e < count; e += ch3.splits * WG) {
    let o = e / ch3.inner;
    let i = e - o * ch3.inner;
    let at = (o * ch3.mid + m) * ch3.inner + i;
    acc += in0[at] * in1[at];
  }
  let total = workgroup_sum(acc, lid);
  if (lid == 0u && in_range) { rw2[w] = total; }
}

// [in0 partial, rw1 out, seg2]; one thread per segment (1-D folded grid)
@compute @workgroup_size(WG)
fn segment_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let m = gid.x + gid.y * (nwg.x * WG);
  if (m >= seg2.segments) { return; }
  var acc = 0.0;
  for (var p = 0u; p < seg2.splits; p++) {
    acc += in0[m * seg2.splits + p];
  }
  rw1[m] = acc;
}
