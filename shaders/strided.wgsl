// Operands read (or written) through views. Element idx of the output, row-major over `shape`,
// lives at off_k + Σ_d idx_d · stride_k[d] in operand k (a stride of 0 repeats an element:
// broadcasting). The host merges dimensions that are contiguous in every operand first, so a
// plain contiguous operation arrives here with rank 1.
//
// Layout, in 32-bit words (engine/backends/webgpu/strided.ts writes it):
//   0 size, 1 rank, 2..4 offsets of operands 0..2, 5 rows per workgroup (grid mode), 6..7 unused,
//   8..15 shape, 16..23 strides of operand 0, 24..31 operand 1, 32..39 operand 2.
struct Strided {
  size: u32,
  rank: u32,
  off0: i32,
  off1: i32,
  off2: i32,
  rows: u32,      // grid mode: rows of d2 per workgroup
  unused1: u32,
  unused2: u32,
  shape: array<vec4<u32>, 2>,
  stride0: array<vec4<i32>, 2>,
  stride1: array<vec4<i32>, 2>,
  stride2: array<vec4<i32>, 2>,
}

@group(0) @binding(0) var<uniform> P: Strided;

// Where output element i lives in each of the (up to three) operands.
fn view_offsets(i: u32) -> vec3<i32> {
  var rest = i;
  var o = vec3<i32>(P.off0, P.off1, P.off2);
  for (var d = i32(P.rank) - 1; d >= 0; d--) {
    let n = P.shape[d >> 2u][d & 3];
    let c = i32(rest % n);
    rest = rest / n;
    o += c * vec3<i32>(P.stride0[d >> 2u][d & 3], P.stride1[d >> 2u][d & 3], P.stride2[d >> 2u][d & 3]);
  }
  return o;
}

// ---- grid mode (host define GRID) ------------------------------------------------------------
// At most 4 dimensions [d0, d1, d2, d3] (shape row 0, strides row 0 of each operand), spread over
// the dispatch grid: x covers d3 in workgroups of GX invocations, y covers d2 in blocks of
// P.rows rows (each invocation loops over them), z is d0·d1. Integer division is a per-lane loop
// on CPU adapters and each workgroup has a fixed cost on them, so this mode avoids divisions and
// gives every workgroup a few thousand elements. GX (an override the host sets, 8 to 64) is about
// d3, so a narrow innermost dimension does not leave most SIMD lanes idle.
override GX: u32 = 64u;

// Element (i0, i1, r, i3) for the first row r of this workgroup's block: `i` is its row-major
// index in the output, `o` where it lives in each operand; `di` and `do_` step one row further.
struct GridWalk {
  i: u32,
  o: vec3<i32>,
  di: u32,
  do_: vec3<i32>,
  first: u32,
  end: u32,
  live: bool,
}

fn grid_walk(wid: vec3<u32>, lid: vec3<u32>) -> GridWalk {
  let d = P.shape[0];
  let i3 = wid.x * GX + lid.x;
  let i1 = wid.z % d.y;
  let i0 = wid.z / d.y;
  let first = wid.y * P.rows;
  let c = vec4<i32>(vec4<u32>(i0, i1, first, i3));
  let o = vec3<i32>(P.off0 + dot(c, P.stride0[0]), P.off1 + dot(c, P.stride1[0]), P.off2 + dot(c, P.stride2[0]));
  let step = vec3<i32>(P.stride0[0].z, P.stride1[0].z, P.stride2[0].z);
  return GridWalk(((i0 * d.y + i1) * d.z + first) * d.w + i3, o, d.w, step, first,
    min(first + P.rows, d.z), i3 < d.w);
}
