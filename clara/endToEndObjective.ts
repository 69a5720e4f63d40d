import { capture, type Generator, type Parameter, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
import { supervisedTokenCount } from './answerLoss.ts';
import type { ClaraModel } from './claraModel.ts';
import type { TopKEstimator, TopKOptions, TopKSelection } from './differentiableTopK.ts';
import { slotPromptBatch } from './examples.ts';
import { generatorRead } from './generatorRead.ts';
import { cosineScores, encodeQueries } from './queryReasoner.ts';
import { trainedHead } from './compressionObjective.ts';
import { gatherCandidates } from './retrieval/documentBank.ts';
import type { GeneratorBatch } from './tokenizer/generatorBatch.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';
import { buildEncoderBatch } from './tokenizer/encoderInput.ts';
import { nonPaddingTokens, type MicroBatch, type TrainingObjective, type TrainingStep } from './train/objective.ts';

/**
 * Stage 3, end to end (docs/clara.md §6): retrieval and generation trained through one loss.
 *
 *   q = QR(question)                           [B, n·d]     (queryReasoner.ts, query_reasoner_adapter)
 *   D = the question's N compressed candidates [B, N, n·d]  (the bank, precomputed, no gradient)
 *   s = cosine(q, D)                           [B, N]
 *   W = differentiable top-k of s              [B, k, N]    (differentiableTopK.ts)
 *   sel = W · D                                [B, k, n·d] → the generator's k slots
 *   L = the generator's read step on sel       (generatorRead.ts, decoder_adapter)
 *
 * The only loss is the answer's: relevance labels are never used. Gradients reach the generator
 * directly and the query reasoner through W and s.
 *
 * This file holds the stage whole: what trains, the loss, and the objective the generic trainer
 * (train/trainer.ts) minimises; trainEndToEnd.ts runs it.
 */

// ---- What trains ----------------------------------------------------------------------------------

/**
 * The query reasoner (created as a copy of the compressor when absent) and the generator. The
 * compressor, the embedding table and lm_head (which stage 2 may have trained) stay frozen.
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
  trainedHead(clara, false);
  const generator = model.adapterParameters(DECODER_ADAPTER).map(([, p]) => p.requiresGrad_(options.trainGenerator ?? true));
  return {
    queryReasoner: model.adapterParameters(QUERY_REASONER_ADAPTER).map(([, p]) => p.requiresGrad_(true)),
    generator: options.trainGenerator === false ? [] : generator,
  };
}

// ---- The loss -------------------------------------------------------------------------------------

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
  return {
    items,
    generator: slotPromptBatch(
      tokenizer,
      items.map((it) => it.question),
      k,
      items.map((it) => it.answer),
    ),
  };
}

export interface Stage3LossOutput {
  loss: Tensor;
  /** [B, N] */
  scores: Tensor;
  selection: TopKSelection;
  /** [B, L, V], computed on first access. */
  readonly logits: Tensor;
}

/**
 * bank [docs, n, d]: every candidate document compressed once by the (frozen) compressor. `rng`
 * feeds a noisy estimator (gumbel).
 */
export function stage3Loss(clara: ClaraModel, bank: Tensor, batch: Stage3Batch, options: TopKOptions & { estimator: TopKEstimator }): Stage3LossOutput {
  const { items, generator: prompts } = batch;
  const candidates = gatherCandidates(
    bank,
    items.map((it) => it.candidates),
  );
  const queries = encodeQueries(
    clara,
    items.map((it) => it.question),
  );
  return stage3LossOf(clara, queries, candidates, prompts, options);
}

/**
 * The same from the encoded questions q [B, n·d] and their candidates D [B, N, n, d] (`clara
 * trace` gives them as ids).
 */
export function stage3LossOf(
  clara: ClaraModel,
  queries: Tensor,
  candidates: Tensor,
  prompts: GeneratorBatch,
  options: TopKOptions & { estimator: TopKEstimator },
): Stage3LossOutput {
  const [size, candidateCount, nMem, hidden] = candidates.shape as [number, number, number, number];
  const flat = capture('D', candidates.reshape([size, candidateCount, nMem * hidden]));
  const scores = capture('s', cosineScores(queries, flat));
  const { estimator, ...topK } = options;
  const selection = estimator(scores, topK);
  capture('P', selection.soft);
  capture('W', selection.weights);
  const selected = capture('selected', selection.weights.matmul(flat).reshape([size * options.k, nMem, hidden]));
  const read = generatorRead(clara, prompts, selected);
  return {
    loss: capture('loss', read.loss),
    scores,
    selection,
    get logits() {
      return read.logits;
    },
  };
}

// ---- As a training objective ----------------------------------------------------------------------

export interface Stage3ObjectiveOptions {
  /** [docs, n, d]: the compressed candidates. */
  bank: Tensor;
  k: number;
  temperature: number;
  estimator: TopKEstimator;
  /** Name of the estimator (saved with checkpoints). */
  estimatorName: string;
}

/** The micro-batch stage 3 trains on: the batch, and the step's random stream and place for the estimator. */
export type Stage3MicroBatch = Stage3Batch & { rng: Generator } & TrainingStep;

/** The answer cross-entropy of `stage3Loss`, nothing else; units: the supervised answer tokens. */
export function stage3Objective(clara: ClaraModel, options: Stage3ObjectiveOptions): TrainingObjective<Stage3Item, Stage3MicroBatch> {
  return {
    weights: { ce: 1 },
    settings: { stage: 3, k: options.k, temperature: options.temperature, estimator: options.estimatorName, bankShape: options.bank.shape },
    collate(rows, rng, at): MicroBatch<Stage3MicroBatch> {
      const batch = collateStage3(clara.tokenizer, rows, options.k);
      // The query reasoner's cut of the questions, counted here: its forward (stage3Loss) tokenizes them again.
      const questions = buildEncoderBatch(
        clara.tokenizer,
        rows.map((row) => row.question),
        { maxTextLength: clara.settings.questionMaxLength, padding: 'longest' },
      );
      return {
        batch: { ...batch, rng, ...at },
        units: { ce: supervisedTokenCount(batch.generator.labels) },
        tokens: nonPaddingTokens(batch.generator.attentionMask),
        truncated: { questions: questions.truncated ?? 0, answers: batch.generator.truncated ?? 0 },
      };
    },
    terms(batch): Record<string, Tensor> {
      const { k, temperature, estimator } = options;
      const { loss } = stage3Loss(clara, options.bank, batch, { k, temperature, estimator, rng: batch.rng, step: batch.step, totalSteps: batch.totalSteps });
      return { ce: loss };
    },
  };
}
