// dst[view d] = src[view s] for every idx of the shape: a strided copy in place.
// Every dtype is 32 bits wide on the GPU, so one kernel moves raw words for all of them.
// Host defines pick the walk as in binary.wgsl: FLAT4 (both contiguous, or S_SCALAR: a broadcast
// source element), GRID (with VEC4: in units of vec4), or neither. Operand 0 is src, operand 1 is dst.
#include "common.wgsl"
#include "strided.wgsl"

#if FLAT4
#if S_SCALAR
@group(0) @binding(1) var<storage, read> src: array<u32>;
#else
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
#endif
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if S_SCALAR
  dst[u32(P.off1) + i] = vec4<u32>(src[P.off0]);
#else
  dst[u32(P.off1) + i] = src[u32(P.off0) + i];
#endif
}
#else
#if VEC4
// GRID over whole vec4s: the innermost dimension is contiguous in both views, and the host gave
// shape, strides and offsets in units of 4 words (a transpose of heads moves 16 bytes a load).
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;
#else
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
#endif

#if GRID
@compute @workgroup_size(GX)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  var g = grid_walk(wid, lid);
  if (!g.live) { return; }
  for (var r = g.first; r < g.end; r++) {
    dst[g.o.y] = src[g.o.x];
    g.o += g.do_;
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  let o = view_offsets(i);
  dst[o.y] = src[o.x];
}
#endif
#endif
