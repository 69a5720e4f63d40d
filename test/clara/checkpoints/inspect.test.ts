import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../../engine/backends/cpu/index.ts';
import { exportModel } from '../../../clara/checkpoints/export.ts';
import { formatInspectReport, inspectModelDir } from '../../../clara/checkpoints/inspect.ts';
import { loadOfficialCheckpoint } from '../../../clara/checkpoints/official.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';
import { fixtureTokenizer } from '../stage1/helpers.ts';

/**
 * `clara inspect` on the released-layout fixture and on copies of it damaged one way each: every
 * incomplete or mismatched folder gets a sentence that says what is wrong.
 */

const FIXTURES = join(import.meta.dirname, '../../fixtures/clara/official');
const tmp = mkdtempSync(join(tmpdir(), 'clara-inspect-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the fixture (checkpoint/ and base/), changed by `damage`. */
function damaged(name: string, damage: (checkpoint: string, base: string) => void): { checkpoint: string; base: string } {
  const root = join(tmp, name);
  cpSync(FIXTURES, root, { recursive: true });
  const paths = { checkpoint: join(root, 'checkpoint'), base: join(root, 'base') };
  damage(paths.checkpoint, paths.base);
  return paths;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

describe('clara inspect', () => {
  it('describes the released layout: compression, stage, adapters, tables, base', () => {
    const r = inspectModelDir(join(FIXTURES, 'checkpoint'), { base: join(FIXTURES, 'base') });
    expect(r.layout).toBe('official');
    expect(r.config).toMatchObject({ compr_rate: 4, doc_max_length: 16, memoryTokens: 4, training_stage: 'stage2', lora_r: 4 });
    expect(r.adapters.map((a) => [a.name, a.rank, a.dtypes, a.hiddenSize, a.tensors])).toEqual([
      ['encoder_adapter', 4, ['BF16'], 32, 28],
      ['decoder_adapter', 4, ['BF16'], 32, 28],
      ['query_reasoner_adapter', 4, ['BF16'], 32, 28],
    ]);
    expect(r.firstLast).toEqual({ 'model.embed_tokens.weight': { shape: [64, 32], dtype: 'BF16' }, 'lm_head.weight': { shape: [64, 32], dtype: 'BF16' } });
    expect(r.base).toMatchObject({ hiddenSize: 32, vocabSize: 57, shards: 2, missingShards: [], dtypes: ['BF16'] });
    // The tiny base is not Mistral's vocabulary: the one problem (the 7B base is).
    expect(r.problems).toEqual([expect.stringContaining("not Mistral's 32000")]);
    expect(formatInspectReport(r)).toContain('16 document tokens / rate 4 = 4 memory tokens');
  });

  it('says what is missing or mismatched, one sentence each', () => {
    const problems = (paths: { checkpoint: string; base?: string }) => inspectModelDir(paths.checkpoint, { base: paths.base }).problems.join('\n');
    expect(problems({ checkpoint: join(FIXTURES, 'checkpoint') })).toContain('give the base model');
    expect(problems(damaged('shard', (_, base) => rmSync(join(base, 'model-00002-of-00002.safetensors'))))).toContain(
      'shard model-00002-of-00002.safetensors is missing',
    );
    expect(problems(damaged('rate', (c) => editJson(join(c, 'config.json'), (j) => (j.compr_rate = 8))))).toContain(
      'the memory rows do not match the compression rate',
    );
    expect(problems(damaged('hidden', (_, base) => editJson(join(base, 'config.json'), (j) => (j.hidden_size = 64))))).toContain(
      'adapter encoder_adapter was trained for hidden size 32, the base model has 64',
    );
    expect(problems(damaged('rows', (c) => rmSync(join(c, 'decoder_first_last_layers.pth'))))).toContain('decoder_first_last_layers.pth is missing');
    expect(problems(damaged('adapters', (c) => writeFileSync(join(c, 'adapters.pth'), 'not a zip')))).toContain('adapters.pth cannot be read');
    expect(problems({ checkpoint: join(tmp, 'nothing-here') })).toContain('is not a folder');
  });

  it("recognises this project's folders and PEFT's", async () => {
    const parts = loadOfficialCheckpoint(join(FIXTURES, 'checkpoint'), { base: join(FIXTURES, 'base'), backend: cpuBackend, tokenizer: fixtureTokenizer(4) });
    const clara = new ClaraModel(parts.backbone, parts.tokenizer, { ...parts.settings, questionMaxLength: 16 });
    await exportModel(clara, join(tmp, 'peft'), 'peft');
    const peft = inspectModelDir(join(tmp, 'peft'));
    expect([peft.layout, peft.adapters.map((a) => a.name), peft.problems]).toEqual([
      'peft',
      ['decoder_adapter', 'encoder_adapter', 'query_reasoner_adapter'],
      [],
    ]);
    await clara.save(join(tmp, 'ours'));
    const ours = inspectModelDir(join(tmp, 'ours'));
    expect([ours.layout, ours.adapters.length, ours.problems, ours.config?.memoryTokens]).toEqual(['clara', 3, [], 4]);
  });

  it('is `clara inspect DIR [--json]`, exiting 1 when something is wrong', async () => {
    const printed = captureConsole();
    try {
      expect(await main(['inspect', join(FIXTURES, 'checkpoint'), '--json'])).toBe(1);
      const report = JSON.parse(printed.logs[0]!);
      expect(report.layout).toBe('official');
      expect(await main(['inspect', join(tmp, 'peft')])).toBe(0);
    } finally {
      printed.stop();
    }
  });
});
