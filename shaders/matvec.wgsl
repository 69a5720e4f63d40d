// Decode-shaped products on CPU adapters (llvmpipe): out[batch, m, n] = A[batch, m, k] · B[batch, n, k]ᵀ
// for at most 4 rows of A: one new token (or a few prompts' new tokens) against a weight stored
// [out, in] as nn.Linear stores it.
//
// Why a kernel of its own: the blocked kernel (matmul_blocked.wgsl) gives each workgroup 16 rows of
// A, so a product of one row computes 16 and keeps 1; decoding a 7B model spent 15/16 of its
// arithmetic on clamped copies of the one row. Here each invocation owns COLS columns of out (COLS
// rows of B) for all ROWS rows of A and walks k once: B is read once, every load of A has the same
// address across the workgroup (one load, not one per SIMD lane) and serves COLS columns, and the
// sums stay in registers. Decoding is bound by reading B; on llvmpipe a load of B is one scalar
// load per SIMD lane, so what is left to save is the work around it.
//
// Host defines (engine/backends/webgpu/kernels/matmul.ts):
//   VEC8  k % 8 == 0 and every batch starts at a multiple of 8: A read as vec4, B 8 elements a step
//         (one vec4<u32> of 16-bit B, two vec4<f32> of float32 B)
//   (not) one element a step, any k
//   B_HALF with HALF_BF16 / HALF_F16: B is 16-bit, two elements per u32 word, widened as it loads
//   ADD_SCALED: out = addend + add_scale * product (matmul_store.wgsl)
// Overrides: WGX invocations per workgroup; ROWS, the rows of A, and COLS, the columns of out per
// invocation (each 1 to 4; sums past them are compiled out, the overrides being constants).

override WGX: u32 = 16u;
override ROWS: u32 = 1u;
override COLS: u32 = 4u;

struct Params {
  n: u32,
  k: u32,
  a_batch_stride: u32,
  b_batch_stride: u32,
  add_scale: f32,      // ADD_SCALED's scale
}

@group(0) @binding(0) var<uniform> P: Params;
#if VEC8
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
#if B_HALF
#include "half.wgsl"
@group(0) @binding(2) var<storage, read> b: array<vec4<u32>>;
// Elements 8i..8i+7 of B, as two vec4.
fn b_lo(i: u32) -> vec4<f32> { let w = b[i]; return vec4<f32>(widen2(w.x), widen2(w.y)); }
fn b_hi(i: u32) -> vec4<f32> { let w = b[i]; return vec4<f32>(widen2(w.z), widen2(w.w)); }
#else
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
fn b_lo(i: u32) -> vec4<f32> { return b[2u * i]; }
fn b_hi(i: u32) -> vec4<f32> { return b[2u * i + 1u]; }
#endif
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if B_HALF
#include "half.wgsl"
@group(0) @binding(2) var<storage, read> b: array<u32>;
fn b_elem(i: u32) -> f32 { return widen2(b[i >> 1u])[i & 1u]; }
#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
fn b_elem(i: u32) -> f32 { return b[i]; }
#endif
#endif
#include "matmul_store.wgsl"

@compute @workgroup_size(WGX)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // This invocation's first column. Columns past n compute column n - 1 again (their loads stay
  // in bounds) and store nothing. The batch comes from workgroup_id, which the compiler knows is
  // the same for the whole workgroup, so each load of A stays one load (measured: 4x faster than
  // with global_invocation_id).
  let col = (wid.x * WGX + lid.x) * COLS;
  let batch = wid.z;
  // Where row r of A and row c of B (column c of out) start.
  let a0 = batch * P.a_batch_stride;
  let a1 = batch * P.a_batch_stride + min(1u, ROWS - 1u) * P.k;
  let a2 = batch * P.a_batch_stride + min(2u, ROWS - 1u) * P.k;
  let a3 = batch * P.a_batch_stride + min(3u, ROWS - 1u) * P.k;
  let b0 = batch * P.b_batch_stride + min(col, P.n - 1u) * P.k;
  let b1 = batch * P.b_batch_stride + min(col + 1u, P.n - 1u) * P.k;
  let b2 = batch * P.b_batch_stride + min(col + 2u, P.n - 1u) * P.k;
  let b3 = batch * P.b_batch_stride + min(col + 3u, P.n - 1u) * P.k;
  // One f32 sum per row and column, s<row><col>; those past ROWS or COLS are compiled out.
  var s00 = 0.0; var s01 = 0.0; var s02 = 0.0; var s03 = 0.0;
  var s10 = 0.0; var s11 = 0.0; var s12 = 0.0; var s13 = 0.0;
  var s20 = 0.0; var s21 = 0.0; var s22 = 0.0; var s23 = 0.0;
  var s30 = 0.0; var s31 = 0.0; var s32 = 0.0; var s33 = 0.0;
#if VEC8
  // 8 elements a step: A in vec4 units, B in 8-element units.
  for (var p = 0u; p < P.k / 8u; p++) {
    let x0 = a[a0 / 4u + 2u * p];
    let y0 = a[a0 / 4u + 2u * p + 1u];
    let x1 = a[a1 / 4u + 2u * p];
    let y1 = a[a1 / 4u + 2u * p + 1u];
    let x2 = a[a2 / 4u + 2u * p];
    let y2 = a[a2 / 4u + 2u * p + 1u];
    let x3 = a[a3 / 4u + 2u * p];
    let y3 = a[a3 / 4u + 2u * p + 1u];
    {
      let lo = b_lo(b0 / 8u + p);
      let hi = b_hi(b0 / 8u + p);
      s00 += dot(lo, x0) + dot(hi, y0);
      if (ROWS > 1u) { s10 += dot(lo, x1) + dot(hi, y1); }
      if (ROWS > 2u) { s20 += dot(lo, x2) + dot(hi, y2); }
      if (ROWS > 3u) { s30 += dot(lo, x3) + dot(hi, y3); }
    }
    if (COLS > 1u) {
      let lo = b_lo(b1 / 8u + p);
      let hi = b_hi(b1 / 8u + p);
      s01 += dot(lo, x0) + dot(hi, y0);
      if (ROWS > 1u) { s11 += dot(lo, x1) + dot(hi, y1); }
      if (ROWS > 2u) { s21 += dot(lo, x2) + dot(hi, y2); }
      if (ROWS > 3u) { s31 += dot(lo, x3) + dot(hi, y3); }
    }
    if (COLS > 2u) {
      let lo = b_lo(b2 / 8u + p);
      let hi = b_hi(b2 / 8u + p);
      s02 += dot(lo, x0) + dot(hi, y0);
      if (ROWS > 1u) { s12 += dot(lo, x1) + dot(hi, y1); }
      if (ROWS > 2u) { s22 += dot(lo, x2) + dot(hi, y2); }
      if (ROWS > 3u) { s32 += dot(lo, x3) + dot(hi, y3); }
    }
    if (COLS > 3u) {
      let lo = b_lo(b3 / 8u + p);
      let hi = b_hi(b3 / 8u + p);
      s03 += dot(lo, x0) + dot(hi, y0);
      if (ROWS > 1u) { s13 += dot(lo, x1) + dot(hi, y1); }
      if (ROWS > 2u) { s23 += dot(lo, x2) + dot(hi, y2); }
      if (ROWS > 3u) { s33 += dot(lo, x3) + dot(hi, y3); }
    }
  }
#else
  for (var p = 0u; p < P.k; p++) {
    let x0 = a[a0 + p];
    let x1 = a[a1 + p];
    let x2 = a[a2 + p];
    let x3 = a[a3 + p];
    {
      let w = b_elem(b0 + p);
      s00 += w * x0;
      if (ROWS > 1u) { s10 += w * x1; }
      if (ROWS > 2u) { s20 += w * x2; }
      if (ROWS > 3u) { s30 += w * x3; }
    }
    if (COLS > 1u) {
      let w = b_elem(b1 + p);
      s01 += w * x0;
      if (ROWS > 1u) { s11 += w * x1; }
      if (ROWS > 2u) { s21 += w * x2; }
      if (ROWS > 3u) { s31 += w * x3; }
    }
    if (COLS > 2u) {
      let w = b_elem(b2 + p);
      s02 += w * x0;
      if (ROWS > 1u) { s12 += w * x1; }
      if (ROWS > 2u) { s22 += w * x2; }
      if (ROWS > 3u) { s32 += w * x3; }
    }
    if (COLS > 3u) {
      let w = b_elem(b3 + p);
      s03 += w * x0;
      if (ROWS > 1u) { s13 += w * x1; }
      if (ROWS > 2u) { s23 += w * x2; }
      if (ROWS > 3u) { s33 += w * x3; }
    }
  }
#endif
  let out0 = batch * ROWS * P.n + col;
  if (col < P.n) { put(out0, s00); }
  if (col + 1u < P.n) { put(out0 + 1u, s01); }
  if (col + 2u < P.n) { put(out0 + 2u, s02); }
  if (col + 3u < P.n) { put(out0 + 3u, s03); }
  if (ROWS > 1u && col < P.n) { put(out0 + 1u * P.n, s10); }
  if (ROWS > 1u && col + 1u < P.n) { put(out0 + 1u * P.n + 1u, s11); }
  if (ROWS > 1u && col + 2u < P.n) { put(out0 + 1u * P.n + 2u, s12); }
  if (ROWS > 1u && col + 3u < P.n) { put(out0 + 1u * P.n + 3u, s13); }
  if (ROWS > 2u && col < P.n) { put(out0 + 2u * P.n, s20); }
  if (ROWS > 2u && col + 1u < P.n) { put(out0 + 2u * P.n + 1u, s21); }
  if (ROWS > 2u && col + 2u < P.n) { put(out0 + 2u * P.n + 2u, s22); }
  if (ROWS > 2u && col + 3u < P.n) { put(out0 + 2u * P.n + 3u, s23); }
  if (ROWS > 3u && col < P.n) { put(out0 + 3u * P.n, s30); }
  if (ROWS > 3u && col + 1u < P.n) { put(out0 + 3u * P.n + 1u, s31); }
  if (ROWS > 3u && col + 2u < P.n) { put(out0 + 3u * P.n + 2u, s32); }
  if (ROWS > 3u && col + 3u < P.n) { put(out0 + 3u * P.n + 3u, s33); }
}
