// Batched matrix product for real GPUs: classic shared-memory tiling.
//
// Same contract and Params as matmul_blocked.wgsl (operands read through strides, so transposes
// and broadcast batches are free). A workgroup of 16 × 16 invocations computes a 64 × 64 tile of
// the output, each invocation a 4 × 4 block. Per step of 16 along k, the workgroup stages a
// 64 × 16 slice of A and a 16 × 64 slice of B in workgroup memory (each invocation loads 4 + 4
// elements, zero outside the matrices), then every invocation reads them 4 × 16 + 16 × 4 times.
// B_HALF: B is 16-bit (a frozen bfloat16 / float16 weight, HALF_BF16 or HALF_F16), two elements
// per u32 word, widened to f32 as it is staged. ADD_SCALED: out = addend + add_scale · product.

const TILE = 64u;
const KT = 16u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  a_batch_stride: u32,
  b_batch_stride: u32,
  a_row_stride: u32,
  a_k_stride: u32,
  b_k_stride: u32,
  b_col_stride: u32,
  unused0: u32,
  unused1: u32,
  add_scale: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#include "matmul_b_elem.wgsl"
#include "matmul_store.wgsl"

var<workgroup> a_tile: array<array<f32, TILE>, KT>;   // [k][row]
var<workgroup> b_tile: array<array<f32, TILE>, KT>;   // [k][col]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let a_base = wid.z * P.a_batch_stride;
  let b_base = wid.z * P.b_batch_stride;
  let flat = lid.y * 16u + lid.x;   // 0..255

  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < P.k; k0 += KT) {
    // 256 invocations fill 16 × 64 = 1024 slots of each tile, four each.
    for (var t = 0u; t < 4u; t++) {
      let slot = flat + t * 256u;
      let kk = slot / TILE;
      let i = slot % TILE;
      let k = k0 + kk;
      let row = row0 + i;
      let col = col0 + i;
      var av = 0.0;
      if (k < P.k && row < P.m) { av = a[a_base + row * P.a_row_stride + k * P.a_k_stride]; }
      var bv = 0.0;
      if (k < P.k && col < P.n) { bv = b_elem(b_base + k * P.b_k_stride + col * P.b_col_stride); }
      a_tile[kk][i] = av;
      b_tile[kk][i] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        ar[i] = a_tile[kk][lid.y * 4u + i];
        br[i] = b_tile[kk][lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] = fma(ar[i], br[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
  }

  let out_base = wid.z * P.m * P.n;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + lid.x * 4u + j;
      if (row < P.m && col < P.n) { put(out_base + row * P.n + col, acc[i][j]); }
    }
  }
}
