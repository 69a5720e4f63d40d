import { chartSvg } from '../report/svgChart.ts';
import type { StepMetrics } from '../train/metricsLog.ts';

/** What the demo reports (runDemo.ts measures it; metrics.json holds it), its printed table and its chart. */
export type Recall = { 1: number; 3: number; 5: number };
export interface AnswerQuality {
  em: number;
  f1: number;
}

interface AnswerSources {
  withDocs: AnswerQuality;
  noDocs: AnswerQuality;
  goldDoc: AnswerQuality;
  changedDocNew: AnswerQuality;
  changedDocOld: AnswerQuality;
}

export interface DemoResult {
  recall: { before: Recall; after: Recall; random: Recall; bm25: Recall };
  /**
   * Per split, answers from the retrieved documents, from none, from the relevant one ("gold"), and
   * from the relevant one with the asked value changed (eval/counterfactualFacts.ts), scored
   * against the new value (`changedDocNew`: read from the memory tokens) and against the old one
   * (`changedDocOld`: recalled from the generator's weights).
   */
  answers: { trained: AnswerSources; heldOut: AnswerSources };
  /**
   * The compressed corpus after the compressor's last stage (1 or 2): the share of its energy that
   * differs between documents (eval/documentSpecificShare.ts; near 0 means the compressor has collapsed).
   */
  memory: { documentSpecificShare: number };
  /** The seed of the corpus, the initialisation and the data order. */
  seed: number;
  /** A smoke test (`--quick`): the pipeline ran; the numbers claim nothing. */
  smokeTest: boolean;
  compressionRate: number;
  memoryTokens: number;
  /** Stage 3's top-k estimator (differentiableTopK.ts). */
  estimator: string;
  candidates: number;
  /** The vocabulary kind ('word' or 'compact'); its size is in `counts.vocabulary`. */
  tokenizer: string;
  backend: string;
  seconds: number;
  /** `stage3TrainingRows`: trained questions, each in one or both wordings (settings' `stage3Wordings`). */
  counts: { documents: number; trainedQuestions: number; heldOutQuestions: number; stage3TrainingRows: number; vocabulary: number };
  /** Losses of each stage run (`steps` 0: not run; stage 2's steps count both its phases). */
  stage1: { steps: number; firstLoss: number; lastLoss: number };
  stage2: { steps: number; firstLoss: number; lastLoss: number };
  stage3: { steps: number; firstLoss: number; lastLoss: number };
  runDir: string;
  /** The document bank of the corpus (`clara compress` format) and a `clara ask` command that uses it. */
  ask: { bank: string; model: string; command: string };
}

const pct = (x: number) => x.toFixed(2);

/** The smoke test's label, printed before and after its table. */
export const SMOKE_TEST_NOTE =
  'SMOKE TEST (--quick): a small corpus, a small model and a few dozen steps, to check that every step of the pipeline runs. Its numbers claim nothing (recall may fall, EM may be 0); `npx clara demo` is the real run.';

export function demoTable(r: DemoResult): string {
  const cells = (values: readonly string[]) => values.map((v) => v.padStart(6)).join(' ');
  const row = (name: string, values: readonly number[]) => `  ${name.padEnd(34)} ${cells(values.map(pct))}`;
  const header = (title: string, columns: readonly string[]) => [title, `  ${''.padEnd(34)} ${cells(columns)}`];
  const rec = (name: string, x: Recall) => row(name, [x[1], x[3], x[5]]);
  const ans = (name: string, a: AnswerQuality) => row(name, [a.em, a.f1]);
  return [
    ...(r.smokeTest ? [SMOKE_TEST_NOTE, ''] : []),
    `CLaRa demo: ${r.counts.documents} documents, compression rate ${r.compressionRate} (${r.memoryTokens} memory tokens per document), ${r.tokenizer} vocabulary of ${r.counts.vocabulary}, backend ${r.backend}, seed ${r.seed}, ${r.seconds.toFixed(0)} s`,
    '',
    ...header(`Retrieval on ${r.counts.heldOutQuestions} held-out questions, ${r.candidates} candidates each`, ['R@1', 'R@3', 'R@5']),
    rec('random choice', r.recall.random),
    rec('BM25 (lexical)', r.recall.bm25),
    rec('query reasoner before stage 3', r.recall.before),
    rec('query reasoner after stage 3', r.recall.after),
    `  (stage 3 trained without relevance labels; top-k estimator: ${r.estimator})`,
    '',
    ...header('Answers (greedy, exact match and F1)', ['EM', 'F1']),
    ans('trained questions, retrieved docs', r.answers.trained.withDocs),
    ans('trained questions, no docs', r.answers.trained.noDocs),
    ans('held-out facts, retrieved docs', r.answers.heldOut.withDocs),
    ans('held-out facts, no docs', r.answers.heldOut.noDocs),
    ans('trained questions, gold doc', r.answers.trained.goldDoc),
    ans('held-out facts, gold doc', r.answers.heldOut.goldDoc),
    ans('trained questions, changed doc', r.answers.trained.changedDocNew),
    ans('  scored on the old value', r.answers.trained.changedDocOld),
    ans('held-out facts, changed doc', r.answers.heldOut.changedDocNew),
    ans('  scored on the old value', r.answers.heldOut.changedDocOld),
    '  (gold doc: the relevant document given, as the paper\'s "oracle" setting; changed doc: the',
    '  relevant document with the asked value replaced, so the new value is read from the memory',
    '  tokens and the old one recalled from what the generator memorised)',
    '',
    `compressed documents: ${r.memory.documentSpecificShare.toFixed(4)} of their energy differs between documents (0: collapsed)`,
    (['stage1', 'stage2', 'stage3'] as const)
      .filter((stage) => r[stage].steps > 0)
      .map((stage) => `stage ${stage.slice(-1)} loss ${r[stage].firstLoss.toFixed(3)} → ${r[stage].lastLoss.toFixed(3)} in ${r[stage].steps} steps`)
      .join('; '),
    `run folder: ${r.runDir} (metrics.json, curves.svg, per-stage metrics.jsonl, bank.safetensors)`,
    '',
    `Ask the trained model about its corpus (${r.ask.bank} holds every document, compressed):`,
    `  ${r.ask.command}`,
    ...(r.smokeTest ? ['', SMOKE_TEST_NOTE] : []),
  ].join('\n');
}

/** Stage 2's phases as one history, each phase's steps continuing the one before. */
export function joinPhases(phases: ReadonlyArray<readonly StepMetrics[]>): StepMetrics[] {
  const joined: StepMetrics[] = [];
  for (const phase of phases) {
    const offset = joined.length;
    joined.push(...phase.map((m) => ({ ...m, step: m.step + offset })));
  }
  return joined;
}

/**
 * The run's curves: `holds` are the steps the compressor (stage 1) and the query reasoner (stage 3)
 * are held still; `baselines` the recall@1 of chance and BM25 on the curve's questions. Each stage
 * with no history gets no panel; stage 2's history counts both its phases, the first
 * `oneFactSteps` long, with its own λ and compressor hold.
 */
export interface ChartInput {
  stage1: readonly StepMetrics[];
  stage2?: { history: readonly StepMetrics[]; mseWeight: number; compressorHold: number; oneFactSteps: number };
  stage3: readonly StepMetrics[];
  recallCurve: ReadonlyArray<readonly [number, number]>;
  mseWeight: number;
  holds: { compressor: number; queryReasoner: number };
  /** Reference lines on the recall panel (recall@1 of BM25 and of chance), when known. */
  baselines?: { chance?: number; bm25?: number };
}

export function demoChart(c: ChartInput): string {
  const queryReasonerHold = { name: `query reasoner held still (steps 0-${c.holds.queryReasoner})`, from: 0, to: c.holds.queryReasoner };
  const band = (name: string, to: number) => (to > 0 ? [{ name: `${name} (steps 0-${to})`, from: 0, to }] : []);
  const losses = (history: readonly StepMetrics[], mseWeight: number) => [
    { name: `L = CE + ${mseWeight}·MSE`, points: history.map((m) => [m.step, m.loss] as const) },
    { name: 'MSE', points: history.map((m) => [m.step, Number(m.mse)] as const) },
  ];
  const stage2 = c.stage2;
  return chartSvg([
    ...(c.stage1.length > 0
      ? [
          {
            title: 'Stage 1: salient compressor pretraining',
            xLabel: 'step',
            yLabel: 'loss',
            series: losses(c.stage1, c.mseWeight),
            phases: band('compressor held still', c.holds.compressor),
          },
        ]
      : []),
    ...(stage2 && stage2.history.length > 0
      ? [
          {
            title: 'Stage 2: instruction tuning (question in the prompt)',
            xLabel: 'step',
            yLabel: 'loss',
            series: losses(stage2.history, stage2.mseWeight),
            phases: [...band('compressor held still', stage2.compressorHold), ...band('one-fact documents', stage2.oneFactSteps)],
          },
        ]
      : []),
    {
      title: 'Stage 3: end to end',
      xLabel: 'step',
      yLabel: 'answer CE',
      series: [{ name: 'CE', points: c.stage3.map((m) => [m.step, m.loss] as const) }],
      phases: c.holds.queryReasoner > 0 ? [queryReasonerHold] : [],
    },
    {
      title: 'Held-out recall@1 during stage 3',
      xLabel: 'step',
      yLabel: 'recall@1',
      yRange: [0, 1],
      series: [{ name: 'query reasoner', points: c.recallCurve }],
      references: [
        ...(c.baselines?.bm25 === undefined ? [] : [{ name: `BM25 (${c.baselines.bm25.toFixed(2)})`, y: c.baselines.bm25 }]),
        ...(c.baselines?.chance === undefined ? [] : [{ name: `chance (${c.baselines.chance.toFixed(2)})`, y: c.baselines.chance }]),
      ],
      phases: c.holds.queryReasoner > 0 ? [queryReasonerHold] : [],
    },
  ]);
}
