// out[i] = op(x[i]) over a whole contiguous storage.
//
// Host defines: ELEM (storage type of x and out: f32 or i32), CT (the same, as the compute type).
// Override OP picks the operation. On int32, neg/abs/sign/relu are exact and the rest are
// computed in f32 and truncated, as storing Math.exp(x) into an Int32Array would.
#include "common.wgsl"
#include "math.wgsl"

override OP: u32;
const NEG = 0u; const EXP = 1u; const LOG = 2u; const SQRT = 3u; const RSQRT = 4u; const ABS = 5u;
const SIN = 6u; const COS = 7u; const TANH = 8u; const SIGMOID = 9u; const RELU = 10u; const SIGN = 11u;

struct Params { size: u32, unused0: u32, unused1: u32, unused2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> out: array<ELEM>;

fn float_op(v: f32) -> f32 {
  switch OP {
    case EXP: { return exp(v); }
    case LOG: { return log(v); }
    case SQRT: { return sqrt(v); }
    case RSQRT: { return inverseSqrt(v); }
    case SIN: { return sin(v); }
    case COS: { return cos(v); }
    case TANH: { return tanh_stable(v); }
    default: { return sigmoid_stable(v); }
  }
}

fn apply(v: CT) -> CT {
  switch OP {
    case NEG: { return -v; }
    case ABS: { return abs(v); }
    case RELU: { return max(v, CT(0)); }
    case SIGN: { return select(select(CT(0), CT(1), v > CT(0)), CT(-1), v < CT(0)); }
    default: { return CT(float_op(f32(v))); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  out[i] = ELEM(apply(CT(x[i])));
}
