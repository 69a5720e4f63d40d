// out[i] = op(x[i]) over a whole contiguous storage.
//
// Host defines: ELEM (storage type of x and out: f32 or i32), CT (the same, as the compute type),
// VEC4 (the size is a multiple of 4: each invocation does one vec4; P.size counts vec4s then),
// OP (the op's function below). On int32, neg/abs/sign/relu are exact and the rest are computed
// in f32 and truncated, as storing Math.exp(x) into an Int32Array would.
#include "common.wgsl"
#include "math.wgsl"

// One function per unary op of engine/ops/elementwise/ops.ts (UNARY_OPS), named op_<name>:
// the host passes that name as the define OP, so the op's name is the only link.
fn op_neg(v: CT) -> CT { return -v; }
fn op_abs(v: CT) -> CT { return abs(v); }
fn op_relu(v: CT) -> CT { return max(v, CT(0)); }
fn op_sign(v: CT) -> CT { return select(select(CT(0), CT(1), v > CT(0)), CT(-1), v < CT(0)); }
fn op_exp(v: CT) -> CT { return CT(exp(f32(v))); }
fn op_log(v: CT) -> CT { return CT(log(f32(v))); }
fn op_sqrt(v: CT) -> CT { return CT(sqrt(f32(v))); }
fn op_rsqrt(v: CT) -> CT { return CT(inverseSqrt(f32(v))); }
fn op_sin(v: CT) -> CT { return CT(sin(f32(v))); }
fn op_cos(v: CT) -> CT { return CT(cos(f32(v))); }
fn op_tanh(v: CT) -> CT { return CT(tanh_stable(f32(v))); }
fn op_sigmoid(v: CT) -> CT { return CT(sigmoid_stable(f32(v))); }

struct Params { size: u32, unused0: u32, unused1: u32, unused2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<ELEM>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<ELEM>>;
#else
@group(0) @binding(1) var<storage, read> x: array<ELEM>;
@group(0) @binding(2) var<storage, read_write> out: array<ELEM>;
#endif

fn apply_elem(v: ELEM) -> ELEM { return ELEM(OP(CT(v))); }

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
