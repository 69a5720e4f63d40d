// Scaled-dot-product attention with grouped-query heads and a boolean mask, forward and backward:
// q [B, H, S, D], k and v [B, Hkv, T, D] (query head h reads kv head h / G, G = H / Hkv),
// allowed [B, S, T] (u32 0/1). Scores of masked pairs are REPLACED by −1e30 (as the composite in
// engine/ops/fused/ops.ts does), so a query with no allowed key attends uniformly.
//
// Written for CPU adapters first: invocations of a workgroup share one (b, head) and differ only
// in their query (or key), so every load of the other side (keys and values, or queries and
// gradients) is the same address for the whole workgroup: one load and a broadcast on llvmpipe.
// No shared memory, no barriers. D is a multiple of 4; rows are held as DV = D/4 vec4 registers.
//
// Masked pairs add nothing, so the loops skip those at the ends: FORWARD and BWD_Q stop at their
// query's last allowed key, BWD_KV walks its queries down to the first allowed to read its key.
// A SIMD batch of invocations loops as long as its longest lane (the loop counter stays one
// address for all), so under a causal mask about half the pairs are skipped: measured on
// llvmpipe (B 8, H 4/2, S 96, D 32, left padding), forward + backward 21.5 → 12.4 ms. A row with
// no allowed key (left padding) attends to every key uniformly and is handled apart.
//
// Host defines: DV, and one of
//   FORWARD  grid [⌈S/QB⌉, H, B], one query per invocation: online softmax over the keys;
//            writes out and lse = max + log Σ exp (per query row)
//     + DECODE  the same outputs for few queries (a decode step has S = 1, which would leave 15 of
//            FORWARD's 16 invocations idle): grid [S, H, B], one query per workgroup, its
//            invocations taking every QB-th key each with an online softmax of their own, then
//            merged through workgroup memory (max of the maxima, sums rescaled to it)
//   BWD_Q    FORWARD's grid: delta = Σ g·out (written for BWD_KV) and dq = Σ_t ds_t·k_t·scale
//   BWD_KV   grid [⌈T/QB⌉, Hkv, B], one key per invocation, looping over the G·S queries that
//            read it: dv = Σ p·g, dk = Σ ds·q·scale
// where p = exp(score − lse) (1/T on a row with no allowed key) and ds = p·(g·v − delta) on
// allowed pairs, 0 on masked ones (the mask replaced their score: no gradient flows to it).
const QB: u32 = 16u;
const MASKED: f32 = -1e30;

struct Params {
  heads: u32,
  kv_heads: u32,
  seq: u32,
  keys: u32,
  group: u32,
  scale: f32,
  unused0: u32,
  unused1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> allowed: array<u32>;
#if FORWARD
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
#endif
#if BWD_Q
@group(0) @binding(5) var<storage, read> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;
@group(0) @binding(9) var<storage, read_write> dq: array<vec4<f32>>;
#endif
#if BWD_KV
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> dv: array<vec4<f32>>;
#endif

const NONE: u32 = 0xffffffffu;

/** The last key t with allowed[mask0 + t] (mask0: a query's row of the mask), or NONE. */
fn last_allowed(mask0: u32) -> u32 {
  for (var t = P.keys; t > 0u; t--) {
    if (allowed[mask0 + t - 1u] != 0u) { return t - 1u; }
  }
  return NONE;
}

#if FORWARD
/**
 * One query row's online softmax over the keys first, first + stride, … (all of them, or one
 * invocation's share in DECODE): returns the running max m and sum l, and leaves Σ exp(score − m)·v
 * in acc. Past the last allowed key, a masked score adds exp(MASKED − m) = 0 to l and acc and
 * leaves m: stop there. A row with no allowed key has every score MASKED: it attends uniformly
 * (m = MASKED, l = the number of keys summed). Keys taken by none leave m = −3e38, l = 0.
 */
fn online_softmax(row: u32, kv0: u32, mask0: u32, first: u32, stride: u32, acc: ptr<function, array<vec4<f32>, DV>>) -> vec2<f32> {
  var qr: array<vec4<f32>, DV>;
  for (var i = 0u; i < DV; i++) {
    qr[i] = q[row * DV + i];
    (*acc)[i] = vec4<f32>();
  }
  let last = last_allowed(mask0);
  var m = -3.0e38;
  var l = 0.0;
  if (last == NONE) {
    for (var t = first; t < P.keys; t += stride) {
      let kr = (kv0 + t) * DV;
      for (var i = 0u; i < DV; i++) { (*acc)[i] += v[kr + i]; }
      l += 1.0;
    }
    m = MASKED;
  }
  let end = last + 1u; // NONE + 1 wraps to 0
  for (var t = first; t < end; t += stride) {
    let kr = (kv0 + t) * DV;
    var d = 0.0;
    for (var i = 0u; i < DV; i++) { d += dot(qr[i], k[kr + i]); }
    let score = select(MASKED, d * P.scale, allowed[mask0 + t] != 0u);
    let mn = max(m, score);
    let corr = exp(m - mn);
    let p = exp(score - mn);
    l = l * corr + p;
    for (var i = 0u; i < DV; i++) { (*acc)[i] = (*acc)[i] * corr + p * v[kr + i]; }
    m = mn;
  }
  return vec2<f32>(m, l);
}

#if DECODE
var<workgroup> part_m: array<f32, QB>;
var<workgroup> part_l: array<f32, QB>;
var<workgroup> part_acc: array<array<vec4<f32>, DV>, QB>;

@compute @workgroup_size(QB)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let j = lid.x;
  let b = wid.z;
  let row = (b * P.heads + wid.y) * P.seq + wid.x;
  // Invocation j takes keys j, j + QB, j + 2·QB, …; one with none adds nothing to the merge (l = 0).
  var acc: array<vec4<f32>, DV>;
  let ml = online_softmax(row, (b * P.kv_heads + wid.y / P.group) * P.keys, (b * P.seq + wid.x) * P.keys, j, QB, &acc);
  part_m[j] = ml.x;
  part_l[j] = ml.y;
  for (var i = 0u; i < DV; i++) { part_acc[j][i] = acc[i]; }
  workgroupBarrier();
  // Merge: every invocation finds the overall max and sum; each writes every QB-th vec4 of out.
  var mx = -3.0e38;
  for (var r = 0u; r < QB; r++) { mx = max(mx, part_m[r]); }
  var lt = 0.0;
  for (var r = 0u; r < QB; r++) { lt += part_l[r] * exp(part_m[r] - mx); }
  for (var i = j; i < DV; i += QB) {
    var o = vec4<f32>();
    for (var r = 0u; r < QB; r++) { o += part_acc[r][i] * exp(part_m[r] - mx); }
    out[row * DV + i] = o / lt;
  }
  if (j == 0u) { lse[row] = mx + log(lt); }
}
#else
@compute @workgroup_size(QB)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = wid.x * QB + lid.x;
  let sc = min(s, P.seq - 1u);
  let b = wid.z;
  let row = (b * P.heads + wid.y) * P.seq + sc;
  // Every invocation walks all the keys, so each load of k and v is one address for the workgroup.
  var acc: array<vec4<f32>, DV>;
  let ml = online_softmax(row, (b * P.kv_heads + wid.y / P.group) * P.keys, (b * P.seq + sc) * P.keys, 0u, 1u, &acc);
  if (s >= P.seq) { return; }
  for (var i = 0u; i < DV; i++) { out[row * DV + i] = acc[i] / ml.y; }
  lse[row] = ml.x + log(ml.y);
}
#endif
#endif

#if BWD_Q
@compute @workgroup_size(QB)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let s = wid.x * QB + lid.x;
  let sc = min(s, P.seq - 1u);
  let b = wid.z;
  let row = (b * P.heads + wid.y) * P.seq + sc;
  let kv0 = (b * P.kv_heads + wid.y / P.group) * P.keys;
  let mask0 = (b * P.seq + sc) * P.keys;
  var qr: array<vec4<f32>, DV>;
  var gr: array<vec4<f32>, DV>;
  var acc: array<vec4<f32>, DV>;
  var di = 0.0;
  for (var i = 0u; i < DV; i++) {
    qr[i] = q[row * DV + i];
    gr[i] = g[row * DV + i];
    acc[i] = vec4<f32>();
    di += dot(gr[i], out[row * DV + i]);
  }
  let l = lse[row];
  // Masked pairs give q no gradient: stop at the last allowed key (a row with none loops not at all).
  let end = last_allowed(mask0) + 1u; // NONE + 1 wraps to 0
  for (var t = 0u; t < end; t++) {
    if (allowed[mask0 + t] == 0u) { continue; }
    let kr = (kv0 + t) * DV;
    var d = 0.0;
    var dp = 0.0;
    for (var i = 0u; i < DV; i++) {
      d += dot(qr[i], k[kr + i]);
      dp += dot(gr[i], v[kr + i]);
    }
    let ds = exp(d * P.scale - l) * (dp - di) * P.scale;
    for (var i = 0u; i < DV; i++) { acc[i] += ds * k[kr + i]; }
  }
  if (s >= P.seq) { return; }
  delta[row] = di;
  for (var i = 0u; i < DV; i++) { dq[row * DV + i] = acc[i]; }
}
#endif

#if BWD_KV
@compute @workgroup_size(QB)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = wid.x * QB + lid.x;
  let tc = min(t, P.keys - 1u);
  let b = wid.z;
  let kvh = wid.y;
  let kr = ((b * P.kv_heads + kvh) * P.keys + tc) * DV;
  var kk: array<vec4<f32>, DV>;
  var vv: array<vec4<f32>, DV>;
  var dka: array<vec4<f32>, DV>;
  var dva: array<vec4<f32>, DV>;
  for (var i = 0u; i < DV; i++) {
    kk[i] = k[kr + i];
    vv[i] = v[kr + i];
    dka[i] = vec4<f32>();
    dva[i] = vec4<f32>();
  }
  let uniform_p = 1.0 / f32(P.keys);
  // Queries before the first allowed to read this key add nothing, except rows with no allowed key
  // (every score masked), which read every key with weight 1/T and give k no gradient. Add those
  // while looking for the first reader; the loop below walks the queries down to it.
  var first = 0u;
  for (; first < P.seq; first++) {
    if (allowed[(b * P.seq + first) * P.keys + tc] != 0u) { break; }
    if (lse[(b * P.heads + kvh * P.group) * P.seq + first] < MASKED * 0.5) {
      for (var gi = 0u; gi < P.group; gi++) {
        let row = (b * P.heads + kvh * P.group + gi) * P.seq + first;
        for (var i = 0u; i < DV; i++) { dva[i] += uniform_p * g[row * DV + i]; }
      }
    }
  }
  for (var gi = 0u; gi < P.group; gi++) {
    let h = kvh * P.group + gi;
    for (var s = P.seq; s > first; s--) {
      let row = (b * P.heads + h) * P.seq + s - 1u;
      let l = lse[row];
      let ok = allowed[(b * P.seq + s - 1u) * P.keys + tc] != 0u;
      var d = 0.0;
      var dp = 0.0;
      for (var i = 0u; i < DV; i++) {
        d += dot(q[row * DV + i], kk[i]);
        dp += dot(g[row * DV + i], vv[i]);
      }
      let p = select(select(0.0, exp(d * P.scale - l), ok), uniform_p, l < MASKED * 0.5);
      let ds = select(0.0, p * (dp - delta[row]) * P.scale, ok);
      for (var i = 0u; i < DV; i++) {
        dva[i] += p * g[row * DV + i];
        dka[i] += ds * q[row * DV + i];
      }
    }
  }
  if (t >= P.keys) { return; }
  for (var i = 0u; i < DV; i++) {
    dk[kr + i] = dka[i];
    dv[kr + i] = dva[i];
  }
}
#endif
