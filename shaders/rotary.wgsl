// Rotary embedding ("rotate half"): x [B, H, S, D], cos and sin [B, 1, S, D]. One invocation per
// (b, h, s) row: grid x over S in workgroups of 64, y = H, z = B (no index division).
//   forward:   y₁ = x₁·cos₁ − x₂·sin₁,  y₂ = x₂·cos₂ + x₁·sin₂
//   TRANSPOSE: y₁ = x₁·cos₁ + x₂·sin₂,  y₂ = x₂·cos₂ − x₁·sin₁   (the gradient: x is then g)
struct Params { heads: u32, seq: u32, dim: u32, unused: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = wid.x * 64u + lid.x;
  if (s >= P.seq) { return; }
  let o = ((wid.z * P.heads + wid.y) * P.seq + s) * P.dim;
  let t = (wid.z * P.seq + s) * P.dim;
  let half = P.dim / 2u;
  for (var i = 0u; i < half; i++) {
    let x1 = x[o + i];
    let x2 = x[o + i + half];
#if TRANSPOSE
    out[o + i] = x1 * cos_t[t + i] + x2 * sin_t[t + i + half];
    out[o + i + half] = x2 * cos_t[t + i + half] - x1 * sin_t[t + i];
#else
    out[o + i] = x1 * cos_t[t + i] - x2 * sin_t[t + i];
    out[o + i + half] = x2 * cos_t[t + i + half] + x1 * sin_t[t + i + half];
#endif
  }
}
