import { capture, mseLoss, tensor, type Tensor } from '../engine/index.ts';

/**
 * The MSE term of salient compressor pretraining (docs/clara.md §4): pull the mean of a document's
 * memory states towards the mean of its token states, so compressed vectors live where token states
 * do.
 *
 *   mu_mem[b] = mean of h over the n memory positions
 *   mu_doc[b] = mean of h over every other non-padding position (<ENC>, <s>, the text, </s>)
 *   L_mse     = mean over b and over d of (mu_doc[b] − mu_mem[b])²
 *
 * hidden [docs, T + n, d] (compressor output, post-norm); attentionMask host [docs, T + n];
 * memory [docs, n, d], the memory states: pass the compressor's own `compressed` (the default is the
 * same values, sliced anew) so that d loss / d compressed holds this term too, not only the
 * generator's (what `clara trace` reports as grad.compressed).
 */
export function memoryMseLoss(
  hidden: Tensor,
  attentionMask: readonly (readonly number[])[],
  n: number,
  memory: Tensor = hidden.slice(1, hidden.shape[1]! - n, hidden.shape[1]!),
): { loss: Tensor; muMem: Tensor; muDoc: Tensor } {
  const [docs, width] = hidden.shape as [number, number, number];
  const textLength = width - n;
  const muMem = capture('mu_mem', memory.mean(1)); // [docs, d]
  // Weights 1/count on the document's real tokens, 0 on padding: a weighted sum is then the mean.
  const weights = new Float64Array(docs * textLength);
  attentionMask.forEach((row, b) => {
    const count = row.slice(0, textLength).reduce((s, v) => s + v, 0);
    for (let t = 0; t < textLength; t++) weights[b * textLength + t] = row[t]! / Math.max(count, 1);
  });
  const w = tensor(weights, [docs, textLength, 1], { backend: hidden.backend, dtype: hidden.dtype });
  const muDoc = capture('mu_doc', hidden.slice(1, 0, textLength).mul(w).sum(1)); // [docs, d]
  return { loss: capture('mse', mseLoss(muDoc, muMem)), muMem, muDoc };
}
