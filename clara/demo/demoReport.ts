import { chartSvg } from '../report/svgChart.ts';
import type { StepMetrics } from '../train/metricsLog.ts';

/** What the demo reports (runDemo.ts measures it; metrics.json holds it), its printed table and its chart. */
export type Recall = { 1: number; 3: number; 5: number };
export interface AnswerQuality {
  em: number;
  f1: number;
}

export interface DemoResult {
  recall: { before: Recall; after: Recall; random: Recall; bm25: Recall };
  answers: {
    trained: { withDocs: AnswerQuality; noDocs: AnswerQuality; goldDoc: AnswerQuality };
    heldOut: { withDocs: AnswerQuality; noDocs: AnswerQuality; goldDoc: AnswerQuality };
  };
  /**
   * The compressed corpus after stage 1: the share of its energy that differs between documents
   * (eval/documentSpecificShare.ts; near 0 means the compressor has collapsed).
   */
  memory: { documentSpecificShare: number };
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
  stage1: { steps: number; firstLoss: number; lastLoss: number };
  stage3: { steps: number; firstLoss: number; lastLoss: number };
  runDir: string;
}

const pct = (x: number) => x.toFixed(2);

export function demoTable(r: DemoResult): string {
  const row = (name: string, rec: { 1: number; 3: number; 5: number }) =>
    `  ${name.padEnd(34)} ${pct(rec[1]).padStart(6)} ${pct(rec[3]).padStart(6)} ${pct(rec[5]).padStart(6)}`;
  const ans = (name: string, a: { em: number; f1: number }) => `  ${name.padEnd(34)} ${pct(a.em).padStart(6)} ${pct(a.f1).padStart(6)}`;
  return [
    `CLaRa demo: ${r.counts.documents} documents, compression rate ${r.compressionRate} (${r.memoryTokens} memory tokens per document), ${r.tokenizer} vocabulary of ${r.counts.vocabulary}, backend ${r.backend}, ${r.seconds.toFixed(0)} s`,
    '',
    `Retrieval on ${r.counts.heldOutQuestions} held-out questions, ${r.candidates} candidates each   R@1    R@3    R@5`,
    row('random choice', r.recall.random),
    row('BM25 (lexical)', r.recall.bm25),
    row('query reasoner before stage 3', r.recall.before),
    row('query reasoner after stage 3', r.recall.after),
    `  (stage 3 trained without relevance labels; top-k estimator: ${r.estimator})`,
    '',
    'Answers (greedy, exact match and F1)                   EM     F1',
    ans('trained questions, retrieved docs', r.answers.trained.withDocs),
    ans('trained questions, no docs', r.answers.trained.noDocs),
    ans('held-out facts, retrieved docs', r.answers.heldOut.withDocs),
    ans('held-out facts, no docs', r.answers.heldOut.noDocs),
    ans('trained questions, gold doc', r.answers.trained.goldDoc),
    ans('held-out facts, gold doc', r.answers.heldOut.goldDoc),
    '  (gold doc: the relevant document given, as the paper\'s "oracle" setting)',
    '',
    `compressed documents: ${r.memory.documentSpecificShare.toFixed(4)} of their energy differs between documents (0: collapsed)`,
    `stage 1 loss ${r.stage1.firstLoss.toFixed(3)} → ${r.stage1.lastLoss.toFixed(3)} in ${r.stage1.steps} steps; stage 3 loss ${r.stage3.firstLoss.toFixed(3)} → ${r.stage3.lastLoss.toFixed(3)} in ${r.stage3.steps} steps`,
    `run folder: ${r.runDir} (metrics.json, curves.svg, per-stage metrics.jsonl)`,
  ].join('\n');
}

export function demoChart(stage1: readonly StepMetrics[], stage3: readonly StepMetrics[], recallCurve: ReadonlyArray<readonly [number, number]>): string {
  return chartSvg([
    {
      title: 'Stage 1: salient compressor pretraining',
      xLabel: 'step',
      yLabel: 'loss',
      series: [
        { name: 'L = CE + 0.1·MSE', points: stage1.map((m) => [m.step, m.loss] as const) },
        { name: 'MSE', points: stage1.map((m) => [m.step, Number(m.mse)] as const) },
      ],
    },
    { title: 'Stage 3: end to end', xLabel: 'step', yLabel: 'answer CE', series: [{ name: 'CE', points: stage3.map((m) => [m.step, m.loss] as const) }] },
    {
      title: 'Held-out recall@1 during stage 3',
      xLabel: 'step',
      yLabel: 'recall@1',
      yRange: [0, 1],
      series: [{ name: 'query reasoner', points: recallCurve }],
    },
  ]);
}
