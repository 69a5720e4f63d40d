// The k largest values of each row of x [rows, cols], in descending order, ties lower index first.
// One invocation per row makes k passes; pass p picks the largest element that comes after
// pass p-1's pick in the order (value descending, index ascending), so no scratch memory is needed.
// Host defines: ELEM (storage type of x and values), LOWEST (ELEM's smallest value).
#include "common.wgsl"
#include "math.wgsl"

struct Params { rows: u32, cols: u32, k: u32, unused: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> values: array<ELEM>;
@group(0) @binding(3) var<storage, read_write> indices: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = work_index(wid, nwg, lid);
  if (row >= P.rows) { return; }
  let base = row * P.cols;
  var prev_v = LOWEST;
  var prev_j = -1;
  for (var p = 0u; p < P.k; p++) {
    var best_v = LOWEST;
    var best_j = -1;
    for (var j = 0; j < i32(P.cols); j++) {
      let v = x[base + u32(j)];
      let after_prev = p == 0u || v < prev_v || (v == prev_v && j > prev_j);
      if (after_prev && (best_j < 0 || v > best_v)) {
        best_v = v;
        best_j = j;
      }
    }
    values[row * P.k + p] = best_v;
    indices[row * P.k + p] = best_j;
    prev_v = best_v;
    prev_j = best_j;
  }
}
