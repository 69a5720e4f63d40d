import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { readTrainerState } from '../../../clara/train/checkpoint.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { tempDir, TINY_MODEL_FLAGS } from './helpers.ts';

/** `clara synth` and `clara pretrain` through `main(argv)`, as the `clara` binary runs them. */
describe('clara pretrain / synth', () => {
  const printed = captureConsoleInEachTest();

  const tiny = [...TINY_MODEL_FLAGS, '--backend', 'cpu'];

  it('synth writes the corpus, then pretrain --stage 1 trains on it and writes metrics and a checkpoint; stage 2 continues it', async () => {
    const dir = tempDir('cli');
    expect(
      await main([
        'synth',
        '--out',
        join(dir, 'data'),
        '--entities',
        '10',
        '--candidates',
        '4',
        '--seed',
        '2',
        '--name-pool',
        '4',
        '--stage3-wordings',
        'both',
        '--counterfactuals',
        '1',
      ]),
    ).toBe(0);
    expect(existsSync(join(dir, 'data', 'stage1.jsonl'))).toBe(true);
    const split = JSON.parse(readFileSync(join(dir, 'data', 'split.json'), 'utf8')) as { counts: { trained: number; stage1Rows: number } };
    // One counterfactual copy doubles stage 1: each person's rows again, with new values.
    expect(split.counts.stage1Rows).toBe(2 * (split.counts.trained + 10));
    expect(
      readFileSync(join(dir, 'data', 'stage3-train.jsonl'), 'utf8')
        .trim()
        .split('\n').length,
    ).toBe(2 * split.counts.trained);

    const out = join(dir, 'run');
    const code = await main([
      'pretrain',
      '--stage',
      '1',
      '--data',
      join(dir, 'data', 'stage1.jsonl'),
      '--out',
      out,
      ...tiny,
      '--steps',
      '3',
      '--batch-size',
      '2',
      '--grad-accum',
      '2',
      '--lr',
      '2e-3',
      '--save-every',
      '2',
      '--seed',
      '4',
      '--freeze-compressor',
      '2',
    ]);
    expect(code, printed.stderr()).toBe(0);
    const metrics = readMetrics(join(out, 'metrics.jsonl'));
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
    expect(Object.keys(metrics[0]!).sort()).toEqual(['ce', 'gradNorm', 'loss', 'lr', 'mse', 'seconds', 'step', 'tokens']);
    const state = readTrainerState(join(out, 'checkpoint'));
    expect(state).toMatchObject({
      step: 3,
      config: { steps: 3, batchSize: 2, gradAccum: 2, lr: 2e-3, seed: 4, warmupSteps: 1 },
      objective: { stage: 1, mseWeight: 0.1 },
    });
    expect(state.config.frozenSteps).toEqual({ encoder_adapter: 2, 'model.embed_tokens.weight': 2 });
    const model = ClaraModel.load(join(out, 'checkpoint'));
    expect(model.settings).toMatchObject({ stage: 1, docMaxLength: 32, compressionRate: 8, lora: { r: 4, alpha: 8 } });
    expect(printed.stdout()).toMatch(/stage 1: 3 steps, loss \d+\.\d{4}/);

    // Stage 2 from the run directory (its checkpoint), k = 5 documents per row.
    const out2 = join(dir, 'run2');
    expect(
      await main([
        'pretrain',
        '--stage',
        '2',
        '--data',
        join(dir, 'data', 'stage2.jsonl'),
        '--model',
        out,
        '--out',
        out2,
        '--steps',
        '2',
        '--batch-size',
        '1',
        '--backend',
        'cpu',
      ]),
      printed.stderr(),
    ).toBe(0);
    expect(ClaraModel.load(join(out2, 'checkpoint')).settings).toMatchObject({ stage: 2, generationTopK: 5 });
  });

  it('a corrupted data row is reported with file, line and field (exit 1); --skip-invalid skips it', async () => {
    const dir = tempDir('bad-row');
    const file = join(dir, 'stage1.jsonl');
    const good = { data_type: 'qa', question: ['Where was Ana born?'], answers: ['Lisbon'], docs: ['Ana was born in Lisbon.'] };
    writeFileSync(file, [good, good, { ...good, question: 'not a list' }, good].map((r) => JSON.stringify(r)).join('\n'));
    const args = ['pretrain', '--stage', '1', '--data', file, '--out', join(dir, 'run'), ...tiny, '--steps', '1', '--batch-size', '2'];
    expect(await main(args)).toBe(1);
    expect(printed.stderr()).toContain(`${file}:3: field "question" must be a list of strings of the same length as "answers"`);
    printed.clear();
    expect(await main([...args, '--skip-invalid']), printed.stderr()).toBe(0);
    expect(printed.stderr()).toContain('skipped 1 invalid row(s):');
    expect(printed.stderr()).toContain(`${file}:3: field "question"`);
  });

  it('usage errors exit with 2 and say what is wrong; --help exits with 0', async () => {
    const cases: Array<[string[], string]> = [
      [['pretrain', '--stage', '1', '--data', 'x.jsonl', '--out', 'o', '--bogus'], "Unknown option '--bogus'"],
      [['pretrain', '--data', 'x.jsonl', '--out', 'o'], '--stage is required'],
      [['pretrain', '--stage', '3', '--data', 'x.jsonl', '--out', 'o'], "--stage must be one of 1, 2; got '3'"],
      [['pretrain', '--stage', '1', '--out', 'o'], '--data is required'],
      [['pretrain', '--stage', '1', '--data', 'x.jsonl', '--out', 'o', '--lr', 'fast'], "--lr expects a non-negative number, got 'fast'"],
      [['pretrain', '--stage', '1', '--data', 'x.jsonl', '--out', 'o', '--batch-size', '0'], "--batch-size expects an integer ≥ 1, got '0'"],
      [['pretrain', '--stage', '2', '--data', 'x.jsonl', '--out', 'o'], 'stage 2 continues a stage-1 model: give --model DIR'],
      [['pretrain', '--stage', '1', '--data', 'x.jsonl', '--out', 'o', '--backend', 'tpu'], '--backend must be one of auto, webgpu, cpu'],
      [['pretrain', '--stage', '1', '--data', '/nonexistent.jsonl', '--out', 'o', '--backend', 'cpu'], '--data /nonexistent.jsonl: no such file'],
      [['synth', '--out', 'o', '--entities', '0'], "--entities expects an integer ≥ 1, got '0'"],
      [['synth'], '--out is required'],
      [['synth', '--out', 'o', '--entities', '10', '--name-pool', '3'], 'namePool 3 gives 9 full names, fewer than entities (10)'],
      [['synth', '--out', 'o', '--stage3-wordings', 'all'], "--stage3-wordings must be one of one, both; got 'all'"],
      [
        ['pretrain', '--stage', '1', '--data', 'x.jsonl', '--out', 'o', '--freeze-compressor', 'all'],
        "--freeze-compressor expects a non-negative integer, got 'all'",
      ],
    ];
    for (const [argv, message] of cases) {
      printed.clear();
      expect(await main(argv), argv.join(' ')).toBe(2);
      expect(printed.stderr()).toContain(message);
    }
    expect(await main(['pretrain', '--help'])).toBe(0);
    expect(printed.stdout()).toContain('--compression-rate R');
    expect(await main(['synth', '--help'])).toBe(0);
  });

  it('--resume continues the run in --out with its own settings', async () => {
    const dir = tempDir('cli-resume');
    expect(await main(['synth', '--out', join(dir, 'data'), '--entities', '10', '--candidates', '4'])).toBe(0);
    const out = join(dir, 'run');
    const data = join(dir, 'data', 'stage1.jsonl');
    expect(await main(['pretrain', '--stage', '1', '--data', data, '--out', out, ...tiny, '--steps', '2', '--batch-size', '2']), printed.stderr()).toBe(0);
    // Extending the run is refused (the schedule would differ); resuming a finished one has nothing to do.
    expect(await main(['pretrain', '--data', data, '--out', out, '--resume', '--steps', '4', '--backend', 'cpu'])).toBe(1);
    expect(printed.stderr()).toContain('setting steps: checkpoint 2, now 4');
    expect(await main(['pretrain', '--data', data, '--out', out, '--resume', '--backend', 'cpu']), printed.stderr()).toBe(0);
    expect(printed.stdout()).toContain('nothing left to do');
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
