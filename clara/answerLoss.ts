import { crossEntropy, tensor, type Tensor } from '../engine/index.ts';
import { IGNORE_INDEX } from './tokenizer/tokenizer.ts';

/**
 * The generator's loss (docs/clara.md §4): next-token cross-entropy where only the answer tokens
 * and the closing `</s>` are supervised (labels −100 elsewhere), averaged over all supervised
 * tokens of the batch. Position t predicts label t + 1.
 */

/** The flattened positions b·L + t whose next label is supervised, and those labels. */
function supervisedTargets(labels: readonly (readonly number[])[]): { positions: number[]; targets: number[] } {
  const positions: number[] = [];
  const targets: number[] = [];
  labels.forEach((row, b) => {
    for (let t = 0; t + 1 < row.length; t++) {
      if (row[t + 1] === IGNORE_INDEX) continue;
      positions.push(b * row.length + t);
      targets.push(row[t + 1]!);
    }
  });
  return { positions, targets };
}

/**
 * The number of tokens the loss averages over: labels other than −100, position 0 excluded (nothing
 * predicts it). Gradient accumulation weighs micro-batches by it (train/accumulation.ts).
 */
export function supervisedTokenCount(labels: readonly (readonly number[])[]): number {
  return supervisedTargets(labels).targets.length;
}

/** From full logits [B, L, V] (what `clara trace` reports): scalar. */
export function answerCrossEntropy(logits: Tensor, labels: readonly (readonly number[])[]): Tensor {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  const shifted = Int32Array.from(labels.flatMap((row) => [...row.slice(1), IGNORE_INDEX]));
  const targets = tensor(shifted, [batch * length], { dtype: 'int32', backend: logits.backend });
  return crossEntropy(logits.reshape([batch * length, vocab]), targets);
}

/**
 * The same loss from the last hidden states [B, L, d] and the lm_head weight [V, d], projecting
 * only the supervised positions onto the vocabulary: the prompt (most of a CLaRa sequence) never
 * needs logits, so this skips most of the largest matrix product of the step.
 *
 * The logits [supervised, V] can still outgrow the largest tensor a backend holds: stage 1 on the
 * official sample supervises whole paraphrased documents, 2,699 tokens × a 14,338-token vocabulary
 * = 155 MB against WebGPU's usual 128 MiB binding limit. The positions are then projected in chunks
 * that fit, and the chunks' mean losses are summed weighted by their share of the tokens: the same
 * mean, and the same gradients, as one projection.
 */
export function answerLoss(hidden: Tensor, lmHead: Tensor, labels: readonly (readonly number[])[]): Tensor {
  const [batch, length, d] = hidden.shape as [number, number, number];
  const { positions, targets } = supervisedTargets(labels);
  if (positions.length === 0) throw new Error('answerLoss: the batch has no supervised answer tokens (every label is −100)');
  const backend = hidden.backend;
  const flat = hidden.reshape([batch * length, d]);
  const chunkLoss = (start: number, end: number): Tensor => {
    const index = tensor(Int32Array.from(positions.slice(start, end)), [end - start], { dtype: 'int32', backend });
    const logits = flat.indexSelect(0, index).matmul(lmHead, { transB: true }); // [chunk, V]
    return crossEntropy(logits, tensor(Int32Array.from(targets.slice(start, end)), [end - start], { dtype: 'int32', backend }));
  };
  const logitBytes = lmHead.shape[0]! * 4;
  const rowsPerChunk = Math.max(1, Math.floor((backend.maxTensorBytes ?? Number.POSITIVE_INFINITY) / logitBytes));
  if (positions.length <= rowsPerChunk) return chunkLoss(0, positions.length);
  let total: Tensor | null = null;
  for (let start = 0; start < positions.length; start += rowsPerChunk) {
    const end = Math.min(start + rowsPerChunk, positions.length);
    const part = chunkLoss(start, end).mul((end - start) / positions.length);
    total = total === null ? part : total.add(part);
  }
  return total!;
}
