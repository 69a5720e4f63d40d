// out[idx] = op(a[view a], b[view b]) for every idx of the output shape.
//
// Host defines:
//   ELEM    storage type of a and b (f32, i32, or u32 holding a bool)
//   CT      type the op computes in (f32 or i32; bools compute as i32)
//   OUT     storage type of out (u32 for comparisons, which give bools)
//   TO_OUT  how an arithmetic result is stored: f32, i32, or to_bool (bool arithmetic)
//   IS_INT  true when CT is i32
// Override OP picks the operation (codes below; engine/backends/webgpu/kernels/elementwise.ts).
#include "common.wgsl"
#include "strided.wgsl"
#include "math.wgsl"

override OP: u32;
const ADD = 0u; const SUB = 1u; const MUL = 2u; const DIV = 3u; const POW = 4u;
const MAXIMUM = 5u; const MINIMUM = 6u;
const EQ = 7u; const NE = 8u; const LT = 9u; const LE = 10u; const GT = 11u; const GE = 12u;

@group(0) @binding(1) var<storage, read> a: array<ELEM>;
@group(0) @binding(2) var<storage, read> b: array<ELEM>;
@group(0) @binding(3) var<storage, read_write> out: array<OUT>;

fn to_bool(x: CT) -> u32 { return u32(x != CT(0)); }

fn divide(x: CT, y: CT) -> CT {
#if IS_INT
  // JavaScript stores x / 0 (±Infinity or NaN) into an Int32Array as 0; WGSL would return x.
  if (y == 0) { return 0; }
#endif
  return x / y;
}

fn arith(x: CT, y: CT) -> CT {
  switch OP {
    case ADD: { return x + y; }
    case SUB: { return x - y; }
    case MUL: { return x * y; }
    case DIV: { return divide(x, y); }
    case POW: { return CT(pow_js(f32(x), f32(y))); }
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  let o = view_offsets(i);
  let x = CT(a[o.x]);
  let y = CT(b[o.y]);
  if (OP >= EQ) {
    out[i] = OUT(compare(x, y));
  } else {
    out[i] = TO_OUT(arith(x, y));
  }
}
