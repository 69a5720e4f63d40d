// Index of the first maximum along one axis of a contiguous tensor viewed as [outer, len, inner];
// one invocation per (outer, inner) pair. A strict `>` keeps the first of equal maxima.
// Host define: ELEM (storage type of x).
#include "common.wgsl"

struct Params { size: u32, len: u32, inner: u32, unused: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  let base = (i / P.inner) * P.len * P.inner + i % P.inner;
  var best = x[base];
  var best_j = 0u;
  for (var j = 1u; j < P.len; j++) {
    let v = x[base + j * P.inner];
    if (v > best) {
      best = v;
      best_j = j;
    }
  }
  out[i] = i32(best_j);
}
