// Binding 2 of a matmul kernel (matmul_tiled.wgsl, matvec.wgsl's scalar path) read one element at a
// time: b_elem(i) is element i of B, float32, or 16-bit (B_HALF with HALF_BF16 / HALF_F16) stored
// two per u32 word and widened as it loads (half.wgsl).

#if B_HALF
#include "half.wgsl"
@group(0) @binding(2) var<storage, read> b: array<u32>;
fn b_elem(i: u32) -> f32 { return widen2(b[i >> 1u])[i & 1u]; }
#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
fn b_elem(i: u32) -> f32 { return b[i]; }
#endif
