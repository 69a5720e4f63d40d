import type { Generator, Tensor } from '../../engine/index.ts';
import type { ClaraModel } from '../claraModel.ts';
import { compressionLoss } from '../compressionLoss.ts';
import type { Stage1Row } from '../data/stage1Data.ts';
import type { Stage2Row } from '../data/stage2Data.ts';
import { answerExample, collateBatch, stage1Example, type Batch, type Example } from '../examples.ts';
import { IGNORE_INDEX } from '../tokenizer/tokenizer.ts';
import type { MicroBatch, TrainingObjective } from './objective.ts';

/**
 * The objective of stages 1 and 2 (spec §4–5): L = L_ce + λ·L_mse.
 *
 * - stage 1 rows (qa / paraphrase, one document) become stage-1 prompts;
 * - stage 2 rows (question, k documents, answer) become answer prompts.
 *
 * Units for gradient accumulation: the cross-entropy is a mean over supervised answer tokens, the
 * MSE a mean over documents (each already averaged over the hidden dimensions).
 */
export type CompressionRow<S extends 1 | 2> = S extends 1 ? Stage1Row : Stage2Row;

export interface CompressionObjectiveOptions {
  /** λ, the weight of L_mse (spec: 0.1). */
  mseWeight: number;
}

export function compressionObjective(clara: ClaraModel, stage: 1 | 2, options: CompressionObjectiveOptions): TrainingObjective<Stage1Row | Stage2Row, Batch> {
  const { tokenizer } = clara;
  const toExample = (row: Stage1Row | Stage2Row, generator: Generator): Example => (stage === 1
    ? stage1Example(tokenizer, row as Stage1Row, generator)
    : answerExample(tokenizer, (row as Stage2Row).question, (row as Stage2Row).docs, (row as Stage2Row).answer));
  return {
    weights: { ce: 1, mse: options.mseWeight },
    settings: {
      stage, mseWeight: options.mseWeight, docMaxLength: clara.settings.docMaxLength,
      compressionRate: clara.settings.compressionRate, vocabSize: tokenizer.vocabSize,
    },
    collate(rows, generator): MicroBatch<Batch> {
      const batch = collateBatch(tokenizer, rows.map((row) => toExample(row, generator)), clara.settings.docMaxLength);
      return {
        batch,
        units: { ce: supervisedTokens(batch), mse: batch.encoder.inputIds.length },
        tokens: countOnes(batch.encoder.attentionMask) + countOnes(batch.generator.attentionMask),
      };
    },
    terms(batch): Record<string, Tensor> {
      const { ce, mse } = compressionLoss(clara, batch, 0);
      return { ce, mse };
    },
  };
}

/** Tokens the cross-entropy scores: labels other than −100, position 0 excluded (nothing predicts it). */
export function supervisedTokens(batch: Batch): number {
  return batch.generator.labels.reduce((sum, row) => sum + row.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
}

function countOnes(mask: readonly (readonly number[])[]): number {
  return mask.reduce((sum, row) => sum + row.reduce((s, v) => s + v, 0), 0);
}
