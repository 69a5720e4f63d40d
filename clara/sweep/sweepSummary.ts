import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from '../../engine/io/index.ts';
import type { DemoResult } from '../demo/demoReport.ts';
import { cellDir, isFinished, readPlan } from './runSweep.ts';
import type { SettingValue } from './sweepGrid.ts';
import { sweepPlots } from './sweepPlots.ts';

/**
 * A sweep's summary: one row per setting (the swept options' values), each metric's mean and
 * spread over the seeds, from the finished cells' metrics.json. The spread is the sample standard
 * deviation (n − 1 in the denominator; 0 for a single seed). Written as summary.json, summary.md
 * and one SVG per swept option (plots/), all rebuilt from the cells by `clara sweep --summarize`.
 */
export interface SweepMetric {
  key: string;
  /** The column's heading. */
  label: string;
  /** The panel group of the plots. */
  group: 'recall' | 'EM' | 'F1' | 'memory and time';
  value: (r: DemoResult) => number;
}

type AnswerSource = keyof DemoResult['answers']['trained'];
const SOURCE_LABELS: Record<AnswerSource, string> = {
  withDocs: 'retrieved',
  goldDoc: 'gold',
  noDocs: 'no doc',
  changedDocNew: 'changed doc, new value',
  changedDocOld: 'changed doc, old value',
};

/** `sources` on both splits; a cell written before a source existed reads NaN, shown as "–". */
const answerMetrics = (measure: 'em' | 'f1', sources: readonly AnswerSource[]): SweepMetric[] =>
  (['trained', 'heldOut'] as const).flatMap((split) =>
    sources.map((docs) => ({
      key: `${measure}.${split}.${docs}`,
      label: `${measure.toUpperCase()} ${split === 'trained' ? 'trained' : 'held-out'}, ${SOURCE_LABELS[docs]}`,
      group: measure === 'em' ? ('EM' as const) : ('F1' as const),
      value: (r: DemoResult) => r.answers[split][docs]?.[measure] ?? NaN,
    })),
  );

/**
 * The table's columns: recall after stage 3, answers on both splits from each document source (EM
 * only for the changed document, whose one-word answers make F1 repeat it), memory, time.
 */
export const SWEEP_METRICS: readonly SweepMetric[] = [
  ...([1, 3, 5] as const).map((k) => ({ key: `recall@${k}`, label: `R@${k}`, group: 'recall' as const, value: (r: DemoResult) => r.recall.after[k] })),
  ...answerMetrics('em', ['withDocs', 'goldDoc', 'noDocs', 'changedDocNew', 'changedDocOld']),
  ...answerMetrics('f1', ['withDocs', 'goldDoc', 'noDocs']),
  { key: 'documentSpecificShare', label: 'doc-specific share', group: 'memory and time', value: (r) => r.memory.documentSpecificShare },
  { key: 'seconds', label: 'seconds', group: 'memory and time', value: (r) => r.seconds },
];

export interface Spread {
  mean: number;
  /** Sample standard deviation over the seeds (0 for one seed). */
  spread: number;
}

interface SummaryRow {
  options: Record<string, SettingValue>;
  seeds: number[];
  metrics: Record<string, Spread>;
}

export interface SweepSummary {
  swept: string[];
  /** Finished cells, and all the plan holds. */
  finished: number;
  cells: number;
  rows: SummaryRow[];
}

/** The mean and the sample standard deviation of `xs` (at least one value). */
export function meanAndSpread(xs: readonly number[]): Spread {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const spread = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, spread };
}

export interface FinishedCell {
  options: Record<string, SettingValue>;
  seed: number;
  result: DemoResult;
}

/** Groups cells by their options (first appearance first) and averages each metric over the seeds. */
export function summarize(swept: string[], cells: readonly FinishedCell[], planned = cells.length): SweepSummary {
  const groups = new Map<string, FinishedCell[]>();
  for (const cell of cells) {
    const key = JSON.stringify(swept.map((k) => cell.options[k]));
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  const rows = [...groups.values()].map((group) => ({
    options: group[0]!.options,
    seeds: group.map((c) => c.seed),
    metrics: Object.fromEntries(SWEEP_METRICS.map((m) => [m.key, meanAndSpread(group.map((c) => m.value(c.result)))])),
  }));
  return { swept, finished: cells.length, cells: planned, rows };
}

/** The table in Markdown: one row per setting, "mean ± spread" per metric. */
export function summaryMarkdown(s: SweepSummary): string {
  const digits = (key: string) => (key === 'seconds' ? 0 : key === 'documentSpecificShare' ? 4 : 2);
  const cell = (key: string, x: Spread) => (Number.isNaN(x.mean) ? '–' : `${x.mean.toFixed(digits(key))} ± ${x.spread.toFixed(digits(key))}`);
  const header = [...s.swept, 'seeds', ...SWEEP_METRICS.map((m) => m.label)];
  return [
    `${s.finished} of ${s.cells} cells finished; each entry: mean ± sample standard deviation over the seeds. Recall: held-out questions after stage 3.`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...s.rows.map(
      (r) => `| ${[...s.swept.map((k) => String(r.options[k])), r.seeds.join(' '), ...SWEEP_METRICS.map((m) => cell(m.key, r.metrics[m.key]!))].join(' | ')} |`,
    ),
    '',
  ].join('\n');
}

/** Reads the finished cells of the sweep folder `out`. */
function readFinishedCells(out: string): { swept: string[]; cells: FinishedCell[]; planned: number } {
  const plan = readPlan(out);
  const cells = plan.cells
    .map((id) => cellDir(out, id))
    .filter(isFinished)
    .map((dir) => {
      const config = readJsonFile(join(dir, 'config.json'), 'the cell config') as Pick<FinishedCell, 'options' | 'seed'>;
      return { options: config.options, seed: config.seed, result: readJsonFile(join(dir, 'metrics.json'), 'the cell metrics') as DemoResult };
    });
  return { swept: plan.swept, cells, planned: plan.cells.length };
}

/** Writes summary.json, summary.md and plots/<option>.svg into `out` from its finished cells. */
export function writeSweepSummary(out: string): SweepSummary {
  const { swept, cells, planned } = readFinishedCells(out);
  if (cells.length === 0) throw new Error(`${out} has no finished cell yet`);
  const summary = summarize(swept, cells, planned);
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(out, 'summary.md'), summaryMarkdown(summary));
  const plots = join(out, 'plots');
  if (!existsSync(plots)) mkdirSync(plots);
  for (const [option, svg] of sweepPlots(summary, SWEEP_METRICS)) writeFileSync(join(plots, `${option}.svg`), svg);
  return summary;
}
