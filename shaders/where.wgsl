// out[idx] = cond[view c] != 0 ? a[view a] : b[view b] for every idx of the output shape.
// Host defines: COND (storage type of cond), ELEM (storage type of a, b and out).
#include "common.wgsl"
#include "strided.wgsl"

@group(0) @binding(1) var<storage, read> cond: array<COND>;
@group(0) @binding(2) var<storage, read> a: array<ELEM>;
@group(0) @binding(3) var<storage, read> b: array<ELEM>;
@group(0) @binding(4) var<storage, read_write> out: array<ELEM>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  // Operand 0 is cond, 1 is a, 2 is b; the output is contiguous.
  let o = view_offsets(i);
  out[i] = select(b[o.z], a[o.y], cond[o.x] != COND(0));
}
