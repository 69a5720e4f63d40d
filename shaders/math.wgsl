// Numeric helpers whose results must match JavaScript's Math (the CPU backend's semantics).

// WGSL rejects NaN and infinite constants (even bitcast ones), so they are made at run time
// from bit patterns held in private variables, which the constant evaluator does not fold.
var<private> nan_bits: u32 = 0x7fc00000u;
var<private> neg_inf_bits: u32 = 0xff800000u;
var<private> inf_bits: u32 = 0x7f800000u;
fn nan_f32() -> f32 { return bitcast<f32>(nan_bits); }
fn neg_inf_f32() -> f32 { return bitcast<f32>(neg_inf_bits); }
fn inf_f32() -> f32 { return bitcast<f32>(inf_bits); }

// Math.pow: WGSL's pow is undefined for a negative base, JavaScript's is not.
fn pow_js(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  // pow(0, b) is undefined in WGSL too: 0 for b > 0, +inf for b < 0 (the sign of zero aside).
  if (a == 0.0) { return select(inf_f32(), 0.0, b > 0.0); }
  let m = pow(abs(a), b);
  if (a >= 0.0) { return m; }
  if (fract(b) != 0.0) { return nan_f32(); }
  // Negative base, integer exponent: the sign is the base's when the exponent is odd.
  if (fract(b * 0.5) != 0.0) { return -m; }
  return m;
}

// Stable forms: the textbook ones overflow exp() for large |x| and return NaN.
fn tanh_stable(x: f32) -> f32 {
  let t = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - t) / (1.0 + t);
}

fn sigmoid_stable(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

// The same σ on four lanes, branch-free: e = exp(−|x|) is exp(−x) where x ≥ 0 and exp(x) elsewhere,
// so each lane computes exactly what sigmoid_stable computes.
fn sigmoid_stable4(x: vec4<f32>) -> vec4<f32> {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= vec4<f32>(0.0));
}
