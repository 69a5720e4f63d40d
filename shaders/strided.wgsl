// Operands read (or written) through views. Element idx of the output, row-major over `shape`,
// lives at off_k + Σ_d idx_d · stride_k[d] in operand k (a stride of 0 repeats an element:
// broadcasting). The host merges dimensions that are contiguous in every operand first, so a
// plain contiguous operation arrives here with rank 1.
//
// Layout, in 32-bit words (engine/backends/webgpu/strided.ts writes it):
//   0 size, 1 rank, 2..4 offsets of operands 0..2, 5..7 unused,
//   8..15 shape, 16..23 strides of operand 0, 24..31 operand 1, 32..39 operand 2.
struct Strided {
  size: u32,
  rank: u32,
  off0: i32,
  off1: i32,
  off2: i32,
  unused0: u32,
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
