// dst[view d] = src[view s] for every idx of the shape: a strided copy in place.
// Every dtype is 32 bits wide on the GPU, so one kernel moves raw words for all of them.
#include "common.wgsl"
#include "strided.wgsl"

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  // Operand 0 is src, operand 1 is dst.
  let o = view_offsets(i);
  dst[o.y] = src[o.x];
}
