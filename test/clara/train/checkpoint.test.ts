import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdamW, Parameter, tensor } from '../../../engine/index.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import {
  CHECKPOINT_DIR,
  latestCheckpoint,
  PREVIOUS_DIR,
  readTrainerState,
  TEMP_DIR,
  writeCheckpoint,
  type TrainerState,
} from '../../../clara/train/checkpoint.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { resolveTrainingConfig } from '../../../clara/train/trainingConfig.ts';
import { synthRows, tempDir, tinyModel } from './helpers.ts';

/** A minimal checkpoint: a one-parameter optimiser and a model that is one file. */
function contents(step: number, saveModel = async (dir: string) => writeFileSync(join(dir, 'model.txt'), `model at ${step}`)) {
  const p = new Parameter(tensor([1, 2, 3], [3]));
  const optimizer = new AdamW([['p', p]], { lr: 0.1 });
  const state: TrainerState = {
    format: 'clara-trainer-state',
    version: 1,
    step,
    config: resolveTrainingConfig({}, 8),
    objective: {},
    generators: {},
    data: { rows: 8, fingerprint: '0' },
    parameters: { fingerprint: '0' },
    metrics: null,
  };
  return { state, optimizer, saveModel };
}

describe('checkpoints are atomic', () => {
  it('a failure in the middle of a save leaves the previous checkpoint intact and no half-written one', async () => {
    const out = tempDir('atomic');
    await writeCheckpoint(out, contents(1));
    const failing = contents(2, async (dir) => {
      writeFileSync(join(dir, 'model.txt'), 'half of step 2');
      throw new Error('disk full (injected)');
    });
    await expect(writeCheckpoint(out, failing)).rejects.toThrow('disk full (injected)');
    const dir = latestCheckpoint(out)!;
    expect(dir).toBe(join(out, CHECKPOINT_DIR));
    expect(readTrainerState(dir).step).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['model.txt', 'optimizer.safetensors', 'trainer_state.json']);
    expect(existsSync(join(out, TEMP_DIR))).toBe(false);
    // The next save works and replaces it.
    await writeCheckpoint(out, contents(3));
    expect(readTrainerState(latestCheckpoint(out)!).step).toBe(3);
    expect(readdirSync(out)).toEqual([CHECKPOINT_DIR]);
  });

  it('a crash between the two renames is recovered: the previous checkpoint is found', async () => {
    const out = tempDir('swap');
    await writeCheckpoint(out, contents(1));
    // What a crash right after `checkpoint → checkpoint.previous` leaves: a complete temp dir, no checkpoint.
    renameSync(join(out, CHECKPOINT_DIR), join(out, PREVIOUS_DIR));
    mkdirSync(join(out, TEMP_DIR));
    writeFileSync(join(out, TEMP_DIR, 'model.txt'), 'partial');
    expect(readTrainerState(latestCheckpoint(out)!).step).toBe(1);
    expect(existsSync(join(out, PREVIOUS_DIR))).toBe(false);
    await writeCheckpoint(out, contents(2));
    expect(readTrainerState(latestCheckpoint(out)!).step).toBe(2);
  });

  it('a save that fails during training stops the run and keeps the last good checkpoint, loadable', async () => {
    const rows = synthRows();
    const clara = tinyModel(rows);
    const out = tempDir('train-fail');
    const realSave = clara.save.bind(clara);
    let saves = 0;
    clara.save = async (dir: string) => {
      saves++;
      await realSave(dir);
      if (saves === 2) throw new Error('killed while saving (injected)');
    };
    await expect(trainCompressionStage({ clara, stage: 1, rows, steps: 6, batchSize: 2, lr: 1e-3, out, saveEvery: 2, progress: false })).rejects.toThrow(
      'killed while saving',
    );
    const dir = latestCheckpoint(out)!;
    expect(readTrainerState(dir).step).toBe(2);
    expect(ClaraModel.load(dir).backbone.adapterNames().sort()).toEqual(['decoder_adapter', 'encoder_adapter']);
    expect(readdirSync(out).sort()).toEqual([CHECKPOINT_DIR, 'metrics.jsonl']);
    expect(readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3, 4]);
  });
});
