import { capture, Generator, noGrad, oneHot, stack, topk, uniform, type Tensor } from '../engine/index.ts';

/**
 * Differentiable top-k selection (docs/clara.md §6): choose k of N candidate documents from their
 * scores so that the forward pass is a hard choice and the backward pass still tells the scores how
 * to move.
 *
 * The official estimator (straight-through, no noise), for scores s [B, N]:
 *   l = s / max(τ, 1e-6)
 *   idx = the k largest entries of l, best first;  H[j] = one-hot(idx[j])                [B, k, N]
 *   taken₀ = 0;  P[j] = softmax(l + ln(1 − taken_j + 1e-8));  taken_{j+1} = min(taken_j + H[j], 1)
 *   W = H + (P − stopgrad(P))
 * An already-taken candidate gets ln(1e-8) ≈ −18.42 added, not −∞ (so P[j] is never exactly 0
 * there). The bracket is exactly 0 in the forward pass (x − x = 0 in floating point), so W is
 * exactly the hard selection; its gradient is the gradient of the soft P.
 *
 * `W @ D` then picks documents: row j of the result is D[idx[j]] in the forward pass.
 * Estimators are pluggable so researchers can try others: `gumbel` (the same with Gumbel noise
 * added to l before choosing, seeded) and `soft` (W = P: soft mixtures forward and backward). A new
 * one is a function of (scores, options) added to TOPK_ESTIMATORS, which the CLI, the demo and the
 * tests read (examples/annealedTopK.ts writes one outside the library).
 */
export interface TopKSelection {
  /** [B, k, N]: selection weights (rows one-hot in the forward pass for straight-through estimators). */
  weights: Tensor;
  /** [B, k] int32: the chosen candidates, best first. */
  indices: Tensor;
  /** [B, k, N]: the soft relaxation P whose gradient W carries. */
  soft: Tensor;
}

export interface TopKOptions {
  k: number;
  /** Temperature τ (official 0.02). */
  temperature: number;
  /** Draws the noise of noisy estimators (gumbel). */
  rng?: Generator;
  /**
   * In training, the optimiser step (0-based) and the run's total, so that an estimator can follow
   * a schedule (an annealed temperature: τ · (1 − step / totalSteps) …); absent outside training.
   */
  step?: number;
  totalSteps?: number;
}

export type TopKEstimator = (scores: Tensor, options: TopKOptions) => TopKSelection;

/** Added to the logits of candidates already taken: ln(1e-8) in effect, replicated exactly. */
const TAKEN_EPSILON = 1e-8;

/** The soft relaxation P and the hard one-hots H for logits l [B, N] (the shared core). */
function relaxedTopK(logits: Tensor, k: number): { hard: Tensor; soft: Tensor; indices: Tensor } {
  const [, n] = logits.shape as [number, number];
  capture('l', logits);
  const indices = noGrad(() => topk(logits, k).indices); // [B, k]
  const hard = capture(
    'H',
    noGrad(() => oneHot(indices, n).cast(logits.dtype)),
  ); // [B, k, N]
  const rows: Tensor[] = [];
  let taken = noGrad(() => logits.mul(0)); // [B, N], a constant
  for (let j = 0; j < k; j++) {
    // (1 − taken) + 1e-8 in this order: 1 + 1e-8 rounds to 1 in float32, so a taken item gets ln(1e-8).
    const mask = noGrad(() => taken.neg().add(1).add(TAKEN_EPSILON).log());
    rows.push(logits.add(mask).softmax(-1));
    const next = noGrad(() => taken.add(hard.slice(1, j, j + 1).squeeze(1)).minimum(1));
    taken = next;
  }
  return { hard, soft: stack(rows, 1), indices };
}

/** W = H + (P − stopgrad(P)): hard forward, soft gradient. */
function straightThrough(hard: Tensor, soft: Tensor): Tensor {
  return hard.add(soft.sub(soft.detach()));
}

function scaled(scores: Tensor, temperature: number): Tensor {
  return scores.div(Math.max(temperature, 1e-6));
}

/** The official CLaRa estimator. */
export const straightThroughTopK: TopKEstimator = (scores, { k, temperature }) => {
  const { hard, soft, indices } = relaxedTopK(scaled(scores, temperature), k);
  return { weights: straightThrough(hard, soft), indices, soft };
};

/** Straight-through with Gumbel(0, 1) noise on the logits: explores other candidates in training. */
export const gumbelTopK: TopKEstimator = (scores, { k, temperature, rng }) => {
  const u = uniform(scores.shape, { generator: rng ?? new Generator(0), backend: scores.backend, dtype: scores.dtype, low: 1e-10, high: 1 });
  const gumbel = noGrad(() => u.log().neg().log().neg());
  const { hard, soft, indices } = relaxedTopK(scaled(scores, temperature).add(gumbel), k);
  return { weights: straightThrough(hard, soft), indices, soft };
};

/** No straight-through: the generator reads the soft mixtures P in the forward pass too. */
export const softTopK: TopKEstimator = (scores, { k, temperature }) => {
  const { soft, indices } = relaxedTopK(scaled(scores, temperature), k);
  return { weights: soft, indices, soft };
};

export const TOPK_ESTIMATORS: Readonly<Record<string, TopKEstimator>> = {
  'straight-through': straightThroughTopK,
  gumbel: gumbelTopK,
  soft: softTopK,
};

export function topKEstimator(name: string): TopKEstimator {
  const estimator = TOPK_ESTIMATORS[name];
  if (estimator === undefined) throw new Error(`unknown top-k estimator '${name}' (known: ${Object.keys(TOPK_ESTIMATORS).join(', ')})`);
  return estimator;
}

/** An estimator's name (saved with checkpoints, printed by the demo): its key, or a function's own name. */
export function estimatorName(estimator: string | TopKEstimator): string {
  return typeof estimator === 'string' ? estimator : estimator.name || 'custom';
}
