import { Generator, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
import { nameParameters, otherParameters, type ClaraModel } from './claraModel.ts';
import type { Stage3Row } from './data/stage3Data.ts';
import { estimatorName, topKEstimator, type TopKEstimator } from './differentiableTopK.ts';
import { prepareStage3, stage3Objective, type Stage3Item } from './endToEndObjective.ts';
import { candidateBank } from './retrieval/documentBank.ts';
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
  const result = await train({
    objective: stage3Objective(clara, {
      bank,
      k,
      temperature: options.temperature ?? 0.02,
      estimator: typeof estimator === 'string' ? topKEstimator(estimator) : estimator,
      estimatorName: estimatorName(estimator),
    }),
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
