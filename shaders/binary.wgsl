// out[idx] = op(a[view a], b[view b]) for every idx of the output shape.
//
// Host defines:
//   ELEM    storage type of a and b (f32, i32, or u32 holding a bool)
//   CT      type the op computes in (f32 or i32; bools compute as i32)
//   OUT     storage type of out (u32 for comparisons, which give bools)
//   TO_OUT  how an arithmetic result is stored: f32, i32, or to_bool (bool arithmetic)
//   IS_INT  true when CT is i32
//   how the operands are walked (engine/backends/webgpu/strided.ts, planWalk):
//   FLAT4   each invocation does 4 consecutive elements; A_SCALAR / B_SCALAR: that operand is
//           one broadcast element, else it is contiguous and bound as vec4
//   GRID    up to 4 dimensions over the dispatch grid (see strided.wgsl)
//   neither: any views, decoded per element
// Override OP picks the operation (codes below; engine/backends/webgpu/kernels/elementwise.ts).
#include "common.wgsl"
#include "strided.wgsl"
#include "math.wgsl"

override OP: u32;
const ADD = 0u; const SUB = 1u; const MUL = 2u; const DIV = 3u; const POW = 4u;
const MAXIMUM = 5u; const MINIMUM = 6u;
const EQ = 7u; const NE = 8u; const LT = 9u; const LE = 10u; const GT = 11u; const GE = 12u;

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

fn divide(x: CT, y: CT) -> CT {
#if IS_INT
  // JavaScript stores x / 0 (±Infinity or NaN) into an Int32Array as 0; WGSL would return x.
  if (y == 0) { return 0; }
#endif
  return x / y;
}

fn power(x: CT, y: CT) -> CT {
  let r = pow_js(f32(x), f32(y));
#if IS_INT
  // An Int32Array stores ±Infinity and NaN (0 to a negative power…) as 0; WGSL would saturate.
  if (!(abs(r) < 2147483648.0)) { return 0; }
#endif
  return CT(r);
}

fn arith(x: CT, y: CT) -> CT {
  switch OP {
    case ADD: { return x + y; }
    case SUB: { return x - y; }
    case MUL: { return x * y; }
    case DIV: { return divide(x, y); }
    case POW: { return power(x, y); }
    case MAXIMUM: { return max(x, y); }
    default: { return min(x, y); }
  }
}

fn compare(x: CT, y: CT) -> bool {
  switch OP {
    case EQ: { return x == y; }
    case NE: { return x != y; }
    case LT: { return x < y; }
    case LE: { return x <= y; }
    case GT: { return x > y; }
    default: { return x >= y; }
  }
}

fn result(x: CT, y: CT) -> OUT {
  if (OP >= EQ) { return OUT(compare(x, y)); }
  return TO_OUT(arith(x, y));
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
