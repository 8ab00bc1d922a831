// Elementwise kernels: a grid-stride loop over the elements (the grid may be folded into x*y, see
// GpuRuntime.dispatch1D): on GPUs the grid covers the tensor, one element per thread; on CPU
// rasterisers (lavapipe) a few hundred workgroups loop over it, ~3x faster than one thread per
// element there, where every workgroup has a fixed cost.
// Every entry point declares its own bindings by slot: inN = read-only input at binding N, rwN =
// read_write at binding N, uN = the uniform block at binding N (= number of storage bindings).
// WGSL allows two resource variables to share a binding slot as long as no entry point uses both.

override WG: u32 = 256;

struct EwParams {
  n: u32,       // element count
  index: u32,   // element of a factor storage (scaleInPlaceByElement)
  mid: u32,     // mulBroadcast: broadcast dimension
  inner: u32,   // mulBroadcast: contiguous dimension
  alpha: f32,   // the scalar of fill / scale / addInPlace / broadcastScalar
}

@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read> in2: array<f32>;
@group(0) @binding(0) var<storage, read_write> rw0: array<f32>;
@group(0) @binding(1) var<storage, read_write> rw1: array<f32>;
@group(0) @binding(2) var<storage, read_write> rw2: array<f32>;
@group(0) @binding(1) var<uniform> u1: EwParams;
@group(0) @binding(2) var<uniform> u2: EwParams;
@group(0) @binding(3) var<uniform> u3: EwParams;

fn linear_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * (nwg.x * WG);
}

fn grid_threads(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

// out = alpha      [rw0 out, u1]
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u1.n; i += grid_threads(nwg)) {
    rw0[i] = u1.alpha;
  }
}

// out = a + b      [in0 a, in1 b, rw2 out, u3]
@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u3.n; i += grid_threads(nwg)) {
    rw2[i] = in0[i] + in1[i];
  }
}

// out = a * b      [in0 a, in1 b, rw2 out, u3]
@compute @workgroup_size(WG)
fn mul(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u3.n; i += grid_threads(nwg)) {
    rw2[i] = in0[i] * in1[i];
  }
}

// acc += alpha * x [rw0 acc, in1 x, u2]
@compute @workgroup_size(WG)
fn add_in_place(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw0[i] = rw0[i] + u2.alpha * in1[i];
  }
}

// out = alpha * x  [in0 x, rw1 out, u2]
@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw1[i] = u2.alpha * in0[i];
  }
}

// out = max(x, 0)  [in0 x, rw1 out, u2]
@compute @workgroup_size(WG)
fn relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw1[i] = max(in0[i], 0.0);
  }
}

// dx = x > 0 ? dy : 0   [in0 dy, in1 x, rw2 dx, u3]
@compute @workgroup_size(WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u3.n; i += grid_threads(nwg)) {
    rw2[i] = select(0.0, in0[i], in1[i] > 0.0);
  }
}

// out = min(max(x, 0), 6)  (MobileNet's ReLU6)  [in0 x, rw1 out, u2]
@compute @workgroup_size(WG)
fn relu6(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw1[i] = min(max(in0[i], 0.0), 6.0);
  }
}

// dx = 0 < x < 6 ? dy : 0  (no gradient at either bound, as PyTorch's hardtanh)  [in0 dy, in1 x, rw2 dx, u3]
@compute @workgroup_size(WG)
fn relu6_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u3.n; i += grid_threads(nwg)) {
    let v = in1[i];
    rw2[i] = select(0.0, in0[i], v > 0.0 && v < 6.0);
  }
}

// out[o,m,i] = x[o,m,i] * s[m]   [in0 x, in1 s, rw2 out, u3]
@compute @workgroup_size(WG)
fn mul_broadcast(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u3.n; i += grid_threads(nwg)) {
    let m = (i / u3.inner) % u3.mid;
    rw2[i] = in0[i] * in1[m];
  }
}

// out = alpha * s[0]   [in0 s, rw1 out, u2]
@compute @workgroup_size(WG)
fn broadcast_scalar(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw1[i] = u2.alpha * in0[0];
  }
}

// x *= f[index]        [rw0 x, in1 f, u2]
@compute @workgroup_size(WG)
fn scale_in_place_by_element(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u2.n; i += grid_threads(nwg)) {
    rw0[i] = rw0[i] * in1[u2.index];
  }
}

// x *= alpha           [rw0 x, u1]  (addInPlace(x, x, alpha) = x * (1 + alpha))
@compute @workgroup_size(WG)
fn scale_in_place(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = linear_index(gid, nwg); i < u1.n; i += grid_threads(nwg)) {
    rw0[i] = rw0[i] * u1.alpha;
  }
}
