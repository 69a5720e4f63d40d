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
 * hidden [docs, T + n, d] (compressor output, post-norm); attentionMask host [docs, T + n].
 */
export function memoryMseLoss(hidden: Tensor, attentionMask: readonly (readonly number[])[], n: number): { loss: Tensor; muMem: Tensor; muDoc: Tensor } {
  const [docs, width] = hidden.shape as [number, number, number];
  const textLength = width - n;
  const muMem = capture('mu_mem', hidden.slice(1, textLength, width).mean(1)); // [docs, d]
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
