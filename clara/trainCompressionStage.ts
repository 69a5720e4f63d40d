import { readFileSync } from 'node:fs';
import { Generator, type Backend } from '../engine/index.ts';
import { ENCODER_ADAPTER } from './adapters.ts';
import { ClaraModel, memoryTokenCount, otherParameters } from './claraModel.ts';
import { compressionObjective, compressionStageParameters } from './compressionObjective.ts';
import type { LoadResult } from './data/jsonLines.ts';
import { loadStage1File, type Stage1Row } from './data/stage1Data.ts';
import { loadStage2File, type Stage2Row } from './data/stage2Data.ts';
import { savedRun } from './train/checkpoint.ts';
import { mix32 } from './train/dataOrder.ts';
import type { StepMetrics } from './train/metricsLog.ts';
import { train, type TrainingJob, type TrainingResult } from './train/trainer.ts';
import { resolveTrainingConfig, type TrainingConfig } from './train/trainingConfig.ts';

/**
 * Stages 1 and 2 (docs/clara.md §4, §5) as library calls: the objective of compressionObjective.ts
 * run by the generic trainer (train/trainer.ts), with its seeds, its compressor hold and its resume.
 * `clara pretrain` is a thin layer over these.
 *
 *     const clara = ClaraModel.fromScratch(…)   // or ClaraModel.load(stage1Dir) for stage 2
 *     const { rows } = loadStage1File('data.jsonl');
 *     await trainCompressionStage({ clara, stage: 1, rows, steps: 300, lr: 2e-3, out: 'runs/s1' });
 *     // later, after an interruption:
 *     await resumeCompressionStage({ out: 'runs/s1', rows });
 */
export interface CompressionStageOptions extends Partial<TrainingConfig> {
  clara: ClaraModel;
  stage: 1 | 2;
  rows: readonly Stage1Row[] | readonly Stage2Row[];
  /** λ of L = L_ce + λ·L_mse (default 0.1). */
  mseWeight?: number;
  /** Warm-up as a share of the steps, when `warmupSteps` is not given (default 3 %). */
  warmupShare?: number;
  /**
   * Hold the compressor (encoder_adapter and, in stage 1, the `<MEMi>` rows) still for the first N
   * steps, so the generator first learns to read its initial vectors: adds to `frozenSteps`.
   */
  compressorFrozenSteps?: number;
  /**
   * Stage 2 only: continue the model's generator (decoder_adapter) instead of starting a fresh one,
   * as the official code does. For a stage 2 run in phases, such as a curriculum of one-fact
   * documents first (docs/reading.md).
   */
  keepGenerator?: boolean;
  /**
   * Train lm_head as well (`prepareCompressionStage`), for a from-scratch model whose head is
   * random; its lr is `lr` times `lrScales['lm_head.weight']` (1 unless given).
   */
  trainHead?: boolean;
  /** Run directory: metrics.jsonl and checkpoint/ (see train/checkpoint.ts). */
  out?: string;
  /** Continue the run in `out`; `clara` must be loaded from its checkpoint (resumeCompressionStage does this). */
  resume?: boolean;
  saveEvery?: number;
  progress?: boolean;
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
  transformTerms?: TrainingJob<unknown, unknown>['transformTerms'];
}

/** The embedding table, whose `<MEMi>` rows stage 1 trains. */
const EMBED_TOKENS = 'model.embed_tokens.weight';

/** Seeds derived from the run's seed, one per use, so that they never share a stream. */
const ADAPTER_INIT_STREAM = 1;
const DROPOUT_STREAM = 2;

export async function trainCompressionStage(options: CompressionStageOptions): Promise<TrainingResult> {
  const { clara, stage, rows } = options;
  if (stage !== 1 && stage !== 2) throw new Error(`stage must be 1 or 2, got ${String(stage)}`);
  if (rows.length === 0) throw new Error('no training rows');
  const n = memoryTokenCount(clara.settings);
  if (n !== clara.nMem) {
    throw new Error(
      `document length ${clara.settings.docMaxLength} / compression rate ${clara.settings.compressionRate} gives ${n} memory tokens, but the model's tokenizer has ${clara.nMem}`,
    );
  }
  const held = options.compressorFrozenSteps;
  const compressorHold: Record<string, number> = held === undefined ? {} : { [ENCODER_ADAPTER]: held, ...(stage === 1 ? { [EMBED_TOKENS]: held } : {}) };
  const config = resolveTrainingConfig({ ...options, frozenSteps: { ...options.frozenSteps, ...compressorHold } }, rows.length);
  const resume = options.resume ?? false;
  if (resume && clara.settings.stage !== stage) throw new Error(`resume: the checkpoint is a stage-${clara.settings.stage} model, not stage ${stage}`);

  if (options.keepGenerator && stage !== 2) throw new Error('keepGenerator is for stage 2 (stage 1 always continues the generator the model has)');
  const parameters = compressionStageParameters(clara, stage, {
    resume,
    rng: new Generator(mix32(config.seed, ADAPTER_INIT_STREAM)),
    keepGenerator: options.keepGenerator,
    trainHead: options.trainHead,
  });
  clara.settings.stage = stage;
  const dropout = clara.backbone.rng;
  if (!resume) dropout.setState(new Generator(mix32(config.seed, DROPOUT_STREAM)).state());
  clara.backbone.train();

  return train({
    objective: compressionObjective(clara, stage, { mseWeight: options.mseWeight ?? 0.1, trainHead: options.trainHead ?? false }),
    rows: rows as readonly (Stage1Row | Stage2Row)[],
    parameters,
    frozenParameters: otherParameters(clara, parameters),
    rngs: { dropout },
    config,
    saveModel: (dir) => clara.save(dir),
    out: options.out,
    resume,
    saveEvery: options.saveEvery,
    progress: options.progress,
    onStep: options.onStep,
    transformTerms: options.transformTerms,
  });
}

/**
 * Continues the run in `out` from its last checkpoint, with the settings it was started with:
 * loads the checkpoint's model and calls `trainCompressionStage` with `resume`. `rows` must be the
 * run's data (checked by a fingerprint).
 */
export async function resumeCompressionStage(options: {
  out: string;
  rows: readonly Stage1Row[] | readonly Stage2Row[];
  backend?: Backend;
  saveEvery?: number;
  progress?: boolean;
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
}): Promise<TrainingResult & { clara: ClaraModel }> {
  const { dir, state } = savedRun(options.out);
  const clara = ClaraModel.load(dir, { backend: options.backend });
  const result = await trainCompressionStage({
    ...state.config,
    clara,
    stage: state.objective.stage as 1 | 2,
    mseWeight: state.objective.mseWeight as number,
    // Runs recorded before the head could train kept it frozen.
    trainHead: state.objective.trainHead === true,
    rows: options.rows,
    out: options.out,
    resume: true,
    saveEvery: options.saveEvery,
    progress: options.progress,
    onStep: options.onStep,
  });
  return { ...result, clara };
}

/**
 * The rows of a stage-1 or stage-2 file. Stage-1 rows hold one document; stage-2 rows hold k, taken
 * from the first row and required of all.
 */
export function loadCompressionRows(stage: 1 | 2, file: string, options: { skipInvalid?: boolean } = {}): LoadResult<Stage1Row> | LoadResult<Stage2Row> {
  if (stage === 1) return loadStage1File(file, options);
  return loadStage2File(file, { ...options, docsPerRow: firstRowDocCount(readFileSync(file, 'utf8')) });
}

/** The document count of the first parsable row (undefined: let the loader report the problem). */
function firstRowDocCount(text: string): number | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      const docs = row.docs ?? row.context ?? row.content;
      return Array.isArray(docs) && docs.length > 0 ? docs.length : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The CLaRa settings a run may set on a model before its first compression stage. */
export interface CompressionModelSettings {
  docMaxLength?: number;
  compressionRate?: number;
  /** Rank r of the adapters the stage creates; alpha = 2r. */
  loraRank?: number;
  loraDropout?: number;
}

/**
 * Sets what a compression stage about to start needs of the model's settings: the given ones, and
 * in stage 2 the number of documents the generator reads (k, the rows' document count).
 */
export function configureCompressionModel(
  clara: ClaraModel,
  stage: 1 | 2,
  rows: readonly Stage1Row[] | readonly Stage2Row[],
  settings: CompressionModelSettings,
): void {
  if (settings.docMaxLength !== undefined) clara.settings.docMaxLength = settings.docMaxLength;
  if (settings.compressionRate !== undefined) clara.settings.compressionRate = settings.compressionRate;
  const lora = { ...clara.settings.lora };
  if (settings.loraRank !== undefined) Object.assign(lora, { r: settings.loraRank, alpha: 2 * settings.loraRank });
  if (settings.loraDropout !== undefined) lora.dropout = settings.loraDropout;
  clara.settings.lora = lora;
  if (stage === 2 && rows.length > 0) clara.settings.generationTopK = rows[0]!.docs.length;
}
