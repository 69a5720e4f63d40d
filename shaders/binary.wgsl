// out[idx] = op(a[view a], b[view b]) for every idx of the output shape.
//
// Host defines:
//   ELEM    storage type of a and b (f32, i32, or u32 holding a bool)
//   CT      type the op computes in (f32 or i32; bools compute as i32)
//   OUT     storage type of out (u32 for comparisons, which give bools)
//   TO_OUT  how an arithmetic result is stored: f32, i32, or to_bool (bool arithmetic)
//   IS_INT  true when CT is i32
//   OP      the op's function, op_<name> below; COMPARISON when it returns bool
//   how the operands are walked (engine/backends/webgpu/strided.ts, planWalk):
//   FLAT4   each invocation does 4 consecutive elements; A_SCALAR / B_SCALAR: that operand is
//           one broadcast element, else it is contiguous and bound as vec4
//   GRID    up to 4 dimensions over the dispatch grid (see strided.wgsl)
//   neither: any views, decoded per element
#include "common.wgsl"
#include "strided.wgsl"
#include "math.wgsl"

#if FLAT4
#if A_SCALAR
@group(0) @binding(1) var<storage, read> a: array<ELEM>;
#else
@group(0) @binding(1) var<storage, read> a: array<vec4<ELEM>>;
#endif
#if B_SCALAR
@group(0) @binding(2) var<storage, read> b: array<ELEM>;
#else
@group(0) @binding(2) var<storage, read> b: array<vec4<ELEM>>;
#endif
@group(0) @binding(3) var<storage, read_write> out: array<vec4<OUT>>;
#else
@group(0) @binding(1) var<storage, read> a: array<ELEM>;
@group(0) @binding(2) var<storage, read> b: array<ELEM>;
@group(0) @binding(3) var<storage, read_write> out: array<OUT>;
#endif

fn to_bool(x: CT) -> u32 { return u32(x != CT(0)); }

// One function per binary op of engine/ops/elementwise/ops.ts (BINARY_OPS), named op_<name>:
// the host passes that name as the define OP, so the op's name is the only link.
fn op_add(x: CT, y: CT) -> CT { return x + y; }
fn op_sub(x: CT, y: CT) -> CT { return x - y; }
fn op_mul(x: CT, y: CT) -> CT { return x * y; }

fn op_div(x: CT, y: CT) -> CT {
#if IS_INT
  // JavaScript stores x / 0 (±Infinity or NaN) into an Int32Array as 0; WGSL would return x.
  if (y == 0) { return 0; }
#endif
  return x / y;
}

fn op_pow(x: CT, y: CT) -> CT {
  let r = pow_js(f32(x), f32(y));
#if IS_INT
  // An Int32Array stores ±Infinity and NaN (0 to a negative power…) as 0; WGSL would saturate.
  if (!(abs(r) < 2147483648.0)) { return 0; }
#endif
  return CT(r);
}

fn op_maximum(x: CT, y: CT) -> CT { return max(x, y); }
fn op_minimum(x: CT, y: CT) -> CT { return min(x, y); }
fn op_eq(x: CT, y: CT) -> bool { return x == y; }
fn op_ne(x: CT, y: CT) -> bool { return x != y; }
fn op_lt(x: CT, y: CT) -> bool { return x < y; }
fn op_le(x: CT, y: CT) -> bool { return x <= y; }
fn op_gt(x: CT, y: CT) -> bool { return x > y; }
fn op_ge(x: CT, y: CT) -> bool { return x >= y; }

fn result(x: CT, y: CT) -> OUT {
#if COMPARISON
  return OUT(OP(x, y));
#else
  return TO_OUT(OP(x, y));
#endif
}

#if FLAT4
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if A_SCALAR
  let x = vec4<CT>(CT(a[P.off0]));
#else
  let x = vec4<CT>(a[u32(P.off0) + i]);
#endif
#if B_SCALAR
  let y = vec4<CT>(CT(b[P.off1]));
#else
  let y = vec4<CT>(b[u32(P.off1) + i]);
#endif
  out[i] = vec4<OUT>(result(x.x, y.x), result(x.y, y.y), result(x.z, y.z), result(x.w, y.w));
}
#else
#if GRID
@compute @workgroup_size(GX)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  var g = grid_walk(wid, lid);
  if (!g.live) { return; }
  for (var r = g.first; r < g.end; r++) {
    out[g.i] = result(CT(a[g.o.x]), CT(b[g.o.y]));
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
  let o = view_offsets(i);
  out[i] = result(CT(a[o.x]), CT(b[o.y]));
}
#endif
#endif
