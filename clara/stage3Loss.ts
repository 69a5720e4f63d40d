import { tensor, type Generator, type Parameter, type Tensor } from '../engine/index.ts';
import { answerLoss } from './answerLoss.ts';
import type { ClaraModel } from './claraModel.ts';
import { DECODER_ADAPTER } from './compressionLoss.ts';
import { ENCODER_ADAPTER, idsTensor } from './compressor.ts';
import type { TopKEstimator, TopKSelection } from './differentiableTopK.ts';
import { slotPromptBatch } from './examples.ts';
import { cosineScores, encodeQueries, QUERY_REASONER_ADAPTER } from './queryReasoner.ts';
import { spliceCompressed } from './splice.ts';
import type { GeneratorBatch } from './tokenizer/generatorBatch.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';

/**
 * Stage 3, end to end (spec §6): retrieval and generation trained through one loss.
 *
 *   q = QR(question)                          [B, n·d]   (query_reasoner_adapter)
 *   D = the question's N compressed candidates [B, N, n·d] (precomputed, no gradient)
 *   s = cosine(q, D)                          [B, N]
 *   W = differentiable top-k of s             [B, k, N]
 *   sel = W · D                               [B, k, n·d] → k generator slots
 *   L = answer cross-entropy                  (decoder_adapter)
 *
 * The only loss is the answer's: relevance labels are never used. Gradients reach the generator
 * directly and the query reasoner through W and s.
 */
export interface Stage3Item {
  question: string;
  /** Rows of the document bank that are this question's N candidates. */
  candidates: number[];
  answer: string;
}

/** A stage-3 micro-batch: the items and their tokenized generator prompts (k slots each). */
export interface Stage3Batch {
  items: readonly Stage3Item[];
  generator: GeneratorBatch;
}

/** Tokenizes and left-pads the prompts, k slots each. */
export function collateStage3(tokenizer: Tokenizer, items: readonly Stage3Item[], k: number): Stage3Batch {
  return { items, generator: slotPromptBatch(tokenizer, items.map((it) => it.question), k, items.map((it) => it.answer)) };
}

export interface Stage3LossOutput {
  loss: Tensor;
  scores: Tensor;
  selection: TopKSelection;
  /** [B, L, V], computed on first access. */
  readonly logits: Tensor;
}

/**
 * bank [docs, n, d]: every candidate document compressed once by the (frozen) compressor.
 */
export function stage3Loss(clara: ClaraModel, bank: Tensor, batch: Stage3Batch, options: { k: number; temperature: number; estimator: TopKEstimator; generator?: Generator }): Stage3LossOutput {
  const model = clara.backbone;
  const { items, generator: generatorBatch } = batch;
  const [, nMem, hidden] = bank.shape as [number, number, number];
  const size = items.length;
  const candidateCount = items[0]?.candidates.length ?? 0;
  if (items.some((it) => it.candidates.length !== candidateCount)) throw new Error('stage3Loss: every question of a batch needs the same number of candidates');
  const ids = tensor(Int32Array.from(items.flatMap((it) => it.candidates)), [size * candidateCount], { dtype: 'int32', backend: model.backend });
  const candidates = bank.indexSelect(0, ids).reshape([size, candidateCount, nMem * hidden]);

  const queries = encodeQueries(clara, items.map((it) => it.question));
  const scores = cosineScores(queries, candidates);
  const selection = options.estimator(scores, { k: options.k, temperature: options.temperature, generator: options.generator });
  const selected = selection.weights.matmul(candidates).reshape([size * options.k, nMem, hidden]);
  const embeds = model.embed(idsTensor(model, generatorBatch.inputIds));
  const spliced = spliceCompressed(embeds, generatorBatch.memoryPositions, selected);
  const hiddenStates = model.forward({ inputsEmbeds: spliced, attentionMask: generatorBatch.attentionMask.flat(), adapter: DECODER_ADAPTER, computeLogits: false }).lastHiddenState;
  return {
    loss: answerLoss(hiddenStates, model.lmHead, generatorBatch.labels),
    scores,
    selection,
    get logits() {
      return hiddenStates.matmul(model.lmHead, { transB: true });
    },
  };
}

/**
 * What trains in stage 3: the query reasoner (created as a copy of the compressor when absent) and
 * the generator. The compressor and the embedding table stay frozen.
 */
export function prepareStage3(clara: ClaraModel, options: { trainGenerator?: boolean } = {}): { queryReasoner: Parameter[]; generator: Parameter[] } {
  const model = clara.backbone;
  const names = model.adapterNames();
  for (const needed of [ENCODER_ADAPTER, DECODER_ADAPTER]) {
    if (!names.includes(needed)) throw new Error(`stage 3 needs a model trained in stage 1 or 2: it has no ${needed}`);
  }
  if (!names.includes(QUERY_REASONER_ADAPTER)) model.copyAdapter(ENCODER_ADAPTER, QUERY_REASONER_ADAPTER);
  model.model.embedTokens.weight.setTrainableRows(null).requiresGrad_(false);
  for (const [, p] of model.adapterParameters(ENCODER_ADAPTER)) p.requiresGrad_(false);
  const generator = model.adapterParameters(DECODER_ADAPTER).map(([, p]) => p.requiresGrad_(options.trainGenerator ?? true));
  return { queryReasoner: model.adapterParameters(QUERY_REASONER_ADAPTER).map(([, p]) => p.requiresGrad_(true)), generator: options.trainGenerator === false ? [] : generator };
}
