import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { loadModel, saveModel } from '../../../clara/model/checkpoint.ts';
import { captureConsole, captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { randomModel } from '../model/helpers.ts';
import { tempDir, TINY_MODEL_FLAGS } from '../train/helpers.ts';

/**
 * `--dtype` (issue 19): how the base model's frozen matrices are held. `auto` keeps a checkpoint's
 * own format (16-bit stays 16-bit, float32 stays float32), `float32` widens everything as before
 * 16-bit storage existed, `bfloat16` / `float16` force 2 bytes per parameter. The library's
 * loadModel defaults to float32; the commands that only run a model default to auto.
 */
const dir = tempDir('dtype');

describe('loadModel dtype auto', () => {
  it('keeps a bf16 checkpoint bf16 and a float32 one float32, the norms float32 either way', async () => {
    const model = randomModel(3);
    await saveModel(model, join(dir, 'bf16'), { dtype: 'bfloat16' });
    await saveModel(model, join(dir, 'f32'));
    const dtypes = (m: ReturnType<typeof loadModel>) =>
      new Set(m.namedParameters().map(([name, p]) => `${name.endsWith('norm.weight') ? 'norm' : 'matrix'} ${p.dtype}`));
    expect(dtypes(loadModel(join(dir, 'bf16'), { dtype: 'auto' }))).toEqual(new Set(['matrix bfloat16', 'norm float32']));
    expect(dtypes(loadModel(join(dir, 'bf16')))).toEqual(new Set(['matrix float32', 'norm float32']));
    expect(dtypes(loadModel(join(dir, 'f32'), { dtype: 'auto' }))).toEqual(new Set(['matrix float32', 'norm float32']));
    expect(dtypes(loadModel(join(dir, 'f32'), { dtype: 'float16' }))).toEqual(new Set(['matrix float16', 'norm float32']));
  });
});

describe('--dtype on the commands that load a model', () => {
  const printed = captureConsoleInEachTest();

  const data = join(dir, 'data');
  const run = join(dir, 'run');
  beforeAll(async () => {
    const quiet = captureConsole();
    try {
      expect(await main(['synth', '--out', data, '--entities', '6', '--candidates', '4', '--seed', '3'])).toBe(0);
      const pretrain = [
        'pretrain',
        '--stage',
        '1',
        '--data',
        join(data, 'stage1.jsonl'),
        '--out',
        run,
        ...TINY_MODEL_FLAGS,
        '--steps',
        '1',
        '--backend',
        'cpu',
      ];
      expect(await main(pretrain)).toBe(0);
      // The same model with its base stored bf16, as a released 7B base is.
      const clara = ClaraModel.load(join(run, 'checkpoint'));
      await saveModel(clara.backbone, join(run, 'checkpoint'), { dtype: 'bfloat16' });
    } finally {
      quiet.stop();
    }
  }, 120_000);

  const compress = (...flags: string[]) =>
    main(['compress', '--model', run, '--docs', join(data, 'documents.jsonl'), '--out', join(dir, 'bank.safetensors'), '--backend', 'cpu', ...flags]);

  it('runs with each dtype, and auto on a bf16 base keeps it bf16', async () => {
    for (const dtype of ['auto', 'float32', 'bfloat16', 'float16']) expect(await compress('--dtype', dtype), `${dtype}: ${printed.stderr()}`).toBe(0);
    const load = vi.spyOn(ClaraModel, 'load');
    try {
      expect(await compress()).toBe(0);
      expect(load.mock.calls[0]![1]).toMatchObject({ dtype: 'auto' });
      expect(load.mock.results[0]!.value.backbone.lmHead.dtype).toBe('bfloat16');
    } finally {
      load.mockRestore();
    }
  }, 120_000);

  it('names the choices when the value is not one', async () => {
    expect(await compress('--dtype', 'half')).toBe(2);
    expect(printed.stderr()).toContain('clara compress: --dtype must be one of auto, float32, bfloat16, float16');
  });
});
