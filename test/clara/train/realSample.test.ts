import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../../engine/index.ts';
import { loadStage1File } from '../../../clara/data/stage1Data.ts';
import { freshModel } from '../../../clara/train/freshModel.ts';
import { trainCompressionStage } from '../../../clara/train/trainCompressionStage.ts';
import './helpers.ts';

/** The real 1000-row stage-1 sample, read where it lives (never copied into the repository). */
const SAMPLE = new URL('../../../../shared/data/clara-pretrain-sample.jsonl', import.meta.url).pathname;

describe('the real stage-1 sample', () => {
  it('loads without errors and trains a couple of steps', async () => {
    if (!existsSync(SAMPLE)) throw new Error(`the real sample is missing: expected ${SAMPLE} (shared/data/clara-pretrain-sample.jsonl next to the repository)`);
    const { rows, warnings } = loadStage1File(SAMPLE);
    expect(rows).toHaveLength(1000);
    expect(warnings).toEqual([]);
    expect(rows.every((r) => r.dataType === 'qa' && r.docs.length === 1)).toBe(true);

    // A tiny model over the first rows (its vocabulary built from them), two steps.
    const some = rows.slice(0, 8);
    const clara = freshModel({ base: 'tiny', stage: 1, rows: some, seed: 1, backend: cpuBackend, settings: { docMaxLength: 128, compressionRate: 16, lora: { r: 4, alpha: 8, dropout: 0 } } });
    const { history } = await trainCompressionStage({ clara, stage: 1, rows: some, steps: 2, batchSize: 2, lr: 1e-3, warmupSteps: 0, progress: false });
    expect(history).toHaveLength(2);
    for (const m of history) {
      expect(Number.isFinite(m.loss)).toBe(true);
      expect(m.ce!).toBeGreaterThan(0);
      expect(m.tokens).toBeGreaterThan(100);
    }
  });
});
