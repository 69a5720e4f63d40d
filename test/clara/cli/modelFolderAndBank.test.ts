import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { loadStage3File } from '../../../clara/data/stage3Data.ts';
import { straightThroughTopK, type TopKEstimator } from '../../../clara/differentiableTopK.ts';
import { trainEndToEnd } from '../../../clara/trainEndToEnd.ts';
import { captureConsole, captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { tempDir, TINY_MODEL_FLAGS } from '../train/helpers.ts';

/**
 * What a newcomer meets first: --model takes a run folder or its checkpoint in every command, a
 * bank is only read by the model whose compressor made it, `ask` says which adapter encodes the
 * question, e2e's options file is --options (--config still works, with a warning), estimators see
 * the training step, and every pipeline option of the demo is a flag recorded in metrics.json.
 */
describe('one meaning of --model, banks tied to their compressor', () => {
  const printed = captureConsoleInEachTest();

  const dir = tempDir('model-folder');
  const data = join(dir, 'data');
  const pretrain = (out: string, seed: string) =>
    main([
      'pretrain',
      '--stage',
      '1',
      '--data',
      join(data, 'stage1.jsonl'),
      '--out',
      out,
      ...TINY_MODEL_FLAGS,
      '--steps',
      '2',
      '--batch-size',
      '2',
      '--seed',
      seed,
      '--backend',
      'cpu',
    ]);
  beforeAll(async () => {
    const quiet = captureConsole();
    try {
      expect(await main(['synth', '--out', data, '--entities', '12', '--candidates', '6', '--seed', '3'])).toBe(0);
      expect(await pretrain(join(dir, 'a'), '0')).toBe(0);
      expect(await pretrain(join(dir, 'b'), '1')).toBe(0);
    } finally {
      quiet.stop();
    }
  }, 120_000);

  it('takes a run folder or its checkpoint, and names both paths when neither holds a model', async () => {
    const bank = join(dir, 'a.safetensors');
    expect(
      await main(['compress', '--model', join(dir, 'a'), '--docs', join(data, 'documents.jsonl'), '--out', bank, '--backend', 'cpu']),
      printed.stderr(),
    ).toBe(0);
    expect(await main(['compress', '--model', join(dir, 'a', 'checkpoint'), '--docs', join(data, 'documents.jsonl'), '--out', bank, '--backend', 'cpu'])).toBe(
      0,
    );
    expect(printed.stderr()).not.toContain('loss NaN');

    expect(await main(['eval', '--model', join(dir, 'nowhere'), '--data', join(data, 'stage3-heldout.jsonl'), '--backend', 'cpu'])).toBe(1);
    expect(printed.stderr()).toContain(join(dir, 'nowhere', 'clara.json'));
    expect(printed.stderr()).toContain(join(dir, 'nowhere', 'checkpoint', 'clara.json'));
  });

  it("ask names the adapter it encodes with and refuses another model's bank", async () => {
    const bank = join(dir, 'a-ask.safetensors');
    expect(await main(['compress', '--model', join(dir, 'a'), '--docs', join(data, 'documents.jsonl'), '--out', bank, '--backend', 'cpu'])).toBe(0);
    printed.clear();
    const ask = (model: string) =>
      main(['ask', '--model', model, '--index', bank, '--k', '1', '--max-new-tokens', '2', '--json', '--backend', 'cpu', 'Where?']);
    expect(await ask(join(dir, 'a')), printed.stderr()).toBe(0);
    expect(printed.stderr()).toContain('questions encoded by encoder_adapter (the compressor: this stage-1 model has no query reasoner');
    expect(JSON.parse(printed.stdout().trim().split('\n').pop()!).queryAdapter).toBe('encoder_adapter');

    expect(await ask(join(dir, 'b'))).toBe(1);
    expect(printed.stderr()).toMatch(/was made by another model's compressor \(fingerprint \S+; this model's is \S+\)/);
  });

  it('reads e2e options from --options FILE; --config FILE is its warned old name', async () => {
    const file = join(dir, 'options.json');
    writeFileSync(file, JSON.stringify({ steps: 2, wrong: 1 }));
    const e2e = (flag: string) => main(['e2e', '--model', join(dir, 'a'), '--data', join(data, 'stage3-train.jsonl'), '--out', join(dir, 'e2e'), flag, file]);
    expect(await e2e('--options')).toBe(2);
    expect(printed.stderr()).toContain(`--options ${file}: unknown option "wrong"`);
    expect(printed.stderr()).not.toContain('warning');
    expect(await e2e('--config')).toBe(2);
    expect(printed.stderr()).toContain('warning: clara e2e: --config FILE is now --options FILE');
    expect(printed.stderr()).toContain(`--config ${file}: unknown option "wrong"`);
  });

  it('hands every estimator the training step and the total', async () => {
    const seen: Array<[number | undefined, number | undefined]> = [];
    const recording: TopKEstimator = (scores, options) => {
      seen.push([options.step, options.totalSteps]);
      return straightThroughTopK(scores, options);
    };
    const clara = ClaraModel.load(join(dir, 'a', 'checkpoint'));
    const { rows } = loadStage3File(join(data, 'stage3-train.jsonl'));
    await trainEndToEnd({ clara, rows, steps: 3, batchSize: 2, k: 1, estimator: recording, progress: false });
    expect(seen).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
  }, 60_000);
});

describe('clara demo: every pipeline option from the command line', () => {
  it('records them and the seed in metrics.json, and ends with a bank and the ask command', async () => {
    const printed = captureConsole({ stderrWrites: true });
    const out = join(tempDir('demo-options'), 'run');
    try {
      const flags = [
        '--people',
        '12',
        '--candidates',
        '6',
        '--compression-rate',
        '8',
        '--mse-weight',
        '0.5',
        '--stage1-steps',
        '3',
        '--stage3-steps',
        '3',
        '--counterfactuals',
        '2',
      ];
      const stage3 = ['--estimator', 'gumbel', '--temperature', '0.1', '--k', '2', '--seed', '4'];
      expect(await main(['demo', '--quick', '--out', out, '--backend', 'cpu', ...flags, ...stage3])).toBe(0);
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
      expect(metrics.seed).toBe(4);
      expect(metrics.settings).toMatchObject({
        smokeTest: true,
        entities: 12,
        candidates: 6,
        compressionRate: 8,
        corpus: { counterfactuals: 2 },
        stage1: { steps: 3, mseWeight: 0.5 },
        stage3: { steps: 3, estimator: 'gumbel', temperature: 0.1, k: 2 },
      });
      expect(printed.stdout()).toContain('SMOKE TEST');
      // The counterfactual copies triple stage 1's rows and change nothing else.
      const split = JSON.parse(readFileSync(join(out, 'data', 'split.json'), 'utf8'));
      expect(split.options.counterfactuals).toBe(2);
      expect(
        readFileSync(join(out, 'data', 'stage1.jsonl'), 'utf8')
          .trim()
          .split('\n'),
      ).toHaveLength(split.counts.stage1Rows);
      expect(split.counts.stage1Rows % 3).toBe(0);
      expect(printed.stdout()).toContain(`npx clara ask --model ${join(out, 'stage3')} --index ${join(out, 'bank.safetensors')} "`);
      const bank = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).ask.bank;
      expect(bank).toBe(join(out, 'bank.safetensors'));
    } finally {
      printed.stop();
    }
  }, 180_000);
});
