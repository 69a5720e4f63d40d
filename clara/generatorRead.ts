import { capture, capturing, tensor, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER } from './adapters.ts';
import { answerCrossEntropy, answerLoss } from './answerLoss.ts';
import type { ClaraModel } from './claraModel.ts';
import { idsTensor } from './compressor.ts';
import type { GeneratorBatch } from './tokenizer/generatorBatch.ts';

/**
 * The generator's read step (docs/clara.md §3): the generator never sees a document's text, only its
 * compressed vectors, written over the `<MEMi>` slots of its prompt.
 *
 *   E = embed(prompt ids)                               [B, L, d]
 *   E[b, the n <MEMi> positions of slot j] = D[b·k + j]  D: compressed documents [B·k, n, d]
 *   h = decoder(E)  with decoder_adapter active           [B, L, d]
 *   L = answer cross-entropy of h (answerLoss.ts)         scalar
 *
 * Every stage reads this way: stages 1 and 2 with the documents the compressor just compressed
 * (compressionObjective.ts), stage 3 with the top-k mixture of the bank's candidates
 * (endToEndObjective.ts), and inference, which decodes from E greedily (answering.ts).
 */

/**
 * The splice: the token embeddings of the whole prompt, except that the n `<MEMi>` positions of slot
 * j are overwritten by the compressed vectors of document j, in order. `<SEP>` keeps its own
 * embedding. Differentiable to both sides: the prompt's embeddings outside the slots, and the
 * compressed vectors (hence the compressor).
 *
 * embeds [B, L, d]; memoryPositions host (B, k, n); compressed [B·k, n, d] with document b·k + j
 * going to slot j of row b → [B, L, d].
 */
export function spliceCompressed(embeds: Tensor, memoryPositions: readonly (readonly (readonly number[])[])[], compressed: Tensor): Tensor {
  const [batch, length, hidden] = embeds.shape as [number, number, number];
  const rows = memoryPositions.flatMap((slots, b) => slots.flatMap((slot) => slot.map((p) => b * length + p)));
  if (rows.length !== compressed.size / hidden) {
    throw new Error(
      `spliceCompressed: the prompts hold ${rows.length} memory positions but ${compressed.size / hidden} compressed vectors were given (shape [${compressed.shape.join(', ')}])`,
    );
  }
  const index = tensor(Int32Array.from(rows), [rows.length, 1], { dtype: 'int32', backend: embeds.backend }).expand([rows.length, hidden]);
  return embeds
    .reshape([batch * length, hidden])
    .scatter(0, index, compressed.reshape([rows.length, hidden]))
    .reshape([batch, length, hidden]);
}

/**
 * The generator's input embeddings [B, L, d]: the prompts embedded, `compressed` [B·k, n, d] spliced
 * into their k slots each (null: prompts with no slots, the generator alone).
 */
export function generatorInput(clara: ClaraModel, prompts: GeneratorBatch, compressed: Tensor | null): Tensor {
  const model = clara.backbone;
  const embeds = model.embed(idsTensor(model, prompts.inputIds));
  return compressed === null ? embeds : spliceCompressed(embeds, prompts.memoryPositions, compressed);
}

export interface GeneratorReadOutput {
  /** The answer cross-entropy, a mean over the supervised tokens of the batch. */
  loss: Tensor;
  /** [B, L, V], computed on first access (training never needs the prompt's logits). */
  readonly logits: Tensor;
}

/** The read step in training: prompts with `compressed` [B·k, n, d] spliced in → the answer loss. */
export function generatorRead(clara: ClaraModel, prompts: GeneratorBatch, compressed: Tensor): GeneratorReadOutput {
  const model = clara.backbone;
  const inputsEmbeds = capture('spliced_embeddings', generatorInput(clara, prompts, compressed));
  const hidden = capture(
    'generator_hidden',
    model.forward({ inputsEmbeds, attentionMask: prompts.attentionMask.flat(), adapter: DECODER_ADAPTER, computeLogits: false }).lastHiddenState,
  );
  const [batch, length] = hidden.shape as [number, number, number];
  const logitBytes = batch * length * model.lmHead.shape[0]! * 4;
  if (capturing() && logitBytes <= (model.backend.maxTensorBytes ?? Number.POSITIVE_INFINITY)) {
    // A trace (clara trace) wants the logits and their gradient: the loss is then taken from the
    // full logits [B, L, V], the same mean as answerLoss's, which training uses to skip them.
    // Logits larger than the backend's largest tensor (WebGPU, a real vocabulary) are left out.
    const logits = capture('logits', hidden.matmul(model.lmHead, { transB: true }));
    return { loss: capture('ce', answerCrossEntropy(logits, prompts.labels)), logits };
  }
  return {
    loss: capture('ce', answerLoss(hidden, model.lmHead, prompts.labels)),
    get logits() {
      return hidden.matmul(model.lmHead, { transB: true });
    },
  };
}
