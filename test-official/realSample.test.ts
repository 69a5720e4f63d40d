import { describe, expect, it } from 'vitest';
import { loadStage1File } from '../clara/data/stage1Data.ts';
import { twoStage1Steps } from '../test/clara/train/helpers.ts';
import { officialSamplePath } from './officialSample.ts';

describe('the official stage-1 sample', () => {
  it('loads: 1000 qa rows, one document each', () => {
    const { rows, warnings } = loadStage1File(officialSamplePath());
    expect(rows.length).toBe(1000);
    expect(warnings).toEqual([]);
    for (const row of rows) {
      expect(row.dataType).toBe('qa');
      expect(row.docs.length).toBe(1);
      if (row.dataType === 'qa') expect(row.questions.length).toBe(row.answers.length);
    }
  });

  it('loads without errors and trains a couple of steps', async () => {
    const { rows, warnings } = loadStage1File(officialSamplePath());
    expect(rows).toHaveLength(1000);
    expect(warnings).toEqual([]);
    expect(rows.every((r) => r.dataType === 'qa' && r.docs.length === 1)).toBe(true);

    // A tiny model over the first rows (its vocabulary built from them), two steps.
    const some = rows.slice(0, 8);
    const history = await twoStage1Steps(some, 2);
    expect(history).toHaveLength(2);
    for (const m of history) {
      expect(Number.isFinite(m.loss)).toBe(true);
      expect(m.ce!).toBeGreaterThan(0);
      expect(m.tokens).toBeGreaterThan(100);
    }
  });
});
