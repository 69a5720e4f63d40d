// Softmax along the last axis of x [rows, cols], one invocation per row, and its backward.
//   forward:  out = exp(x − max) / Σ exp(x − max)
//   BACKWARD: out = y · (g − Σ g·y), from the forward's output y and the upstream gradient g
#include "rows.wgsl"
#include "math.wgsl"

struct Params { rows: u32, cols: u32, unused0: u32, unused1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
#if BACKWARD
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

@compute @workgroup_size(RW)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = row_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let o = r * P.cols;
#if BACKWARD
  var dot = 0.0;
  for (var c = 0u; c < P.cols; c++) { dot += g[o + c] * y[o + c]; }
  for (var c = 0u; c < P.cols; c++) { out[o + c] = y[o + c] * (g[o + c] - dot); }
#else
  var m = neg_inf_f32();
  for (var c = 0u; c < P.cols; c++) { m = max(m, x[o + c]); }
  var s = 0.0;
  for (var c = 0u; c < P.cols; c++) {
    let e = exp(x[o + c] - m);
    out[o + c] = e;
    s += e;
  }
  for (var c = 0u; c < P.cols; c++) { out[o + c] = out[o + c] / s; }
#endif
}
