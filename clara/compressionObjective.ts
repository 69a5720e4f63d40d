import { capture, type Generator, type Parameter, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER } from './adapters.ts';
import { supervisedTokenCount } from './answerLoss.ts';
import { nameParameters, type ClaraModel } from './claraModel.ts';
import { compressDocuments } from './compressor.ts';
import type { Stage1Row } from './data/stage1Data.ts';
import type { Stage2Row } from './data/stage2Data.ts';
import { answerExample, collateBatch, stage1Example, type Batch, type Example } from './examples.ts';
import { generatorRead } from './generatorRead.ts';
import { memoryMseLoss } from './memoryMseLoss.ts';
import { nonPaddingTokens, type MicroBatch, type TrainingObjective } from './train/objective.ts';

/**
 * Stages 1 and 2 (docs/clara.md §4, §5): compress the documents, let the generator read them, and
 * score its answer.
 *
 *   D = compressor(documents)                    [B·k, n, d]   (encoder_adapter)
 *   L_ce  = the generator's read step on D       (generatorRead.ts, decoder_adapter)
 *   L_mse = memory-token MSE of the compressor   (memoryMseLoss.ts)
 *   L = L_ce + λ · L_mse                         (λ = 0.1)
 *
 * L_ce trains the generator and, through the splice, the compressor and (stage 1) the `<MEMi>`
 * embedding rows; L_mse trains the compressor directly.
 *
 * - stage 1 (salient compressor pretraining): one document per row; `qa` rows target every QA
 *   pair, `paraphrase` rows a paraphrase of the document;
 * - stage 2 (compression instruction tuning): a question, k documents, the answer.
 *
 * This file holds the stage whole: what trains, the loss, and the objective the generic trainer
 * (train/trainer.ts) minimises; trainCompressionStage.ts runs it.
 */

// ---- What trains ----------------------------------------------------------------------------------

/**
 * Returns the parameters to hand to the optimiser, having created the adapters the stage needs
 * (LoRA A drawn from `rng`) and set the embedding table's trainable rows.
 *
 * - stage 1: encoder_adapter and decoder_adapter (fresh if absent), and the `<MEMi>` rows of the
 *   embedding table only;
 * - stage 2: encoder_adapter continued, decoder_adapter re-created fresh (as the official code
 *   does; `keepGenerator` continues the one the model has, for a stage 2 in phases), memory rows
 *   frozen.
 *
 * `trainHead` trains lm_head too (either stage). The official code keeps it frozen: a pretrained
 * model's head already maps hidden states to words. A from-scratch model's head is random, and a
 * value the generator reads from the memory must reach a random projection of it; a PyTorch replica
 * of the demo's model read two to four facts 0.82 of the time at step 1500 with the head trained
 * (0.92 at 2000, the hundred birth years included), against 0.76 with it frozen; in the demo's
 * --long, held-out facts 0.72 against 0.56 (docs/reading.md).
 */
export function prepareCompressionStage(
  clara: ClaraModel,
  stage: 1 | 2,
  rng: Generator,
  options: { keepGenerator?: boolean; trainHead?: boolean } = {},
): Parameter[] {
  const model = clara.backbone;
  const names = model.adapterNames();
  if (!names.includes(ENCODER_ADAPTER)) {
    if (stage === 2)
      throw new Error('stage 2 continues the compressor of stage 1, but this model has no encoder_adapter (train stage 1 first, or pass a stage-1 model)');
    model.addAdapter(ENCODER_ADAPTER, clara.settings.lora, rng);
  }
  if (stage === 2 && names.includes(DECODER_ADAPTER) && !options.keepGenerator) model.deleteAdapter(DECODER_ADAPTER);
  if (!model.adapterNames().includes(DECODER_ADAPTER)) model.addAdapter(DECODER_ADAPTER, clara.settings.lora, rng);

  const embedding = model.model.embedTokens.weight;
  const params = [...model.adapterParameters(ENCODER_ADAPTER), ...model.adapterParameters(DECODER_ADAPTER)].map(([, p]) => p);
  if (stage === 1) {
    embedding.requiresGrad_(true).setTrainableRows(clara.tokenizer.special.mem);
    params.push(embedding);
  } else {
    embedding.setTrainableRows(null).requiresGrad_(false);
  }
  return [...params, ...trainedHead(clara, options.trainHead ?? false)];
}

/**
 * lm_head as a parameter to train, or frozen (and nothing to train) when `train` is false. Stage 3
 * freezes it through this too: a head left trainable by stage 2 would gather gradients that no
 * optimiser clears.
 */
export function trainedHead(clara: ClaraModel, train: boolean): Parameter[] {
  const model = clara.backbone;
  if (model.config.tie_word_embeddings) {
    if (train) throw new Error('trainHead: this model ties lm_head to the embedding table; train the head only of a model with its own');
    return [];
  }
  const head = model.lmHead;
  head.requiresGrad_(train);
  if (!train && head.grad !== null) {
    head.grad.dispose();
    head.grad = null;
  }
  return train ? [head] : [];
}

/**
 * The same parameters, named for the optimiser state (`encoder_adapter.<PEFT key>`,
 * `decoder_adapter.<PEFT key>` and, in stage 1, `model.embed_tokens.weight`). A resumed stage 2
 * must not go through `prepareCompressionStage`, which re-creates the generator adapter and would
 * throw away the steps already taken: it only collects what is there.
 */
export function compressionStageParameters(
  clara: ClaraModel,
  stage: 1 | 2,
  options: { resume: boolean; rng: Generator; keepGenerator?: boolean; trainHead?: boolean },
): Array<[string, Parameter]> {
  let params: Parameter[];
  if (!options.resume || stage === 1) {
    // Stage 1 on a model that has both adapters creates nothing: resuming it is the same call.
    params = prepareCompressionStage(clara, stage, options.rng, { keepGenerator: options.keepGenerator, trainHead: options.trainHead });
  } else {
    const model = clara.backbone;
    for (const name of [ENCODER_ADAPTER, DECODER_ADAPTER]) {
      if (!model.adapterNames().includes(name)) throw new Error(`resume stage 2: the checkpoint has no ${name}`);
    }
    model.model.embedTokens.weight.setTrainableRows(null).requiresGrad_(false);
    params = [
      ...[ENCODER_ADAPTER, DECODER_ADAPTER].flatMap((name) => model.adapterParameters(name).map(([, p]) => p)),
      ...trainedHead(clara, options.trainHead ?? false),
    ];
  }
  return nameParameters(clara, params);
}

// ---- The loss -------------------------------------------------------------------------------------

export interface CompressionLossOutput {
  loss: Tensor;
  ce: Tensor;
  mse: Tensor;
  /** [B·k, n, d] */
  compressed: Tensor;
  /** [B, L, V], computed on first access (training never needs the prompt's logits). */
  readonly logits: Tensor;
}

/** L = L_ce + λ·L_mse for one batch (B·k compressor rows, B generator prompts); λ = `mseWeight`. */
export function compressionLoss(clara: ClaraModel, batch: Batch, mseWeight: number): CompressionLossOutput {
  const { compressed, hidden } = compressDocuments(clara.backbone, batch.encoder, ENCODER_ADAPTER);
  capture('compressed', compressed);
  const mse = memoryMseLoss(hidden, batch.encoder.attentionMask, clara.nMem, compressed).loss;
  const read = generatorRead(clara, batch.generator, compressed);
  const ce = read.loss;
  return {
    loss: capture('loss', mseWeight === 0 ? ce : ce.add(mse.mul(mseWeight))),
    ce,
    mse,
    compressed,
    get logits() {
      return read.logits;
    },
  };
}

// ---- As a training objective ----------------------------------------------------------------------

export interface CompressionObjectiveOptions {
  /** λ, the weight of L_mse (docs/clara.md §4: 0.1). */
  mseWeight: number;
  /** Whether lm_head trains (`prepareCompressionStage`): recorded with the run, so a resume trains it too. */
  trainHead?: boolean;
}

/**
 * Rows become examples (stage-1 prompts or answer prompts), examples a batch. Units for gradient
 * accumulation: the cross-entropy is a mean over supervised answer tokens, the MSE a mean over
 * documents (each already averaged over the hidden dimensions).
 */
export function compressionObjective(clara: ClaraModel, stage: 1 | 2, options: CompressionObjectiveOptions): TrainingObjective<Stage1Row | Stage2Row, Batch> {
  const { tokenizer } = clara;
  const toExample = (row: Stage1Row | Stage2Row, rng: Generator): Example =>
    stage === 1
      ? stage1Example(tokenizer, row as Stage1Row, rng)
      : answerExample(tokenizer, (row as Stage2Row).question, (row as Stage2Row).docs, (row as Stage2Row).answer);
  return {
    weights: { ce: 1, mse: options.mseWeight },
    settings: {
      stage,
      mseWeight: options.mseWeight,
      // Recorded only when true: runs saved before the head could train resume unchanged.
      ...(options.trainHead ? { trainHead: true } : {}),
      docMaxLength: clara.settings.docMaxLength,
      compressionRate: clara.settings.compressionRate,
      vocabSize: tokenizer.vocabSize,
    },
    collate(rows, rng): MicroBatch<Batch> {
      const batch = collateBatch(
        tokenizer,
        rows.map((row) => toExample(row, rng)),
        clara.settings.docMaxLength,
      );
      return {
        batch,
        units: { ce: supervisedTokenCount(batch.generator.labels), mse: batch.encoder.inputIds.length },
        tokens: nonPaddingTokens(batch.encoder.attentionMask) + nonPaddingTokens(batch.generator.attentionMask),
        // A generator row is cut at its end: its answer (or paraphrase) loses tokens.
        truncated: { docs: batch.encoder.truncated ?? 0, answers: batch.generator.truncated ?? 0 },
      };
    },
    terms(batch): Record<string, Tensor> {
      const { ce, mse } = compressionLoss(clara, batch, 0);
      return { ce, mse };
    },
  };
}
