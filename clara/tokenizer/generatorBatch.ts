/**
 * Left-pads tokenized generator rows into one batch (docs/clara.md §3: "Left padding across the
 * batch"), so every row's last prompt token sits at the same position and generation continues from
 * there.
 */
import { IGNORE_INDEX } from './tokenizer.ts';
import type { GeneratorInput } from './chatPrompt.ts';

export interface GeneratorBatch {
  /** (B, L) token ids, left-padded with padId. */
  inputIds: number[][];
  /** (B, L) 0 on padding, 1 elsewhere. */
  attentionMask: number[][];
  /** (B, L) −100 on padding and prompt, token ids on answers. */
  labels: number[][];
  /** (B, k, n) positions of each slot's memory tokens, shifted by the row's padding. */
  memoryPositions: number[][][];
  /** Rows that were longer than the model takes and were cut; absent when none was. */
  truncated?: number;
}

export function collateGeneratorInputs(rows: readonly GeneratorInput[], padId: number): GeneratorBatch {
  const width = Math.max(0, ...rows.map((r) => r.inputIds.length));
  const truncated = rows.filter((r) => r.truncated).length;
  const batch: GeneratorBatch = { inputIds: [], attentionMask: [], labels: [], memoryPositions: [], ...(truncated > 0 ? { truncated } : {}) };
  for (const row of rows) {
    const padCount = width - row.inputIds.length;
    const pad = <T>(value: T) => new Array<T>(padCount).fill(value);
    batch.inputIds.push([...pad(padId), ...row.inputIds]);
    batch.attentionMask.push([...pad(0), ...row.inputIds.map(() => 1)]);
    batch.labels.push([...pad(IGNORE_INDEX), ...row.labels]);
    batch.memoryPositions.push(row.memoryPositions.map((slot) => slot.map((p) => p + padCount)));
  }
  return batch;
}
