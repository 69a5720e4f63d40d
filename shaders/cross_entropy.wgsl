// Cross-entropy per row of logits [rows, cols] with int32 targets [rows], one invocation per row.
//   forward:  lse = log Σ exp(row), loss = lse − row[target] (0 where target = IGNORE)
//   BACKWARD: out = g[row]·(exp(row − lse) − onehot(target)), 0 on ignored rows
// Targets must be in range (the CPU backend checks; here an out-of-range one reads a clamped slot).
#include "rows.wgsl"
#include "math.wgsl"

struct Params { rows: u32, cols: u32, ignore: i32, unused: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
#if BACKWARD
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
#endif

@compute @workgroup_size(RW)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = row_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let o = r * P.cols;
  let t = targets[r];
  let kept = t != P.ignore;
  let tc = u32(clamp(t, 0, i32(P.cols) - 1));
#if BACKWARD
  let l = lse[r];
  let gr = select(0.0, g[r], kept);
  for (var c = 0u; c < P.cols; c++) {
    out[o + c] = gr * (exp(x[o + c] - l) - select(0.0, 1.0, c == tc));
  }
#else
  var m = neg_inf_f32();
  for (var c = 0u; c < P.cols; c++) { m = max(m, x[o + c]); }
  // An all −∞ row: shift by 0, so the result is −∞ rather than NaN.
  let shift = select(m, 0.0, abs(m) == inf_f32());
  var s = 0.0;
  for (var c = 0u; c < P.cols; c++) { s += exp(x[o + c] - shift); }
  let l = log(s) + shift;
  lse[r] = l;
  loss[r] = select(0.0, l - x[o + tc], kept);
#endif
}
