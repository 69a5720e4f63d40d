import { join } from 'node:path';
import { type Backend, Generator, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
import { ClaraModel, nameParameters, otherParameters } from './claraModel.ts';
import { limitCandidates, type Stage3Row } from './data/stage3Data.ts';
import { estimatorName, topKEstimator, type TopKEstimator } from './differentiableTopK.ts';
import { prepareStage3, stage3Objective, type Stage3Item } from './endToEndObjective.ts';
import { candidateBank } from './retrieval/documentBank.ts';
import { savedRun, TRAINER_STATE_FILE, type TrainerState } from './train/checkpoint.ts';
import { mix32 } from './train/dataOrder.ts';
import type { StepMetrics } from './train/metricsLog.ts';
import { train, type TrainingResult } from './train/trainer.ts';
import { resolveTrainingConfig, type TrainingConfig } from './train/trainingConfig.ts';

/**
 * Stage 3 (docs/clara.md §6) as a library call (`clara e2e` is a thin layer over it): compress
 * every candidate once with the frozen compressor, create the query reasoner as a copy of the
 * compressor, and train it with the generator through the answer loss alone (the objective of
 * endToEndObjective.ts, run by the generic trainer).
 *
 *     const clara = ClaraModel.load('runs/stage1');
 *     const { rows } = loadStage3File('stage3-train.jsonl');
 *     await trainEndToEnd({ clara, rows, steps: 300, lr: 1e-3, out: 'runs/stage3' });
 */
export interface EndToEndOptions extends Partial<TrainingConfig> {
  clara: ClaraModel;
  rows: readonly Stage3Row[];
  /** Documents the generator reads (default: the model's generationTopK). */
  k?: number;
  /** τ of the top-k (official 0.02). */
  temperature?: number;
  /**
   * A name from TOPK_ESTIMATORS ('straight-through', the official one, by default) or an estimator
   * of your own (saved with checkpoints by its function name).
   */
  estimator?: string | TopKEstimator;
  /** Train the generator too (default true, as the official code does). */
  trainGenerator?: boolean;
  /**
   * The generator's learning rate as a multiple of `lr` (default 1). Below 1 it keeps the generator
   * from memorising answers faster than the query reasoner learns to retrieve (the toy-scale trial
   * trained the query reasoner at 1e-3 and the generator at 2e-4, a scale of 0.2).
   */
  generatorLrScale?: number;
  /**
   * Hold the query reasoner still for the first N steps (adds to `frozenSteps`), while the generator
   * learns the answer prompt, which stage 1 never showed it: until it has, its loss says little
   * about which document helped, and the query reasoner would follow noise. Measured on a 700-step
   * stage-1 model of the demo (lr 3e-3, 250 steps): recall@1 0.74 with a hold of 60 steps, 0.60 without.
   */
  queryReasonerFrozenSteps?: number;
  out?: string;
  resume?: boolean;
  saveEvery?: number;
  progress?: boolean;
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
  /** A bank already compressed for these rows' candidates (retrieval/documentBank.ts candidateBank). */
  bank?: { bank: Tensor; candidates: number[][] };
}

const DROPOUT_STREAM = 3;

export async function trainEndToEnd(options: EndToEndOptions): Promise<TrainingResult & { bank: Tensor }> {
  const { clara, rows } = options;
  if (rows.length === 0) throw new Error('no training rows');
  const k = options.k ?? clara.settings.generationTopK;
  const candidates = rows[0]!.docs.length;
  if (rows.some((r) => r.docs.length !== candidates)) throw new Error('every stage-3 row needs the same number of candidate documents');
  if (k > candidates) throw new Error(`k = ${k} documents cannot be chosen from ${candidates} candidates`);
  const generatorScale: Record<string, number> =
    options.generatorLrScale !== undefined && options.trainGenerator !== false ? { [DECODER_ADAPTER]: options.generatorLrScale } : {};
  const held: Record<string, number> = options.queryReasonerFrozenSteps === undefined ? {} : { [QUERY_REASONER_ADAPTER]: options.queryReasonerFrozenSteps };
  const config = resolveTrainingConfig(
    { ...options, lrScales: { ...options.lrScales, ...generatorScale }, frozenSteps: { ...options.frozenSteps, ...held } },
    rows.length,
  );
  const estimator = options.estimator ?? 'straight-through';
  const groups = prepareStage3(clara, { trainGenerator: options.trainGenerator });
  const { bank, candidates: bankRows } = options.bank ?? candidateBank(clara, rows);
  const items: Stage3Item[] = rows.map((r, i) => ({ question: r.question, candidates: bankRows[i]!, answer: r.answer }));
  clara.settings.stage = 3;
  const dropout = clara.backbone.rng;
  if (!options.resume) dropout.setState(new Generator(mix32(config.seed, DROPOUT_STREAM)).state());
  clara.backbone.train();
  const trained = nameParameters(clara, [...groups.queryReasoner, ...groups.generator]);
  const stage3 = stage3Objective(clara, {
    bank,
    k,
    temperature: options.temperature ?? 0.02,
    estimator: typeof estimator === 'string' ? topKEstimator(estimator) : estimator,
    estimatorName: estimatorName(estimator),
  });
  // Saved with the objective's settings, so that a resume rebuilds the same rows and trains the same parameters.
  const objective = { ...stage3, settings: { ...stage3.settings, candidates, trainGenerator: options.trainGenerator !== false } };
  const result = await train({
    objective,
    rows: items,
    parameters: trained,
    frozenParameters: otherParameters(clara, trained),
    rngs: { dropout },
    config,
    saveModel: (dir) => clara.save(dir),
    out: options.out,
    resume: options.resume,
    saveEvery: options.saveEvery,
    progress: options.progress,
    onStep: options.onStep,
  });
  return { ...result, bank };
}

/**
 * The options a resumed run takes from its checkpoint, each with the `clara e2e` flag that sets it
 * (named when a given value contradicts the run's). `candidates` is the per-question candidate count.
 */
const RUN_SETTINGS = {
  steps: '--steps',
  batchSize: '--batch-size',
  lr: '--lr',
  seed: '--seed',
  generatorLrScale: '--generator-lr-scale',
  queryReasonerFrozenSteps: '--freeze-query-reasoner',
  k: '--k',
  temperature: '--temperature',
  estimator: '--estimator',
  candidates: '--candidates',
  trainGenerator: '--freeze-generator',
  saveEvery: '--save-every',
} as const;

export type EndToEndSettings = { [option in keyof typeof RUN_SETTINGS]?: number | string | boolean };

/**
 * Continues the stage-3 run in `out` with every setting it was started with: loads the checkpoint's
 * model, takes the settings from its trainer_state.json, keeps as many candidates per question as
 * the run did, and calls `trainEndToEnd` with `resume`. A setting in `given` must agree with the
 * run's; one that does not is refused, naming its flag. `rows` must be the run's data (checked by a
 * fingerprint).
 */
export async function resumeEndToEnd(options: {
  out: string;
  rows: readonly Stage3Row[];
  given?: EndToEndSettings;
  backend?: Backend;
  progress?: boolean;
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
}): Promise<TrainingResult & { bank: Tensor; clara: ClaraModel }> {
  const { dir, state } = savedRun(options.out);
  const run = runSettings(state);
  for (const [option, flag] of Object.entries(RUN_SETTINGS) as [keyof typeof RUN_SETTINGS, string][]) {
    const given = options.given?.[option];
    if (given !== undefined && given !== run[option]) {
      throw new Error(
        `cannot resume ${options.out} with ${flag} ${String(given)}: the run has ${option} ${String(run[option])} (${join(dir, TRAINER_STATE_FILE)}); drop ${flag}`,
      );
    }
  }
  const clara = ClaraModel.load(dir, { backend: options.backend });
  const rows = run.candidates === undefined ? options.rows : limitCandidates(options.rows, run.candidates);
  const result = await trainEndToEnd({
    ...state.config,
    clara,
    rows,
    k: run.k,
    temperature: run.temperature,
    estimator: run.estimator,
    trainGenerator: run.trainGenerator,
    saveEvery: run.saveEvery,
    out: options.out,
    resume: true,
    progress: options.progress,
    onStep: options.onStep,
  });
  return { ...result, clara };
}

/** The settings of the run a checkpoint belongs to, as `trainEndToEnd` options (absent: the defaults). */
function runSettings(state: TrainerState) {
  const { config, objective } = state;
  return {
    steps: config.steps,
    batchSize: config.batchSize,
    lr: config.lr,
    seed: config.seed,
    generatorLrScale: config.lrScales?.[DECODER_ADAPTER] ?? 1,
    queryReasonerFrozenSteps: config.frozenSteps?.[QUERY_REASONER_ADAPTER] ?? 0,
    k: objective.k as number,
    temperature: objective.temperature as number,
    estimator: objective.estimator as string,
    // Checkpoints written before these were saved: every candidate was kept, the generator trained.
    candidates: objective.candidates as number | undefined,
    trainGenerator: (objective.trainGenerator as boolean | undefined) ?? true,
    saveEvery: state.saveEvery,
  };
}
