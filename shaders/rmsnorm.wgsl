// RMSNorm over the last axis of x [rows, cols] with weight w [cols], one invocation per row.
//   forward:  inv = 1/√(mean(x²) + eps), y = x·inv·w
//   BACKWARD: dx = inv·g·w − x·inv³·mean(g·w·x); with WANT_DW also gxi = g·x·inv (summed over
//             rows by the host into dw)
// Host define VEC4: cols is a multiple of 4 (rows read as vec4).
#include "rows.wgsl"

struct Params { rows: u32, cols: u32, eps: f32, unused: u32 }
@group(0) @binding(0) var<uniform> P: Params;
#if VEC4
alias V = vec4<f32>;
#else
alias V = f32;
#endif
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
#if BACKWARD
@group(0) @binding(3) var<storage, read> inv: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<V>;
@group(0) @binding(5) var<storage, read_write> dx: array<V>;
#if WANT_DW
@group(0) @binding(6) var<storage, read_write> gxi: array<V>;
#endif
#else
@group(0) @binding(3) var<storage, read_write> y: array<V>;
@group(0) @binding(4) var<storage, read_write> inv: array<f32>;
#endif

fn total(v: V) -> f32 {
#if VEC4
  return v.x + v.y + v.z + v.w;
#else
  return v;
#endif
}

@compute @workgroup_size(RW)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = row_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
#if VEC4
  let n = P.cols / 4u;
#else
  let n = P.cols;
#endif
  let o = r * n;
#if BACKWARD
  let k = inv[r];
  var dot = V();
  for (var c = 0u; c < n; c++) { dot += g[o + c] * w[c] * x[o + c]; }
  let coef = k * k * k * total(dot) / f32(P.cols);
  for (var c = 0u; c < n; c++) {
    dx[o + c] = k * g[o + c] * w[c] - x[o + c] * coef;
#if WANT_DW
    gxi[o + c] = g[o + c] * x[o + c] * k;
#endif
  }
#else
  var s = V();
  for (var c = 0u; c < n; c++) { s += x[o + c] * x[o + c]; }
  let k = inverseSqrt(total(s) / f32(P.cols) + P.eps);
  inv[r] = k;
  for (var c = 0u; c < n; c++) { y[o + c] = x[o + c] * k * w[c]; }
#endif
}
