import type { Stage3Row } from '../data/stage3Data.ts';
import { UsageError } from './args.ts';

/**
 * Refuses a `--k` larger than the candidates each row offers: top-k of N < k candidates has no
 * meaning, and further in it would fail as an array or tensor error with no flag named. The loader
 * already made every row hold the same number of candidates.
 */
export function checkTopK(command: string, k: number | undefined, rows: readonly Stage3Row[]): void {
  const candidates = rows[0]?.docs.length;
  if (k === undefined || candidates === undefined || k <= candidates) return;
  throw new UsageError(`clara ${command}: --k ${k} exceeds the ${candidates} candidate documents of each data row`);
}
