import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator } from '../../../engine/index.ts';
import { readSafetensorsFile } from '../../../engine/io/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../../clara/adapters.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { compressionLoss } from '../../../clara/compressionObjective.ts';
import { answerExample, collateBatch } from '../../../clara/examples.ts';
import { claraTextsForVocabulary } from '../../../clara/tokenizer/vocabularyTexts.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';

/**
 * `clara trace` on texts (`{"question", "docs", "answer"}` in a JSON file): tokenized with the
 * model's own tokenizer into the layouts training uses, and refused, saying why, by a checkpoint
 * that has no tokenizer.
 */
const EXAMPLES = [
  {
    question: 'Where is the lighthouse?',
    docs: ['The lighthouse stands on the north cape.', 'Fishermen mend nets in the harbour.'],
    answer: 'On the north cape.',
  },
  { question: 'Who mends nets?', docs: ['Fishermen mend nets in the harbour.', 'The lighthouse stands on the north cape.'], answer: 'Fishermen.' },
];

async function savedClara(): Promise<{ clara: ClaraModel; dir: string }> {
  const corpus = { documents: EXAMPLES.flatMap((e) => e.docs), qa: EXAMPLES.map(({ question, answer }) => ({ question, answer })) };
  const settings = { docMaxLength: 16, compressionRate: 4, generationTopK: 1, lora: { r: 4, alpha: 8, dropout: 0 } };
  const clara = ClaraModel.fromScratch({ texts: claraTextsForVocabulary(corpus, 4), base: 'tiny', settings, seed: 5 });
  const rng = new Generator(6);
  for (const name of [ENCODER_ADAPTER, DECODER_ADAPTER, QUERY_REASONER_ADAPTER]) clara.backbone.addAdapter(name, settings.lora, rng);
  const dir = mkdtempSync(join(tmpdir(), 'clara-trace-texts-'));
  await clara.save(join(dir, 'model'));
  writeFileSync(join(dir, 'texts.json'), JSON.stringify(EXAMPLES));
  return { clara, dir };
}

function trace(model: string, inputs: string, out: string, mode: string, extra: string[] = []): Promise<number> {
  return main(['trace', '--mode', mode, '--model', model, '--inputs', inputs, '--out', out, '--backend', 'cpu', ...extra]);
}

describe('clara trace on texts', () => {
  const printed = captureConsoleInEachTest();

  it("tokenizes them as training does: stage 1's loss is the training loss of the same examples", async () => {
    const { clara, dir } = await savedClara();
    const out = join(dir, 'stage1.safetensors');
    expect(await trace(join(dir, 'model'), join(dir, 'texts.json'), out, 'stage1')).toBe(0);
    const traced = readSafetensorsFile(out);
    for (const name of ['compressed', 'mu_mem', 'logits', 'loss', 'grad.compressed', 'grad.logits']) expect(traced.has(name)).toBe(true);
    const batch = collateBatch(
      clara.tokenizer,
      EXAMPLES.map((e) => answerExample(clara.tokenizer, e.question, e.docs, e.answer)),
      clara.settings.docMaxLength,
    );
    clara.backbone.eval();
    const expected = await compressionLoss(clara, batch, 0.1).loss.item();
    expect(traced.toHost('loss').data[0]).toBeCloseTo(expected, 5);
    expect(traced.info('compressed').shape).toEqual([4, clara.nMem, clara.backbone.config.hidden_size]);
  });

  it('traces the compressor and a stage-3 step (each example: a question, its N candidates, the answer)', async () => {
    const { clara, dir } = await savedClara();
    const compressor = join(dir, 'compressor.safetensors');
    expect(await trace(join(dir, 'model'), join(dir, 'texts.json'), compressor, 'compressor')).toBe(0);
    expect(readSafetensorsFile(compressor).info('compressed').shape).toEqual([4, clara.nMem, clara.backbone.config.hidden_size]);
    const stage3 = join(dir, 'stage3.safetensors');
    expect(await trace(join(dir, 'model'), join(dir, 'texts.json'), stage3, 'stage3', ['--temperature', '0.5'])).toBe(0);
    const traced = readSafetensorsFile(stage3);
    expect(traced.info('s').shape).toEqual([2, 2]);
    expect(traced.info('W').shape).toEqual([2, 1, 2]); // k = the model's generationTopK
    for (const name of ['q', 'D', 'P', 'selected', 'grad.q', 'grad.logits']) expect(traced.has(name)).toBe(true);
  });

  it('says so when the checkpoint has no tokenizer, and that the decoder mode reads ids', async () => {
    const { dir } = await savedClara();
    const out = join(dir, 'o.safetensors');
    expect(await trace('test/fixtures/peft/tiny', join(dir, 'texts.json'), out, 'stage1', ['--mem-ids', '57,58,59,60'])).toBe(1);
    expect(printed.errors.at(-1)).toContain('gives texts, but this checkpoint was loaded without a tokenizer');
    expect(await trace(join(dir, 'model'), join(dir, 'texts.json'), out, 'decoder')).toBe(1);
    expect(printed.errors.at(-1)).toContain('the decoder reads ids');
  });
});
