// Partial sums of squares of one gradient, for the global-norm clip (engine/optim/clipGradNorm.ts):
// invocation i adds up x[i + j·P.threads]² for j = 0.. (neighbouring invocations read neighbouring
// elements) and writes partials[P.base + i]. Several gradients write disjoint ranges of one
// partials buffer, which a sum (reduce.wgsl) then totals.
#include "common.wgsl"

struct Params { size: u32, threads: u32, base: u32, unused0: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.threads) { return; }
  var acc = 0.0;
  for (var e = i; e < P.size; e += P.threads) {
    let xe = x[e];
    acc += xe * xe;
  }
  partials[P.base + i] = acc;
}
