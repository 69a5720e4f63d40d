// out[i] = op(x[i]) over a whole contiguous storage.
//
// Host defines: ELEM (storage type of x and out: f32 or i32), CT (the same, as the compute type),
// VEC4 (the size is a multiple of 4: each invocation does one vec4; P.size counts vec4s then).
// Override OP picks the operation. On int32, neg/abs/sign/relu are exact and the rest are
// computed in f32 and truncated, as storing Math.exp(x) into an Int32Array would.
#include "common.wgsl"
#include "math.wgsl"

override OP: u32;
const NEG = 0u; const EXP = 1u; const LOG = 2u; const SQRT = 3u; const RSQRT = 4u; const ABS = 5u;
const SIN = 6u; const COS = 7u; const TANH = 8u; const SIGMOID = 9u; const RELU = 10u; const SIGN = 11u;

struct Params { size: u32, unused0: u32, unused1: u32, unused2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<ELEM>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<ELEM>>;
#else
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> out: array<ELEM>;
#endif

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

fn apply_elem(v: ELEM) -> ELEM { return ELEM(apply(CT(v))); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if VEC4
  let v = x[i];
  out[i] = vec4<ELEM>(apply_elem(v.x), apply_elem(v.y), apply_elem(v.z), apply_elem(v.w));
#else
  out[i] = apply_elem(x[i]);
#endif
}
