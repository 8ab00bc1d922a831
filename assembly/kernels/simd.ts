// SIMD helpers shared by the kernels. `madd` is a·b + c: one fused relaxed-SIMD instruction in the
// build compiled with --enable relaxed-simd (chosen at load time when the runtime validates it), a
// multiply and an add in the plain-SIMD build. Both builds come from this one source.

@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}
