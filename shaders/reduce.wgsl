// Sum or max over some axes of a contiguous tensor; one invocation per (output element, chunk).
//
// The host splits the axes into kept and reduced ones and merges neighbours of the same kind.
// Output o starts at Σ keptIndex_d · keptStride_d. Its reduced elements, numbered j = 0..count,
// are read innermost-first: the innermost reduced axis (length inner_len, stride inner_stride)
// is a plain loop, the outer reduced axes are decoded from j / inner_len.
//
// A long reduction with few outputs (a loss summed over a whole tensor) would leave all but one
// invocation idle, so the host may split it into `chunks` pieces per output: this pass writes
// partial results as [outputs, chunks] and a second pass of this same kernel reduces them.
//
// Host defines: ELEM (input storage type), ACC (accumulator and output type), LOWEST (ACC's
// smallest value, the start of a max), OP and START (the reduction's functions below).
//
// Layout, in 32-bit words (engine/backends/webgpu/kernels/reduce.ts writes it):
//   0 size (outputs · chunks), 1 chunks, 2 chunk_len, 3 count, 4 inner_len, 5 inner_stride,
//   6 kept_rank, 7 outer_rank, 8..15 kept shape, 16..23 kept strides, 24..31 outer reduced shape,
//   32..39 outer reduced strides.
#include "common.wgsl"
#include "math.wgsl"

// One pair of functions per reduction (ReduceOp in engine/backend.ts), named after it: the host
// passes op_<name> as the define OP and start_<name> as START.
fn start_sum() -> ACC { return ACC(0); }
fn op_sum(acc: ACC, v: ACC) -> ACC { return acc + v; }
fn start_max() -> ACC { return LOWEST; }
fn op_max(acc: ACC, v: ACC) -> ACC { return max(acc, v); }

struct Params {
  size: u32,
  chunks: u32,
  chunk_len: u32,
  count: u32,
  inner_len: u32,
  inner_stride: u32,
  kept_rank: u32,
  outer_rank: u32,
  kept_shape: array<vec4<u32>, 2>,
  kept_stride: array<vec4<u32>, 2>,
  outer_shape: array<vec4<u32>, 2>,
  outer_stride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> out: array<ACC>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  let output = i / P.chunks;
  let chunk = i % P.chunks;

  var base = 0u;
  var rest = output;
  for (var d = i32(P.kept_rank) - 1; d >= 0; d--) {
    let n = P.kept_shape[d >> 2u][d & 3];
    base += (rest % n) * P.kept_stride[d >> 2u][d & 3];
    rest = rest / n;
  }

  var acc = START();
  let end = min(P.count, (chunk + 1u) * P.chunk_len);
  var j = chunk * P.chunk_len;
  while (j < end) {
    // Decode which run of the innermost reduced axis j falls in.
    let run = j / P.inner_len;
    var offset = base;
    var r = run;
    for (var d = i32(P.outer_rank) - 1; d >= 0; d--) {
      let n = P.outer_shape[d >> 2u][d & 3];
      offset += (r % n) * P.outer_stride[d >> 2u][d & 3];
      r = r / n;
    }
    let stop = min(end - run * P.inner_len, P.inner_len);
    for (var t = j - run * P.inner_len; t < stop; t++) {
      acc = OP(acc, ACC(x[offset + t * P.inner_stride]));
    }
    j = (run + 1u) * P.inner_len;
  }
  out[i] = acc;
}
