// Converts element types. Host defines: IN and OUT (storage types f32, i32, u32 = bool), and
// TO_BOOL when the result is a bool (anything → bool is `!= 0`). WGSL's f32 → i32 conversion
// truncates toward zero, like storing into an Int32Array (it saturates where JS would wrap).
#include "common.wgsl"

struct Params { size: u32, unused0: u32, unused1: u32, unused2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<IN>;
@group(0) @binding(2) var<storage, read_write> out: array<OUT>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if TO_BOOL
  out[i] = u32(x[i] != IN(0));
#else
  out[i] = OUT(x[i]);
#endif
}
