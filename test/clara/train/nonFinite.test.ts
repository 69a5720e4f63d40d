import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { latestCheckpoint, readTrainerState } from '../../../clara/train/checkpoint.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { NonFiniteLossError } from '../../../clara/train/nonFiniteLossError.ts';
import { trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { synthRows, tempDir, tinyModel } from './helpers.ts';

describe('a non-finite loss', () => {
  const rows = synthRows();

  it('stops the run naming the step and the term, and keeps the last good checkpoint', async () => {
    const clara = tinyModel(rows);
    const out = tempDir('nan');
    const run = trainCompressionStage({
      clara,
      stage: 1,
      rows,
      steps: 6,
      batchSize: 2,
      lr: 1e-3,
      out,
      saveEvery: 2,
      progress: false,
      // Inject a NaN into the cross-entropy of step 3.
      transformTerms: (terms, step) => (step === 3 ? { ...terms, ce: terms.ce!.mul(NaN) } : terms),
    });
    await expect(run).rejects.toThrow(NonFiniteLossError);
    await expect(run).rejects.toThrow(
      `non-finite loss term "ce" (NaN) at step 3; training stopped before applying it. The last good checkpoint is ${join(out, 'checkpoint')}.`,
    );
    const dir = latestCheckpoint(out)!;
    expect(readTrainerState(dir).step).toBe(2);
    expect(readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2]);
    // The model in memory did not take the bad step either: its parameters are still finite.
    for (const [, p] of clara.backbone.adapterParameters('encoder_adapter')) {
      expect(Array.from(await p.toArray()).every(Number.isFinite)).toBe(true);
    }
  });

  it('an infinite learning rate is caught before a checkpoint with non-finite parameters is written', async () => {
    const clara = tinyModel(rows);
    const out = tempDir('inf-lr');
    const error = await trainCompressionStage({
      clara,
      stage: 1,
      rows,
      steps: 4,
      batchSize: 2,
      lr: Infinity,
      warmupSteps: 0,
      out,
      saveEvery: 1,
      progress: false,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as NonFiniteLossError).step).toBe(1);
    expect((error as Error).message).toMatch(/^non-finite (parameters after step 1|gradient norm|loss term)/);
    expect((error as Error).message).toContain('No checkpoint was written yet.');
    expect(latestCheckpoint(out)).toBeNull();
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').length).toBeLessThanOrEqual(2);
  });
});
