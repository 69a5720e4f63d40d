import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadStage1File } from '../../../clara/data/stage1Data.ts';
import { twoStage1Steps } from './helpers.ts';

/** Stage-1 rows in the official sample's schema (test/clara/data/stage1-sample.jsonl); the official file itself: test-official/. */
const SAMPLE = fileURLToPath(new URL('../data/stage1-sample.jsonl', import.meta.url));

describe('a stage-1 file of the official schema', () => {
  it('loads without errors and trains a couple of steps', async () => {
    const { rows, warnings } = loadStage1File(SAMPLE);
    expect(rows).toHaveLength(12);
    expect(warnings).toEqual([]);
    expect(rows.every((r) => r.docs.length === 1)).toBe(true);

    // A tiny model over the first rows (its vocabulary built from them), two steps; qa rows with
    // several pairs and paraphrase rows both in the batches.
    const some = [...rows.slice(0, 4), ...rows.slice(8, 12)];
    const history = await twoStage1Steps(some, 4);
    expect(history).toHaveLength(2);
    for (const m of history) {
      expect(Number.isFinite(m.loss)).toBe(true);
      expect(m.ce!).toBeGreaterThan(0);
      expect(m.tokens).toBeGreaterThan(100);
    }
  });
});
