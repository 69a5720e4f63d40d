import type { Generator, Tensor } from '../engine/index.ts';
import type { ClaraModel } from './claraModel.ts';
import type { TopKEstimator } from './differentiableTopK.ts';
import { collateStage3, stage3Loss, type Stage3Batch, type Stage3Item } from './stage3Loss.ts';
import { IGNORE_INDEX } from './tokenizer/tokenizer.ts';
import type { MicroBatch, TrainingObjective } from './train/objective.ts';

/**
 * Stage 3 as a training objective for the generic trainer: the answer cross-entropy of
 * `stage3Loss`, nothing else (no relevance labels). The document bank is compressed once, before
 * training, by the frozen compressor.
 */
export interface Stage3ObjectiveOptions {
  /** [docs, n, d]: the compressed candidates. */
  bank: Tensor;
  k: number;
  temperature: number;
  estimator: TopKEstimator;
  /** Name of the estimator (saved with checkpoints). */
  estimatorName: string;
}

export function stage3Objective(clara: ClaraModel, options: Stage3ObjectiveOptions): TrainingObjective<Stage3Item, Stage3Batch & { generatorRng: Generator }> {
  return {
    weights: { ce: 1 },
    settings: { stage: 3, k: options.k, temperature: options.temperature, estimator: options.estimatorName, bankShape: options.bank.shape },
    collate(rows, generatorRng): MicroBatch<Stage3Batch & { generatorRng: Generator }> {
      const batch = collateStage3(clara.tokenizer, rows, options.k);
      const supervised = batch.generator.labels.reduce((sum, row) => sum + row.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
      const tokens = batch.generator.attentionMask.reduce((sum, row) => sum + row.reduce((s, v) => s + v, 0), 0);
      return { batch: { ...batch, generatorRng }, units: { ce: supervised }, tokens };
    },
    terms(batch): Record<string, Tensor> {
      const { loss } = stage3Loss(clara, options.bank, batch, { k: options.k, temperature: options.temperature, estimator: options.estimator, generator: batch.generatorRng });
      return { ce: loss };
    },
  };
}
