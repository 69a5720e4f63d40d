import type { Tensor } from '../engine/index.ts';
import { answerLoss } from './answerLoss.ts';
import type { ClaraModel } from './claraModel.ts';
import { compressDocuments, ENCODER_ADAPTER, idsTensor } from './compressor.ts';
import type { Batch } from './examples.ts';
import { memoryMseLoss } from './memoryMseLoss.ts';
import { spliceCompressed } from './splice.ts';

/**
 * The loss of stages 1 and 2 (spec §4, §5): compress the documents, splice them into the
 * generator's prompt, and score the answer.
 *
 *   L = L_ce + λ · L_mse
 *
 * L_ce trains the generator (decoder_adapter) and, through the splice, the compressor
 * (encoder_adapter) and the `<MEMi>` embedding rows; L_mse trains the compressor directly.
 */
export const DECODER_ADAPTER = 'decoder_adapter';

export interface CompressionLossOutput {
  loss: Tensor;
  ce: Tensor;
  mse: Tensor;
  /** [B·k, n, d] */
  compressed: Tensor;
  /** [B, L, V], computed on first access (training never needs the prompt's logits). */
  readonly logits: Tensor;
}

export function compressionLoss(clara: ClaraModel, batch: Batch, mseWeight: number): CompressionLossOutput {
  const model = clara.backbone;
  const { compressed, hidden } = compressDocuments(model, batch.encoder, ENCODER_ADAPTER);
  const mse = memoryMseLoss(hidden, batch.encoder.attentionMask, clara.nMem).loss;
  const embeds = model.embed(idsTensor(model, batch.generator.inputIds));
  const spliced = spliceCompressed(embeds, batch.generator.memoryPositions, compressed);
  const hiddenStates = model.forward({ inputsEmbeds: spliced, attentionMask: batch.generator.attentionMask.flat(), adapter: DECODER_ADAPTER, computeLogits: false }).lastHiddenState;
  const ce = answerLoss(hiddenStates, model.lmHead, batch.generator.labels);
  return {
    loss: mseWeight === 0 ? ce : ce.add(mse.mul(mseWeight)),
    ce,
    mse,
    compressed,
    get logits() {
      return hiddenStates.matmul(model.lmHead, { transB: true });
    },
  };
}
