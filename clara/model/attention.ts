import { scaledDotProductAttention, tensor, type Backend, type Tensor } from '../../engine/index.ts';

/**
 * Scaled dot-product attention with grouped-query heads: the mask of which keys each query may see,
 * and the engine's attention op.
 *
 * Grouped-query attention shares each key/value head among G = H / Hkv query heads. Query heads
 * of one group are adjacent (head h uses key/value head ⌊h / G⌋, as in HF's repeat_kv); the engine
 * op lays the queries of a group out as one [G·S, Dh] matrix against that group's keys, so no copy
 * of the keys or values is ever made.
 */

/**
 * Which keys each query may attend to: allowed[b, 0, 0, s, t] for queries s (the last S of T
 * positions) and keys t < T. Causal (t ≤ the query's position), not a padding key, and within the
 * sliding window when there is one. A query with no allowed key (a left pad) attends uniformly;
 * its output is never used.
 */
export function attentionMask(
  keyMask: ArrayLike<number>,
  batch: number,
  queries: number,
  keys: number,
  slidingWindow: number | null,
  backend: Backend,
): Tensor {
  const allowed = new Uint8Array(batch * queries * keys);
  const past = keys - queries;
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < queries; s++) {
      const position = past + s;
      for (let t = 0; t <= position; t++) {
        const inWindow = slidingWindow === null || position - t < slidingWindow;
        allowed[(b * queries + s) * keys + t] = keyMask[b * keys + t] && inWindow ? 1 : 0;
      }
    }
  }
  return tensor(allowed, [batch, 1, 1, queries, keys], { dtype: 'bool', backend });
}

/**
 * softmax(q kᵀ / √Dh + mask) v.
 * q [B, H, S, Dh], k and v [B, Hkv, T, Dh], allowed [B, 1, 1, S, T] (bool) → [B, H, S, Dh].
 */
export function groupedQueryAttention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor): Tensor {
  // One fused kernel forward and backward where the backend has them, else the engine's composite
  // of primitives (engine/ops/fused/ops.ts, attentionComposite).
  return scaledDotProductAttention(q, k, v, allowed);
}
