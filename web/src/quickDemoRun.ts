import type { Backend } from '../../engine/index.ts';
import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../clara/adapters.ts';
import { rankCandidates } from '../../clara/answering.ts';
import type { ClaraModel } from '../../clara/claraModel.ts';
import { generateSyntheticCorpus, type SyntheticCorpus } from '../../clara/data/synth.ts';
import { demoCorpusOptions, demoModel, demoStage1Options, demoStage3Options } from '../../clara/demo/demoModel.ts';
import { QUICK_DEMO } from '../../clara/demo/demoSettings.ts';
import { meanRecall } from '../../clara/eval/metrics.ts';
import { candidateBank } from '../../clara/retrieval/documentBank.ts';
import type { StepMetrics } from '../../clara/train/metricsLog.ts';
import { trainCompressionStage } from '../../clara/trainCompressionStage.ts';
import { trainEndToEnd } from '../../clara/trainEndToEnd.ts';

/**
 * The quick demo's training (`npx clara demo --quick`, stages 1 and 3) in the page, through the
 * same library calls and settings as clara/demo/runDemo.ts, so a seed gives Node's losses. Nothing
 * is written; every step is reported, and the held-out recall@1 as the demo's curve measures it.
 */
interface QuickDemoProgress {
  stage: 1 | 3;
  metrics: StepMetrics;
  /** Steps done over both stages, and their total. */
  done: number;
  total: number;
}

export interface QuickDemoRun {
  clara: ClaraModel;
  corpus: SyntheticCorpus;
  stage1: StepMetrics[];
  stage3: StepMetrics[];
  /** (stage-3 step, held-out recall@1), from step 0. */
  recall: Array<[number, number]>;
  /** Whether the run stopped early (stopAfter or `shouldStop`). */
  stopped: boolean;
}

export interface QuickDemoOptions {
  backend: Backend;
  seed: number;
  /** Stop after this many steps in all (0: run both stages). */
  stopAfter: number;
  onStep: (progress: QuickDemoProgress) => void;
  /** Asked after every step: true stops the run there (the page's Stop button). */
  shouldStop: () => boolean;
  /** Called when a stage starts, e.g. to say that the corpus is being compressed. */
  onPhase: (line: string) => void;
}

/** Thrown from onStep to end a stage early; the run keeps what it has. */
class StopTraining extends Error {}

export const QUICK_STEPS = QUICK_DEMO.stage1.steps + QUICK_DEMO.stage3.steps;

export async function runQuickDemo(options: QuickDemoOptions): Promise<QuickDemoRun> {
  const s = QUICK_DEMO;
  const corpus = generateSyntheticCorpus(demoCorpusOptions(s, options.seed));
  options.onPhase(`${corpus.documents.length} documents; building the model`);
  const clara = demoModel(s, corpus, options.seed, options.backend);
  const run: QuickDemoRun = { clara, corpus, stage1: [], stage3: [], recall: [], stopped: false };
  let done = 0;
  const report = (stage: 1 | 3, history: StepMetrics[]) => async (metrics: StepMetrics) => {
    history.push(metrics);
    done++;
    options.onStep({ stage, metrics, done, total: QUICK_STEPS });
    // On the CPU backend a step never waits for anything: yield here, so that the page draws the
    // step and hears the Stop button.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if ((options.stopAfter > 0 && done >= options.stopAfter) || options.shouldStop()) throw new StopTraining();
  };
  const stopped = async (stage: Promise<unknown>) => {
    try {
      await stage;
      return false;
    } catch (error) {
      if (error instanceof StopTraining) return true;
      throw error;
    }
  };

  options.onPhase(`stage 1: ${s.stage1.steps} steps, the compressor held still for the first ${s.stage1.compressorFrozenSteps}`);
  run.stopped = await stopped(trainCompressionStage({ ...demoStage1Options(s, clara, corpus, options.seed), progress: false, onStep: report(1, run.stage1) }));
  if (run.stopped) return run;

  options.onPhase('compressing the candidates');
  const { stage3Train: trainRows, stage3HeldOut: heldOutRows } = corpus;
  const { bank, candidates } = candidateBank(clara, [...trainRows, ...heldOutRows]);
  const curveRows = heldOutRows.slice(0, s.curve.questions);
  const curveCandidates = candidates.slice(trainRows.length, trainRows.length + curveRows.length);
  const recallAt1 = async (adapter?: string) => {
    const rankings = await rankCandidates(
      clara,
      bank,
      curveRows.map((r) => r.question),
      curveCandidates,
      { adapter },
    );
    return meanRecall(
      rankings.map((r) => r.order),
      curveRows.map((r) => r.posIndex),
      [1],
    )[1]!;
  };
  // Before stage 3 the query reasoner does not exist yet: the compressor encodes the questions (as in the demo).
  run.recall.push([0, await recallAt1(ENCODER_ADAPTER)]);
  options.onPhase(`stage 3: ${s.stage3.steps} steps, top-${s.stage3.k} of ${s.candidates}, no relevance labels`);
  const onStage3Step = report(3, run.stage3);
  run.stopped = await stopped(
    trainEndToEnd({
      ...demoStage3Options(s, clara, trainRows, { bank, candidates: candidates.slice(0, trainRows.length) }, options.seed),
      progress: false,
      onStep: async (m) => {
        if (m.step % s.curve.every === 0 || m.step === s.stage3.steps) {
          run.recall.push([m.step, await recallAt1(QUERY_REASONER_ADAPTER)]);
          clara.backbone.train();
        }
        await onStage3Step(m);
      },
    }),
  );
  bank.dispose();
  return run;
}
