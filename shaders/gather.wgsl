// torch.gather: out[idx] = x[idx with idx[axis] replaced by index[idx]], over the index's shape.
// Moves raw 32-bit words, so one kernel serves every 32-bit dtype. X_HALF: x is 16-bit (a frozen
// bfloat16 / float16 embedding, HALF_BF16 or HALF_F16), two elements per word; each element read
// is widened and written as the f32's bits.
//
// Layout, in 32-bit words: 0 size, 1 rank, 2 x's stride along the axis, 3..7 unused,
// 8..15 the index's shape, 16..23 x's strides (0 for the axis, which `index` supplies).
#include "common.wgsl"

struct Params {
  size: u32,
  rank: u32,
  axis_stride: u32,
  unused0: u32,
  unused1: u32,
  unused2: u32,
  unused3: u32,
  unused4: u32,
  shape: array<vec4<u32>, 2>,
  x_stride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
#if X_HALF
#include "half.wgsl"
fn x_elem(i: u32) -> u32 { return bitcast<u32>(widen2(x[i >> 1u])[i & 1u]); }
#else
fn x_elem(i: u32) -> u32 { return x[i]; }
#endif
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  var offset = u32(index[i]) * P.axis_stride;
  var rest = i;
  for (var d = i32(P.rank) - 1; d >= 0; d--) {
    let n = P.shape[d >> 2u][d & 3];
    offset += (rest % n) * P.x_stride[d >> 2u][d & 3];
    rest = rest / n;
  }
  out[i] = x_elem(offset);
}
