// Weighted sum of k inputs: out = sum_j w[index_j] * x_j (+ out when accumulating), for
// k = 1..8 inputs per dispatch (entry ws<k>). More inputs are chunked by the host: the first chunk
// writes, the following ones accumulate. Bindings of ws<k>: x_0..x_{k-1} at 0..k-1, w at k, out at
// k+1, params at k+2 — so every k declares its own w / out / params variables.
// (Written out explicitly: WGSL has no generics over bindings.)

override WG: u32 = 256;

struct WsParams {
  n: u32,
  accumulate: u32,  // 1: out += sum, 0: out = sum
  i0: u32, i1: u32, i2: u32, i3: u32, i4: u32, i5: u32, i6: u32, i7: u32,  // weight indices
}

@group(0) @binding(0) var<storage, read> x0: array<f32>;
@group(0) @binding(1) var<storage, read> x1: array<f32>;
@group(0) @binding(2) var<storage, read> x2: array<f32>;
@group(0) @binding(3) var<storage, read> x3: array<f32>;
@group(0) @binding(4) var<storage, read> x4: array<f32>;
@group(0) @binding(5) var<storage, read> x5: array<f32>;
@group(0) @binding(6) var<storage, read> x6: array<f32>;
@group(0) @binding(7) var<storage, read> x7: array<f32>;

@group(0) @binding(1) var<storage, read> w_1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_1: array<f32>;
@group(0) @binding(3) var<uniform> p_1: WsParams;
@group(0) @binding(2) var<storage, read> w_2: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_2: array<f32>;
@group(0) @binding(4) var<uniform> p_2: WsParams;
@group(0) @binding(3) var<storage, read> w_3: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_3: array<f32>;
@group(0) @binding(5) var<uniform> p_3: WsParams;
@group(0) @binding(4) var<storage, read> w_4: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_4: array<f32>;
@group(0) @binding(6) var<uniform> p_4: WsParams;
@group(0) @binding(5) var<storage, read> w_5: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_5: array<f32>;
@group(0) @binding(7) var<uniform> p_5: WsParams;
@group(0) @binding(6) var<storage, read> w_6: array<f32>;
@group(0) @binding(7) var<storage, read_write> out_6: array<f32>;
@group(0) @binding(8) var<uniform> p_6: WsParams;
@group(0) @binding(7) var<storage, read> w_7: array<f32>;
@group(0) @binding(8) var<storage, read_write> out_7: array<f32>;
@group(0) @binding(9) var<uniform> p_7: WsParams;
@group(0) @binding(8) var<storage, read> w_8: array<f32>;
@group(0) @binding(9) var<storage, read_write> out_8: array<f32>;
@group(0) @binding(10) var<uniform> p_8: WsParams;

fn linear_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * (nwg.x * WG);
}

@compute @workgroup_size(WG)
fn ws1(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_1.n) { return; }
  let s = w_1[p_1.i0] * x0[i];
  out_1[i] = select(0.0, out_1[i], p_1.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws2(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_2.n) { return; }
  let s = w_2[p_2.i0] * x0[i] + w_2[p_2.i1] * x1[i];
  out_2[i] = select(0.0, out_2[i], p_2.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws3(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_3.n) { return; }
  let s = w_3[p_3.i0] * x0[i] + w_3[p_3.i1] * x1[i] + w_3[p_3.i2] * x2[i];
  out_3[i] = select(0.0, out_3[i], p_3.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_4.n) { return; }
  let s = w_4[p_4.i0] * x0[i] + w_4[p_4.i1] * x1[i] + w_4[p_4.i2] * x2[i] + w_4[p_4.i3] * x3[i];
  out_4[i] = select(0.0, out_4[i], p_4.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws5(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_5.n) { return; }
  let s = w_5[p_5.i0] * x0[i] + w_5[p_5.i1] * x1[i] + w_5[p_5.i2] * x2[i] + w_5[p_5.i3] * x3[i] + w_5[p_5.i4] * x4[i];
  out_5[i] = select(0.0, out_5[i], p_5.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws6(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_6.n) { return; }
  let s = w_6[p_6.i0] * x0[i] + w_6[p_6.i1] * x1[i] + w_6[p_6.i2] * x2[i] + w_6[p_6.i3] * x3[i] + w_6[p_6.i4] * x4[i] + w_6[p_6.i5] * x5[i];
  out_6[i] = select(0.0, out_6[i], p_6.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws7(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_7.n) { return; }
  let s = w_7[p_7.i0] * x0[i] + w_7[p_7.i1] * x1[i] + w_7[p_7.i2] * x2[i] + w_7[p_7.i3] * x3[i] + w_7[p_7.i4] * x4[i] + w_7[p_7.i5] * x5[i] + w_7[p_7.i6] * x6[i];
  out_7[i] = select(0.0, out_7[i], p_7.accumulate != 0u) + s;
}

@compute @workgroup_size(WG)
fn ws8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= p_8.n) { return; }
  let s = w_8[p_8.i0] * x0[i] + w_8[p_8.i1] * x1[i] + w_8[p_8.i2] * x2[i] + w_8[p_8.i3] * x3[i] + w_8[p_8.i4] * x4[i] + w_8[p_8.i5] * x5[i] + w_8[p_8.i6] * x6[i] + w_8[p_8.i7] * x7[i];
  out_8[i] = select(0.0, out_8[i], p_8.accumulate != 0u) + s;
}
