import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Metrics as JSON Lines, one object per optimiser step:
 *
 *     {"step":1,"loss":6.47,"ce":6.41,"mse":0.58,"lr":0,"gradNorm":1.93,"tokens":912,"seconds":2.9}
 *
 * `step` counts from 1 (the update just made); `tokens` and `seconds` are this step's.
 */
export interface StepMetrics {
  step: number;
  loss: number;
  /** One entry per loss term of the objective (ce, mse…); null when the step had no units for it. */
  [term: string]: number | null;
  lr: number;
  gradNorm: number;
  tokens: number;
  seconds: number;
}

export class MetricsLog {
  /**
   * Opens `path` for a run starting after `resumedStep` steps: a fresh run (0) empties the file; a
   * resumed one keeps the lines of the steps it is resuming from and drops any written after the
   * checkpoint (by a run that then crashed), so the file reads as one uninterrupted run.
   */
  constructor(
    readonly path: string,
    resumedStep: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    const kept = resumedStep > 0 && existsSync(path) ? linesUpTo(path, resumedStep) : [];
    writeFileSync(path, kept.map((line) => `${line}\n`).join(''));
  }

  append(metrics: StepMetrics): void {
    appendFileSync(this.path, `${JSON.stringify(metrics)}\n`);
  }
}

/**
 * The lines of `path` for steps up to `step`. A kill during an append can leave the last line torn:
 * it belongs to a step after the checkpoint and is dropped; a bad line before it is an error naming
 * the file and line.
 */
function linesUpTo(path: string, step: number): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  let last = lines.length - 1;
  while (last > 0 && lines[last]!.trim() === '') last--;
  const kept: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let metrics: StepMetrics;
    try {
      metrics = JSON.parse(line) as StepMetrics;
    } catch {
      if (i === last) return; // torn by a kill mid-write
      throw new Error(`${path}:${i + 1}: not a JSON metrics line; cannot resume the log (move the file away to start it afresh)`);
    }
    if (metrics.step <= step) kept.push(line);
  });
  return kept;
}

/** Reads a metrics file back (for scripts and tests). */
export function readMetrics(path: string): StepMetrics[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepMetrics);
}
