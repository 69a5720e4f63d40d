// The SwiGLU gate, elementwise: out = silu(a)·b = a·σ(a)·b, and its BACKWARD:
//   db = g·a·σ(a),  da = g·b·σ(a)·(1 + a·(1 − σ(a))).
// Host defines T: f32, or vec4<f32> when the size is a multiple of 4 (P.size counts T's), and
// SIGMA: the stable σ of math.wgsl for that type (sigmoid_stable or sigmoid_stable4).
#include "common.wgsl"
#include "math.wgsl"

struct Params { size: u32, unused0: u32, unused1: u32, unused2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
#if BACKWARD
@group(0) @binding(3) var<storage, read> g: array<T>;
@group(0) @binding(4) var<storage, read_write> da: array<T>;
@group(0) @binding(5) var<storage, read_write> db: array<T>;
#else
@group(0) @binding(3) var<storage, read_write> out: array<T>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
  let x = a[i];
  let s = SIGMA(x);
#if BACKWARD
  db[i] = g[i] * x * s;
  da[i] = g[i] * b[i] * s * (T(1.0) + x * (T(1.0) - s));
#else
  out[i] = x * s * b[i];
#endif
}
