import { tensor, type Tensor } from '../engine/index.ts';
import { ENCODER_ADAPTER } from './adapters.ts';
import type { MistralForCausalLM } from './model/mistral.ts';
import type { EncoderBatch } from './tokenizer/encoderInput.ts';

/**
 * The compressor (docs/clara.md §2): the backbone with `encoder_adapter` active reads
 * `[pad … | <ENC> <s> document </s> | <MEM0> … <MEM{n-1}>]`, and the last layer's post-norm states
 * at the n memory positions are the document's compressed form. Nothing else is applied: these
 * vectors go straight into the generator as input embeddings (generatorRead.ts).
 */

export interface CompressorOutput {
  /** [docs, n, d]: the compressed documents, memory tokens in order. */
  compressed: Tensor;
  /** [docs, T + n, d]: every position's last post-norm state (the MSE term reads the document part). */
  hidden: Tensor;
}

/** Host [B, L] rows → one flat int32 tensor [B, L] on the model's backend. */
export function idsTensor(model: MistralForCausalLM, rows: readonly (readonly number[])[]): Tensor {
  const width = rows[0]?.length ?? 0;
  return tensor(Int32Array.from(rows.flat()), [rows.length, width], { dtype: 'int32', backend: model.backend });
}

/**
 * Compresses a batch of documents (or, with the query reasoner's adapter, questions).
 * The memory tokens are the last n positions of every row (the encoder layout puts them there).
 */
export function compressDocuments(model: MistralForCausalLM, batch: EncoderBatch, adapter = ENCODER_ADAPTER): CompressorOutput {
  const width = batch.inputIds[0]?.length ?? 0;
  const n = batch.memoryPositions[0]?.length ?? 0;
  const out = model.forward({
    inputIds: idsTensor(model, batch.inputIds),
    attentionMask: batch.attentionMask.flat(),
    adapter,
    computeLogits: false,
  });
  return { compressed: out.lastHiddenState.slice(1, width - n, width), hidden: out.lastHiddenState };
}
