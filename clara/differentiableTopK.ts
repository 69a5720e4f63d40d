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
 * added to l before choosing, seeded), `soft` (W = P: soft mixtures forward and backward),
 * `sparsemax` (P from sparsemax instead of softmax: the gradient reaches only the candidates in its
 * support) and `annealed` (straight-through with τ annealed from 10τ to τ over training). A new one
 * is a function of (scores, options) added to TOPK_ESTIMATORS, which the CLI, the demo, `clara
 * sweep` and the tests read (examples/annealedTopK.ts writes one outside the library).
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

/**
 * Sparsemax over the last axis of z [B, N] (Martins & Astudillo 2016): the Euclidean projection of
 * z onto the probability simplex, p = max(z − θ, 0) with θ such that Σp = 1; many entries are
 * exactly 0. Candidate i is in the support S when 1 + k_i·z_i > Σ_{j: z_j ≥ z_i} z_j, k_i the count
 * of such j ([B, N, N] comparisons: no sort needed). S is found without gradient; written as
 * θ = (Σ_S z − 1) / |S| and p = (z − θ)·S, the composite's gradient is sparsemax's exact Jacobian,
 * diag(S) − S·Sᵀ / |S| (S piecewise constant in z, so it carries none itself).
 */
export function sparsemax(z: Tensor): Tensor {
  const support = noGrad(() => {
    const atLeast = z.unsqueeze(1).ge(z.unsqueeze(2)).cast(z.dtype); // [B, N, N]: z_j ≥ z_i, row i
    const count = atLeast.sum(-1); // [B, N] k_i
    const total = atLeast.mul(z.unsqueeze(1)).sum(-1); // [B, N] Σ_{j: z_j ≥ z_i} z_j
    return count.mul(z).add(1).gt(total).cast(z.dtype); // [B, N] 1 in S, else 0
  });
  const theta = z.mul(support).sum(-1, true).sub(1).div(support.sum(-1, true)); // [B, 1]
  return z.sub(theta).mul(support);
}

/** Softmax over the last axis: the official relaxation. */
const softmaxLastAxis = (l: Tensor) => l.softmax(-1);

/**
 * The soft relaxation P and the hard one-hots H for logits l [B, N] (the shared core); `normalise`
 * maps each step's masked logits to P[j] (softmax unless an estimator says otherwise).
 */
function relaxedTopK(logits: Tensor, k: number, normalise: (masked: Tensor) => Tensor = softmaxLastAxis): { hard: Tensor; soft: Tensor; indices: Tensor } {
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
    rows.push(normalise(logits.add(mask)));
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

/**
 * Straight-through over sparsemax (each step's P[j] = sparsemax of the masked logits): the same hard
 * forward, a gradient that reaches only the candidates close enough to the chosen one to be in the
 * support (the ablations of users of the official code try it).
 */
export const sparsemaxTopK: TopKEstimator = (scores, { k, temperature }) => {
  const { hard, soft, indices } = relaxedTopK(scaled(scores, temperature), k, sparsemax);
  return { weights: straightThrough(hard, soft), indices, soft };
};

/**
 * Straight-through with τ(step) = τ · (10 − 9 · step / (totalSteps − 1)): 10τ at the first step (soft,
 * exploratory gradients), τ at the last; τ itself outside training.
 */
export const annealedTopK: TopKEstimator = (scores, options) => {
  const progress = options.step === undefined || options.totalSteps === undefined ? 1 : options.step / Math.max(1, options.totalSteps - 1);
  return straightThroughTopK(scores, { ...options, temperature: options.temperature * (10 - 9 * progress) });
};

export const TOPK_ESTIMATORS: Readonly<Record<string, TopKEstimator>> = {
  'straight-through': straightThroughTopK,
  gumbel: gumbelTopK,
  soft: softTopK,
  sparsemax: sparsemaxTopK,
  annealed: annealedTopK,
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
