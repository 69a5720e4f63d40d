// One AdamW update per element (engine/optim/adamw.ts; the CPU loop in engine/optim/cpu.ts
// is the oracle): the composite's operations in the same order, each in f32.
//   g  = g·grad_scale                                       (a folded clip coefficient; ·1 exact)
//   m' = m·β₁ + g·(1 − β₁)
//   v' = v·β₂ + (g·g)·(1 − β₂)
//   p' = p·decay − (m' / (√v' / bc2Sqrt + ε))·stepSize        (decay = 1: p·1 = p exactly)
// Host define T: f32, or vec4<f32> when the size (and, with MASKED, the row size) is a multiple
// of 4; P.size counts T's. MASKED: rows (of P.row_size elements) whose mask is 0 keep p, m and v.
// The per-step scalars live in this uniform block, so a new step needs no new tensors.
#include "common.wgsl"

struct Params {
  size: u32, row_size: u32, lanes: u32, grad_scale: f32,
  beta1: f32, one_minus_beta1: f32, beta2: f32, one_minus_beta2: f32,
  eps: f32, decay: f32, step_size: f32, bc2_sqrt: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> p: array<T>;
@group(0) @binding(2) var<storage, read> g: array<T>;
@group(0) @binding(3) var<storage, read> m: array<T>;
@group(0) @binding(4) var<storage, read> v: array<T>;
@group(0) @binding(5) var<storage, read_write> p_out: array<T>;
@group(0) @binding(6) var<storage, read_write> m_out: array<T>;
@group(0) @binding(7) var<storage, read_write> v_out: array<T>;
#if MASKED
@group(0) @binding(8) var<storage, read> row_mask: array<u32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = work_index(wid, nwg, lid);
  if (i >= P.size) { return; }
#if MASKED
  if (row_mask[(i * P.lanes) / P.row_size] == 0u) {
    p_out[i] = p[i];
    m_out[i] = m[i];
    v_out[i] = v[i];
    return;
  }
#endif
  let gi = g[i] * P.grad_scale;
  let mi = m[i] * P.beta1 + gi * P.one_minus_beta1;
  let vi = v[i] * P.beta2 + (gi * gi) * P.one_minus_beta2;
  let denom = sqrt(vi) / P.bc2_sqrt + P.eps;
  p_out[i] = p[i] * P.decay - (mi / denom) * P.step_size;
  m_out[i] = mi;
  v_out[i] = vi;
}
