// Sets every element to one value, given as its 32-bit pattern (so one kernel serves all dtypes).
#include "common.wgsl"

struct Params { size: u32, bits: u32, unused0: u32, unused1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  dst[i] = P.bits;
}
