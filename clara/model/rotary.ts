import { applyRotary as engineApplyRotary, tensor, type Backend, type Tensor } from '../../engine/index.ts';

/**
 * Rotary position embedding in Hugging Face's convention ("rotate half"): the head dimension is
 * split into two halves (x₁, x₂) that rotate together, frequency i of dimension i and i + Dh/2
 * being θ^(−2i/Dh). RoPE is relative: the score of query p and key q depends only on p − q.
 */

/**
 * cos and sin tables for the given positions: positions [B, S] (host) → cos, sin [B, 1, S, Dh],
 * ready to broadcast over the heads. Computed in float64 on the host, then stored in `dtype`.
 */
export function rotaryTables(
  positions: ArrayLike<number>,
  batch: number,
  seq: number,
  headDim: number,
  theta: number,
  options: { backend: Backend; dtype: 'float32' | 'float64' },
): { cos: Tensor; sin: Tensor } {
  const half = headDim / 2;
  const cos = new Float64Array(batch * seq * headDim);
  const sin = new Float64Array(batch * seq * headDim);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < seq; s++) {
      const position = positions[b * seq + s]!;
      const row = (b * seq + s) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = position / theta ** ((2 * i) / headDim);
        cos[row + i] = cos[row + i + half] = Math.cos(angle);
        sin[row + i] = sin[row + i + half] = Math.sin(angle);
      }
    }
  }
  const shape = [batch, 1, seq, headDim];
  return { cos: tensor(cos, shape, options), sin: tensor(sin, shape, options) };
}

/** x·cos + rotateHalf(x)·sin, x [B, H, S, Dh], where rotateHalf([x₁, x₂]) = [−x₂, x₁]. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return engineApplyRotary(x, cos, sin); // fused where the backend can (engine/ops/fused/ops.ts)
}

/**
 * Position ids from a left-padded attention mask [B, T] (host, 0/1): each real token's index
 * among the real tokens of its row (padding gets 0). With left padding, a sequence's positions
 * are then the same however much padding precedes it.
 */
export function positionsFromMask(mask: ArrayLike<number>, batch: number, length: number): Int32Array {
  const positions = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let seen = 0;
    for (let t = 0; t < length; t++) {
      if (mask[b * length + t]) seen++;
      positions[b * length + t] = Math.max(seen - 1, 0);
    }
  }
  return positions;
}
