import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { TOPK_ESTIMATORS } from '../../../clara/differentiableTopK.ts';
import { readSafetensorsFile } from '../../../engine/io/index.ts';
import { captureConsole, captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { tempDir, TINY_MODEL_FLAGS } from '../train/helpers.ts';

/**
 * The stage-3 commands through `main(argv)`, as the `clara` binary runs them: e2e trains, compress
 * writes a bank, ask retrieves and answers, eval reports the metrics, and the quick demo runs the
 * whole pipeline with its JSON contract.
 */
describe('clara e2e / compress / ask / eval', () => {
  const printed = captureConsoleInEachTest();

  it('trains stage 3 from a stage-1 model, then compresses, asks and evaluates', async () => {
    const dir = tempDir('stage3-cli');
    const data = join(dir, 'data');
    expect(await main(['synth', '--out', data, '--entities', '12', '--candidates', '6', '--seed', '3'])).toBe(0);
    const stage1 = join(dir, 'stage1');
    expect(
      await main([
        'pretrain',
        '--stage',
        '1',
        '--data',
        join(data, 'stage1.jsonl'),
        '--out',
        stage1,
        ...TINY_MODEL_FLAGS,
        '--steps',
        '2',
        '--batch-size',
        '2',
        '--backend',
        'cpu',
      ]),
      printed.stderr(),
    ).toBe(0);

    // A stage-1 model evaluates too: it ranks with its compressor, and --gold scores reading alone.
    printed.clear();
    expect(
      await main([
        'eval',
        '--model',
        join(stage1, 'checkpoint'),
        '--data',
        join(data, 'stage3-heldout.jsonl'),
        '--limit',
        '2',
        '--gold',
        '--json',
        '--backend',
        'cpu',
      ]),
      printed.stderr(),
    ).toBe(0);
    expect(JSON.parse(printed.stdout().trim().split('\n').pop()!).count).toBe(2);

    const stage3 = join(dir, 'stage3');
    expect(
      await main([
        'e2e',
        '--model',
        join(stage1, 'checkpoint'),
        '--data',
        join(data, 'stage3-train.jsonl'),
        '--out',
        stage3,
        '--steps',
        '2',
        '--batch-size',
        '2',
        '--k',
        '2',
        '--candidates',
        '4',
        '--estimator',
        'gumbel',
        '--generator-lr-scale',
        '0.2',
        '--freeze-query-reasoner',
        '1',
        '--backend',
        'cpu',
      ]),
      printed.stderr(),
    ).toBe(0);
    const model = ClaraModel.load(join(stage3, 'checkpoint'));
    const { config } = JSON.parse(readFileSync(join(stage3, 'checkpoint', 'trainer_state.json'), 'utf8'));
    expect(config.lrScales).toEqual({ decoder_adapter: 0.2 });
    expect(config.frozenSteps).toEqual({ query_reasoner_adapter: 1 });
    expect(model.backbone.adapterNames().sort()).toEqual(['decoder_adapter', 'encoder_adapter', 'query_reasoner_adapter']);
    expect(model.settings.stage).toBe(3);

    const index = join(dir, 'bank.safetensors');
    expect(
      await main(['compress', '--model', join(stage3, 'checkpoint'), '--docs', join(data, 'documents.jsonl'), '--out', index, '--backend', 'cpu']),
      printed.stderr(),
    ).toBe(0);
    const bank = readSafetensorsFile(index);
    expect(bank.info('vectors').shape).toEqual([12, model.nMem, model.backbone.config.hidden_size]);
    expect(JSON.parse(bank.metadata.documents!)).toHaveLength(12);

    printed.clear();
    expect(
      await main([
        'ask',
        '--model',
        join(stage3, 'checkpoint'),
        '--index',
        index,
        '--k',
        '3',
        '--max-new-tokens',
        '4',
        '--json',
        '--backend',
        'cpu',
        'Where was somebody born?',
      ]),
      printed.stderr(),
    ).toBe(0);
    const asked = JSON.parse(printed.stdout().trim().split('\n').pop()!);
    expect(asked.documents).toHaveLength(3);
    const scores = asked.documents.map((d: { score: number }) => d.score);
    expect([...scores].sort((a: number, b: number) => b - a)).toEqual(scores); // best first
    expect(typeof asked.answer).toBe('string');

    printed.clear();
    expect(
      await main([
        'eval',
        '--model',
        join(stage3, 'checkpoint'),
        '--data',
        join(data, 'stage3-heldout.jsonl'),
        '--limit',
        '3',
        '--k',
        '1',
        '--json',
        '--backend',
        'cpu',
      ]),
      printed.stderr(),
    ).toBe(0);
    const report = JSON.parse(printed.stdout().trim().split('\n').pop()!);
    expect(Object.keys(report).sort()).toEqual(['acc', 'count', 'em', 'f1', 'recall']);
    expect(Object.keys(report.recall).sort()).toEqual(['1', '3', '5']);
    expect(report.count).toBe(3);
  });

  it('rejects bad options with usage errors', async () => {
    expect(await main(['e2e', '--model', 'x'])).toBe(2);
    expect(await main(['e2e', '--model', 'x', '--data', 'y', '--out', 'z', '--estimator', 'nope'])).toBe(2);
    const estimators = Object.keys(TOPK_ESTIMATORS).join(', ');
    expect(printed.stderr()).toContain(`--estimator must be one of ${estimators}; got 'nope'`);
    expect(await main(['ask', '--model', 'x', '--index', 'y'])).toBe(2);
    expect(await main(['compress', '--docs', 'y'])).toBe(2);
    expect(await main(['eval', '--model', 'x', '--data', 'y', '--k', 'two'])).toBe(1);
    expect(await main(['eval', '--model', 'x', '--data', 'y', '--gold', '--no-docs'])).toBe(2);
    expect(printed.stderr()).toContain('clara eval: --no-docs and --gold exclude each other');
    expect(await main(['demo', '--estimator', 'argmax'])).toBe(2);
    expect(printed.stderr()).toContain(`clara demo: --estimator must be one of ${estimators}; got 'argmax'`);
  });
});

describe('clara demo --quick', () => {
  it('runs the whole pipeline on the default backend and ends with the JSON contract', async () => {
    const printed = captureConsole({ stderrWrites: true });
    const out = join(tempDir('demo'), 'run');
    try {
      expect(await main(['demo', '--quick', '--json', '--out', out, '--estimator', 'straight-through'])).toBe(0);
      const last = JSON.parse(printed.stdout().trim().split('\n').pop()!);
      for (const which of ['before', 'after', 'random', 'bm25']) expect(Object.keys(last.recall[which]).sort()).toEqual(['1', '3', '5']);
      for (const split of ['trained', 'heldOut']) {
        for (const docs of ['withDocs', 'noDocs', 'goldDoc', 'changedDocNew', 'changedDocOld'])
          expect(Object.keys(last.answers[split][docs]).sort()).toEqual(['em', 'f1']);
      }
      expect(last.recall.random[1]).toBeCloseTo(1 / 20, 12);
      expect(typeof last.compressionRate).toBe('number');
      expect(last.estimator).toBe('straight-through');
      // The demo's corpus asks every trained fact both ways in stage 3.
      expect(last.counts.stage3TrainingRows).toBe(2 * last.counts.trainedQuestions);
      expect(last.memory.documentSpecificShare).toBeGreaterThan(0);
      expect(last.memory.documentSpecificShare).toBeLessThanOrEqual(1);
      expect(['webgpu', 'cpu']).toContain(last.backend);
      expect(last.seconds).toBeGreaterThan(0);
      for (const file of ['metrics.json', 'curves.svg', 'results.txt', 'stage1/metrics.jsonl', 'stage3/metrics.jsonl'])
        expect(existsSync(join(out, file)), file).toBe(true);
      expect(readFileSync(join(out, 'curves.svg'), 'utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    } finally {
      printed.stop();
    }
  });
});
