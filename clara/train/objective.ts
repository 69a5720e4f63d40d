import type { Generator, Tensor } from '../../engine/index.ts';
import type { Units } from './accumulation.ts';

/**
 * What a stage trains on, as the generic trainer sees it. The trainer owns the loop (data order,
 * accumulation, optimiser, schedule, checkpoints); an objective says how rows become a batch and
 * which loss terms a batch gives: `compressionObjective` (stages 1 and 2) and `stage3Objective`
 * (endToEndObjective.ts).
 *
 * The loss the trainer minimises is  L = Σ_t weights[t] · term_t,  each term a mean over its units.
 */
export interface TrainingObjective<Row, Batch> {
  /** Coefficient of each loss term in L, e.g. { ce: 1, mse: 0.1 }. Every term `terms()` returns is listed. */
  readonly weights: Readonly<Record<string, number>>;
  /**
   * Settings that change the numbers (stage, λ, document length…). Saved with a checkpoint and
   * checked on resume, so a run is never continued under different settings by mistake.
   */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * Host side: tokenize and pad the rows of one micro-batch. `rng` is seeded by (seed, step);
   * `at` says which optimiser step this is (0-based) of how many, for what follows a schedule.
   */
  collate(rows: readonly Row[], rng: Generator, at: TrainingStep): MicroBatch<Batch>;
  /** Forward pass: each term as a scalar tensor, the mean over its units in this micro-batch. */
  terms(batch: Batch): Record<string, Tensor>;
}

/** The optimiser step being taken (0-based) and the run's total. */
export interface TrainingStep {
  step: number;
  totalSteps: number;
}

export interface MicroBatch<Batch> {
  batch: Batch;
  /** Units each term averages over, known before the forward pass (see accumulation.ts). */
  units: Units;
  /** Non-padding tokens the model reads (for tokens per second). */
  tokens: number;
  /**
   * Texts longer than the model takes, cut as the official code cuts them, counted by field (e.g.
   * `{ docs: 1, answers: 0 }`): the trainer counts them for the run, so a cut is never silent.
   */
  truncated?: Readonly<TruncationCounts>;
}

/** Texts cut to the model's length, by field (docs, questions, answers). */
export type TruncationCounts = Record<string, number>;

/** Tokens a padded batch holds: the ones of its attention mask (host rows [B, L]). */
export function nonPaddingTokens(attentionMask: readonly (readonly number[])[]): number {
  return attentionMask.reduce((sum, row) => sum + row.reduce((s, v) => s + v, 0), 0);
}
