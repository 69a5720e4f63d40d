import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { limitCandidates, loadStage3File } from '../../../clara/data/stage3Data.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { trainEndToEnd } from '../../../clara/trainEndToEnd.ts';
import { cpuBackend } from '../../../engine/index.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { tempDir, TINY_MODEL_FLAGS } from '../train/helpers.ts';

/**
 * `clara e2e --resume` continues a stage-3 run with every setting it was started with (read from
 * its checkpoint, not reset to the defaults), and refuses a flag that contradicts one, naming it.
 */
describe('clara e2e --resume', () => {
  const printed = captureConsoleInEachTest();

  it('takes the settings from the checkpoint, ends where an uninterrupted run ends, and names a contradicting flag', async () => {
    const dir = tempDir('e2e-resume');
    const data = join(dir, 'data');
    expect(await main(['synth', '--out', data, '--entities', '8', '--candidates', '6', '--seed', '3'])).toBe(0);
    const stage1 = join(dir, 'stage1');
    expect(
      await main(['pretrain', '--stage', '1', '--data', join(data, 'stage1.jsonl'), '--out', stage1, ...TINY_MODEL_FLAGS, '--steps', '1', '--backend', 'cpu']),
      printed.stderr(),
    ).toBe(0);

    // Settings that all differ from the defaults; the first run is stopped after step 1 of 3.
    const file = join(data, 'stage3-train.jsonl');
    const rows = limitCandidates(loadStage3File(file).rows, 4);
    const settings = {
      steps: 3,
      batchSize: 2,
      lr: 3e-3,
      seed: 5,
      k: 2,
      temperature: 0.5,
      estimator: 'soft',
      generatorLrScale: 0.5,
      queryReasonerFrozenSteps: 1,
    };
    const model = () => ClaraModel.load(join(stage1, 'checkpoint'), { backend: cpuBackend });
    const stop = () => {
      throw new Error('killed');
    };
    const killed = join(dir, 'killed');
    await expect(trainEndToEnd({ ...settings, clara: model(), rows, out: killed, saveEvery: 1, progress: false, onStep: stop })).rejects.toThrow('killed');
    const whole = join(dir, 'whole');
    await trainEndToEnd({ ...settings, clara: model(), rows, out: whole, saveEvery: 1, progress: false });

    // A flag that contradicts the run is refused with its name; --model has no place in a resume.
    expect(await main(['e2e', '--data', file, '--out', killed, '--resume', '--k', '3', '--backend', 'cpu'])).toBe(1);
    expect(printed.stderr()).toContain('with --k 3: the run has k 2');
    expect(await main(['e2e', '--data', file, '--out', killed, '--resume', '--model', stage1, '--backend', 'cpu'])).toBe(2);

    // No flag but --resume (and one that agrees): the run goes on as it started.
    expect(await main(['e2e', '--data', file, '--out', killed, '--resume', '--lr', '3e-3', '--backend', 'cpu']), printed.stderr()).toBe(0);
    const state = (out: string) => JSON.parse(readFileSync(join(out, 'checkpoint', 'trainer_state.json'), 'utf8'));
    expect(state(killed).saveEvery).toBe(1);
    expect(state(killed).objective).toEqual(state(whole).objective);
    expect(state(killed).config).toEqual(state(whole).config);
    expect(state(killed).parameters).toEqual(state(whole).parameters);
    expect(readMetrics(join(killed, 'metrics.jsonl')).map((m) => m.loss)).toEqual(readMetrics(join(whole, 'metrics.jsonl')).map((m) => m.loss));
  }, 120_000);
});
