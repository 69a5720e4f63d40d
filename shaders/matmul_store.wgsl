// Where the matmul kernels (matmul_blocked.wgsl, matmul_tiled.wgsl) write a result: `put(i, v)`
// stores the product element v at out[i]. With ADD_SCALED it stores addend[i] + add_scale * v (the
// tail of a LoRA linear, W x + s·B(A x), in one kernel instead of matmul, mul and add), rounded as
// the separate kernels round: the product scaled, then added. The includer's Params has add_scale.

@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if ADD_SCALED
@group(0) @binding(4) var<storage, read> addend: array<f32>;
fn put(i: u32, v: f32) { out[i] = addend[i] + P.add_scale * v; }
#else
fn put(i: u32, v: f32) { out[i] = v; }
#endif
