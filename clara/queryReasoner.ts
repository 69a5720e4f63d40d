import { capture, type Tensor } from '../engine/index.ts';
import { QUERY_REASONER_ADAPTER } from './adapters.ts';
import type { ClaraModel } from './claraModel.ts';
import { compressDocuments } from './compressor.ts';
import { buildEncoderBatch, type EncoderBatch } from './tokenizer/encoderInput.ts';

/**
 * The query reasoner (docs/clara.md §2, §6): the compressor's forward with `query_reasoner_adapter`
 * active and the question as its text, `<ENC> <s> question </s> <MEM0…MEM{n-1}>`, giving n vectors
 * that live in the same space as compressed documents. Retrieval is a cosine search against them.
 */

/** questions → [B, n·d], flattened as documents are. */
export function encodeQueries(clara: ClaraModel, questions: readonly string[], adapter = QUERY_REASONER_ADAPTER): Tensor {
  const batch = buildEncoderBatch(clara.tokenizer, questions, { maxTextLength: clara.settings.questionMaxLength, padding: 'longest' });
  return encodeQueryBatch(clara, batch, adapter);
}

/** Questions already laid out for the encoder (ids: `clara trace` on an outside vocabulary) → q [B, n·d]. */
export function encodeQueryBatch(clara: ClaraModel, batch: EncoderBatch, adapter = QUERY_REASONER_ADAPTER): Tensor {
  const { compressed } = compressDocuments(clara.backbone, batch, adapter); // [B, n, d]
  return capture('q', compressed.reshape([batch.inputIds.length, -1]));
}

/**
 * Cosine similarity of each query with each of its candidates, over the flattened n·d vectors
 * (not mean-pooled, not per token): s[b, j] = ⟨q_b/|q_b|, D_bj/|D_bj|⟩, norms floored at 1e-12.
 * queries [B, M], candidates [B, N, M] → [B, N].
 */
export function cosineScores(queries: Tensor, candidates: Tensor): Tensor {
  const q = normalizeRows(queries).unsqueeze(1); // [B, 1, M]
  const d = normalizeRows(candidates); // [B, N, M]
  return q.matmul(d, { transB: true }).squeeze(1);
}

/** x / max(|x|, 1e-12) along the last axis (torch.nn.functional.normalize). */
function normalizeRows(x: Tensor): Tensor {
  return x.div(x.mul(x).sum(-1, true).sqrt().maximum(1e-12));
}
