import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrainerState } from '../../../clara/train/checkpoint.ts';
import { resumeCompressionStage, trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { synthRows, tempDir, tinyModel } from './helpers.ts';

/**
 * Texts longer than the model takes are cut as the official code cuts them, and the run says so:
 * trainer_state.json counts the cut texts of the run by field (a resume goes on counting), and one
 * notice line goes to stderr.
 */
describe('truncated texts are counted for the run', () => {
  const printed = captureConsoleInEachTest();

  it('counts documents longer than docMaxLength, across a resume, and prints one notice', async () => {
    const rows = synthRows(8);
    const clara = tinyModel(rows); // docMaxLength 32
    // Every document made ten times longer than the compressor reads.
    const long = rows.map((row) => ({ ...row, docs: row.docs.map((doc) => Array.from({ length: 10 }, () => doc).join(' ')) }));
    const out = tempDir('truncation');
    const stop = (m: { step: number }) => {
      if (m.step === 2) throw new Error('killed');
    };
    await expect(
      trainCompressionStage({ clara, stage: 1, rows: long, out, steps: 3, batchSize: 2, saveEvery: 1, progress: false, onStep: stop }),
    ).rejects.toThrow('killed');
    expect(readTrainerState(join(out, 'checkpoint')).truncated).toEqual({ docs: 4, answers: 0 });
    const notices = () => printed.errors.filter((line) => line.includes('truncated'));
    expect(notices()).toEqual([expect.stringContaining('4 docs')]);

    await resumeCompressionStage({ out, rows: long, progress: false });
    expect(readTrainerState(join(out, 'checkpoint')).truncated).toEqual({ docs: 6, answers: 0 });
    expect(notices()[1]).toContain('6 docs');
  });

  it('writes no count when nothing was cut', async () => {
    // Documents of eight words: well within the 32 tokens the compressor reads.
    const rows = synthRows(8).map((row) => ({ ...row, docs: row.docs.map((doc) => doc.split(' ').slice(0, 8).join(' ')) }));
    const out = tempDir('no-truncation');
    await trainCompressionStage({ clara: tinyModel(rows), stage: 1, rows, out, steps: 1, batchSize: 2, progress: false });
    expect(readTrainerState(join(out, 'checkpoint')).truncated).toEqual({ docs: 0, answers: 0 });
    expect(printed.stderr()).not.toContain('truncated');
  });
});
