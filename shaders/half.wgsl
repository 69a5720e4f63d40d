// Widening 16-bit floats stored two per u32 word (element 2j in the low half, 2j + 1 in the high
// half, little-endian as on the host) to f32, exactly. The host defines HALF_BF16 or HALF_F16.
// bfloat16 is the top half of a float32, so widening is a shift; float16 goes through WGSL's
// unpack2x16float (no shader-f16 feature needed).

#if HALF_BF16
fn widen2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }
#else
fn widen2(w: u32) -> vec2<f32> { return unpack2x16float(w); }
#endif
