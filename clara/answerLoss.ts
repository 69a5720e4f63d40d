import { crossEntropy, tensor, type Tensor } from '../engine/index.ts';

/**
 * The generator's loss (spec §4): next-token cross-entropy where only the answer tokens and the
 * closing `</s>` are supervised (labels −100 elsewhere), averaged over all supervised tokens of the
 * batch. Position t predicts label t + 1.
 *
 * logits [B, L, V]; labels host (B, L) → scalar.
 */
export function answerCrossEntropy(logits: Tensor, labels: readonly (readonly number[])[]): Tensor {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  const shifted = Int32Array.from(labels.flatMap((row) => row.slice(1)));
  const targets = tensor(shifted, [batch * (length - 1)], { dtype: 'int32', backend: logits.backend });
  return crossEntropy(logits.slice(1, 0, length - 1).reshape([batch * (length - 1), vocab]), targets);
}
