// torch.scatter_add, deterministic: out (already a copy of base) gets
// out[idx with idx[axis] replaced by index[idx]] += src[idx] for every idx of the index's shape.
//
// WGSL has no float atomics, so instead of one invocation per source element (which would race)
// there is one invocation per column: per set of index coordinates other than `axis`. A column
// only ever writes output elements of its own column, and it walks the axis in order, so the
// sums are exactly the CPU backend's, in the same order.
//
// Host define: ELEM (f32 or i32).
// Layout, in 32-bit words: 0 columns, 1 rank, 2 len (index's size along the axis),
// 3 index stride along the axis, 4 out stride along the axis, 5..7 unused,
// 8..15 column shape (the index's shape with the axis set to 1), 16..23 index strides,
// 24..31 out strides.
#include "common.wgsl"

struct Params {
  columns: u32,
  rank: u32,
  len: u32,
  index_axis_stride: u32,
  out_axis_stride: u32,
  unused0: u32,
  unused1: u32,
  unused2: u32,
  shape: array<vec4<u32>, 2>,
  index_stride: array<vec4<u32>, 2>,
  out_stride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read> src: array<ELEM>;
@group(0) @binding(3) var<storage, read_write> out: array<ELEM>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = work_index(wid, nwg, lid);
  if (c >= P.columns) { return; }
  var index_at = 0u;
  var out_at = 0u;
  var rest = c;
  for (var d = i32(P.rank) - 1; d >= 0; d--) {
    let n = P.shape[d >> 2u][d & 3];
    let k = rest % n;
    rest = rest / n;
    index_at += k * P.index_stride[d >> 2u][d & 3];
    out_at += k * P.out_stride[d >> 2u][d & 3];
  }
  for (var j = 0u; j < P.len; j++) {
    let p = index_at + j * P.index_axis_stride;
    let t = out_at + u32(index[p]) * P.out_axis_stride;
    out[t] = out[t] + src[p];
  }
}
