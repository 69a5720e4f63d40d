// out[idx] = cond[view c] != 0 ? a[view a] : b[view b] for every idx of the output shape.
// Host defines: COND (storage type of cond), ELEM (storage type of a, b and out), and the walk
// (FLAT4 with C_SCALAR / A_SCALAR / B_SCALAR, or GRID, or neither) as in binary.wgsl.
#include "common.wgsl"
#include "strided.wgsl"

#if FLAT4
#if C_SCALAR
@group(0) @binding(1) var<storage, read> cond: array<COND>;
#else
@group(0) @binding(1) var<storage, read> cond: array<vec4<COND>>;
#endif
#if A_SCALAR
@group(0) @binding(2) var<storage, read> a: array<ELEM>;
#else
@group(0) @binding(2) var<storage, read> a: array<vec4<ELEM>>;
#endif
#if B_SCALAR
@group(0) @binding(3) var<storage, read> b: array<ELEM>;
#else
@group(0) @binding(3) var<storage, read> b: array<vec4<ELEM>>;
#endif
@group(0) @binding(4) var<storage, read_write> out: array<vec4<ELEM>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if C_SCALAR
  let c = vec4<bool>(cond[P.off0] != COND(0));
#else
  let c = cond[u32(P.off0) + i] != vec4<COND>(COND(0));
#endif
#if A_SCALAR
  let x = vec4<ELEM>(a[P.off1]);
#else
  let x = a[u32(P.off1) + i];
#endif
#if B_SCALAR
  let y = vec4<ELEM>(b[P.off2]);
#else
  let y = b[u32(P.off2) + i];
#endif
  out[i] = select(y, x, c);
}
#else
@group(0) @binding(1) var<storage, read> cond: array<COND>;
@group(0) @binding(2) var<storage, read> a: array<ELEM>;
@group(0) @binding(3) var<storage, read> b: array<ELEM>;
@group(0) @binding(4) var<storage, read_write> out: array<ELEM>;

#if GRID
@compute @workgroup_size(GX)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  var g = grid_walk(wid, lid);
  if (!g.live) { return; }
  for (var r = g.first; r < g.end; r++) {
    out[g.i] = select(b[g.o.z], a[g.o.y], cond[g.o.x] != COND(0));
    g.i += g.di;
    g.o += g.do_;
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  // Operand 0 is cond, 1 is a, 2 is b; the output is contiguous.
  let o = view_offsets(i);
  out[i] = select(b[o.z], a[o.y], cond[o.x] != COND(0));
}
#endif
#endif
