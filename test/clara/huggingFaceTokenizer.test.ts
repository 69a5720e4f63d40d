import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectModelDir } from '../../clara/checkpoints/inspect.ts';
import { ClaraModel } from '../../clara/claraModel.ts';
import { main } from '../../clara/cli/main.ts';
import { loadOfficialCheckpoint } from '../../clara/checkpoints/official.ts';
import type { ChatMessage } from '../../clara/tokenizer/chatTemplate.ts';
import { answerPrompt, renderGeneratorText, stage1QaPrompt, tokenizeChatPrompt } from '../../clara/tokenizer/chatPrompt.ts';
import { HuggingFaceTokenizer, findHuggingFaceTokenizer } from '../../clara/tokenizer/huggingFaceTokenizer.ts';
import { MistralTokenizer } from '../../clara/tokenizer/mistralTokenizer.ts';
import { cpuBackend } from '../../engine/backends/cpu/index.ts';
import { captureConsole } from '../helpers/captureConsole.ts';

/**
 * The folder tokenizer (tokenizer.json + tokenizer_config.json through @huggingface/tokenizers and
 * @huggingface/jinja) against reference/record_tokenizer.py: a tiny SentencePiece BPE model in
 * Mistral's settings, converted as transformers' LlamaConverter converts Mistral's (legacy), and the
 * ids SentencePiece gives with Hugging Face's added-token handling, on plain text, spaces, digits,
 * unicode, emoji, CLaRa's tokens and the CLaRa prompts rendered through Mistral's chat template.
 */

const FIXTURES = join(import.meta.dirname, '../fixtures/tokenizer');
const CLARA_TOKENS_ADDED_HERE = join(FIXTURES, 'mistral_tiny');
const CLARA_TOKENS_IN_FILE = join(FIXTURES, 'mistral_tiny_clara');

interface RecordedPrompt {
  name: string;
  text: string;
  messages?: ChatMessage[];
  addGenerationPrompt?: boolean;
  ids: number[];
  decoded: string;
  decodedSkipSpecial: string;
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  nMem: number;
  vocabSize: number;
  addedTokens: { id: number; content: string }[];
  prompts: RecordedPrompt[];
};
const nMem = expected.nMem;
const recorded = (name: string) => expected.prompts.find((p) => p.name === name)!;

const tmp = mkdtempSync(join(tmpdir(), 'clara-hf-tokenizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each([
  ['the CLaRa tokens added after the base vocabulary (a base model folder)', CLARA_TOKENS_ADDED_HERE, false],
  ['the CLaRa tokens already in the files (a released checkpoint folder)', CLARA_TOKENS_IN_FILE, true],
])('HuggingFaceTokenizer, %s', (_, dir, inFile) => {
  const tokenizer = HuggingFaceTokenizer.fromFolder(dir, { nMem });

  it('gives the recorded ids on every prompt', () => {
    for (const p of expected.prompts) expect(tokenizer.encode(p.text, { addBos: false }), p.name).toEqual(p.ids);
  });

  it('puts <s> in front by default, as add_special_tokens=True does', () => {
    const p = recorded('plain');
    expect(tokenizer.encode(p.text)).toEqual([tokenizer.bosId, ...p.ids]);
  });

  it("decodes as Hugging Face's decoder chain does, and plain text round-trips", () => {
    for (const p of expected.prompts) {
      expect(tokenizer.decode(p.ids), p.name).toBe(p.decoded);
      expect(tokenizer.decode(p.ids, { skipSpecialTokens: true }), p.name).toBe(p.decodedSkipSpecial);
      if (!p.text.includes('<')) expect(tokenizer.decode(tokenizer.encode(p.text, { addBos: false })), p.name).toBe(p.text);
    }
    expect(tokenizer.decode([])).toBe('');
  });

  it('numbers the CLaRa tokens as the official code does', () => {
    const id = (content: string) => expected.addedTokens.find((t) => t.content === content)!.id;
    expect(tokenizer.special.mem).toEqual(Array.from({ length: nMem }, (_, i) => id(`<MEM${i}>`)));
    expect([tokenizer.special.ae, tokenizer.special.enc, tokenizer.special.sep]).toEqual([id('<AE>'), id('<ENC>'), id('<SEP>')]);
    expect(tokenizer.special.mem[0]).toBe(expected.vocabSize);
    expect(tokenizer.vocabSize).toBe(expected.vocabSize + nMem + 3);
    expect([tokenizer.unkId, tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([0, 1, 2, 1]);
    expect(tokenizer.summary.claraTokens.inFile).toBe(inFile);
    for (const t of expected.addedTokens) {
      expect(tokenizer.isSpecialId(t.id)).toBe(true);
      expect(tokenizer.idToToken(t.id)).toBe(t.content);
    }
    expect(tokenizer.isSpecialId(recorded('plain').ids[0]!)).toBe(false);
    expect(() => tokenizer.decode([tokenizer.vocabSize])).toThrow(/outside the vocabulary/);
  });

  it("renders the messages through the folder's chat template as the recorder does", () => {
    expect(tokenizer.chatTemplate).toBeDefined();
    for (const p of expected.prompts.filter((q) => q.messages !== undefined)) {
      expect(tokenizer.chatTemplate!.render(p.messages!, { addGenerationPrompt: p.addGenerationPrompt! }), p.name).toBe(p.text);
    }
  });

  it("tokenizes CLaRa's generator rows through the template to the recorded ids", () => {
    const question = 'Where was the author born?';
    const row = tokenizeChatPrompt(tokenizer, answerPrompt(question, 'Near the coast.', { nMem, k: 2 }), { k: 2 });
    expect(row.inputIds).toEqual(recorded('chat_answer_row').ids);
    expect(row.promptLength).toBe(recorded('chat_answer_prompt').ids.length);
    expect(row.memoryPositions).toHaveLength(2);
    const inference = tokenizeChatPrompt(tokenizer, answerPrompt(question, undefined, { nMem, k: 2 }), { k: 2 });
    expect(inference.inputIds).toEqual(recorded('chat_answer_prompt').ids);
    const qa = recorded('chat_stage1_qa_row');
    const parts = stage1QaPrompt(['When did the bridge open?', 'Who built it?'], ['In 1957.', 'The city.'], { nMem });
    expect(tokenizeChatPrompt(tokenizer, parts, { k: 1 }).inputIds).toEqual(qa.ids);
  });
});

describe('finding and loading a folder tokenizer', () => {
  it("takes the first folder whose tokenizer.json is Hugging Face's, skipping this project's own", () => {
    const own = join(tmp, 'own');
    mkdirSync(own);
    writeFileSync(join(own, 'tokenizer.json'), JSON.stringify({ kind: 'compact', nMem }));
    expect(findHuggingFaceTokenizer([own, join(tmp, 'missing')], { nMem })).toBeUndefined();
    const found = findHuggingFaceTokenizer([own, CLARA_TOKENS_IN_FILE], { nMem });
    expect(found?.summary.file).toBe(join(CLARA_TOKENS_IN_FILE, 'tokenizer.json'));
  });

  it("loads a released checkpoint with its folder's tokenizer.json (and says when it does not fit the checkpoint)", () => {
    const root = join(tmp, 'official');
    cpSync(join(import.meta.dirname, '../fixtures/clara/official'), root, { recursive: true });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(CLARA_TOKENS_ADDED_HERE, file), join(root, 'base', file));
    // The tiny checkpoint's base has 57 tokens; the tiny tokenizer 700: the folder's tokenizer was used.
    expect(() => loadOfficialCheckpoint(join(root, 'checkpoint'), { base: join(root, 'base'), backend: cpuBackend })).toThrow(
      `the tokenizer has ${expected.vocabSize + nMem + 3} tokens, the checkpoint 64`,
    );
  });

  it('is what compress and ask use on a released checkpoint whose base has a tokenizer.json, prompts through its template', async () => {
    const root = join(tmp, 'cli');
    cpSync(join(import.meta.dirname, '../fixtures/clara/official'), root, { recursive: true });
    const [checkpoint, base] = [join(root, 'checkpoint'), join(root, 'base')];
    // The tiny base has 57 tokens: a word-piece BPE of that size, in Mistral's legacy form, and Mistral's template.
    const json = JSON.parse(readFileSync(join(CLARA_TOKENS_ADDED_HERE, 'tokenizer.json'), 'utf8'));
    const chars = ['▁', ...'abcdefghijklmnopqrstuvwxyz', ...'[]/:?.', ...'INSTW'];
    const merges = ['I N', 'S T', 'IN ST', '▁ [', 't h', 'h e', '▁ th', '▁th e', 'v e', 'e r', 've r', 'r i', '▁ w', 'o w', 'f l', '▁ f'];
    const vocab = Object.fromEntries(['<unk>', '<s>', '</s>', ...chars, ...merges.map((m) => m.replace(' ', ''))].map((p, i) => [p, i]));
    expect(Object.keys(vocab)).toHaveLength(57);
    writeFileSync(join(base, 'tokenizer.json'), JSON.stringify({ ...json, model: { ...json.model, vocab, merges, byte_fallback: false } }));
    cpSync(join(CLARA_TOKENS_ADDED_HERE, 'tokenizer_config.json'), join(base, 'tokenizer_config.json'));

    const clara = ClaraModel.load(checkpoint, { base, backend: cpuBackend });
    expect(clara.tokenizer).toBeInstanceOf(HuggingFaceTokenizer);
    expect(clara.tokenizer.special.mem).toEqual([57, 58, 59, 60]);
    const row = tokenizeChatPrompt(clara.tokenizer, answerPrompt('where?', undefined, { nMem, k: 1 }), { k: 1 });
    // <s> ▁ ▁[ INST ]: the legacy ▁ after <s>, then the template's ' [INST] '.
    expect(row.inputIds.slice(0, 5)).toEqual([1, vocab['▁'], vocab['▁['], vocab.INST, vocab[']']]);

    const docs = join(root, 'docs.jsonl');
    writeFileSync(docs, `${JSON.stringify({ text: 'the river flows north' })}\n${JSON.stringify({ text: 'the bridge opened' })}\n`);
    const bank = join(root, 'bank.safetensors');
    const quiet = captureConsole();
    try {
      expect(await main(['compress', '--model', checkpoint, '--base', base, '--docs', docs, '--out', bank, '--backend', 'cpu'])).toBe(0);
      const ask = ['ask', '--model', checkpoint, '--base', base, '--index', bank, '--k', '1', '--max-new-tokens', '2', '--json', '--backend', 'cpu'];
      expect(await main([...ask, 'where does the river flow?'])).toBe(0);
    } finally {
      quiet.stop();
    }
  });

  it('is what `clara inspect` reports for a released checkpoint that carries tokenizer files', () => {
    const root = join(tmp, 'inspect');
    cpSync(join(import.meta.dirname, '../fixtures/clara/official'), root, { recursive: true });
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(CLARA_TOKENS_IN_FILE, file), join(root, 'checkpoint', file));
    const report = inspectModelDir(join(root, 'checkpoint'), { base: join(root, 'base') });
    const size = expected.vocabSize + nMem + 3;
    expect(report.tokenizerInfo).toMatchObject({ kind: 'huggingface', vocabSize: size, addedTokens: 3 + nMem + 3, chatTemplate: true });
    expect(report.tokenizerInfo).toMatchObject({ claraTokens: { first: '<MEM0>', last: '<SEP>', firstId: expected.vocabSize, inFile: true } });
    expect(report.tokenizer).toContain('with chat template');
    expect(report.problems).toEqual([`${join(root, 'checkpoint', 'tokenizer.json')} has ${size} tokens with the CLaRa tokens, but the base's 57 + 7 make 64`]);
  });

  it('falls back to one user message for a template without a system role, as the official code does', () => {
    const json = JSON.parse(readFileSync(join(CLARA_TOKENS_ADDED_HERE, 'tokenizer.json'), 'utf8'));
    const config = {
      bos_token: '<s>',
      eos_token: '</s>',
      chat_template:
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}",
    };
    const tokenizer = new HuggingFaceTokenizer(json, config, { nMem, file: 'tokenizer.json' });
    const parts = { system: 'SYS', user: 'USER', answer: 'ANSWER' };
    expect(renderGeneratorText(tokenizer, parts, false)).toBe('<user>SYS\nUSER');
    expect(renderGeneratorText(tokenizer, parts, true)).toBe('<user>SYS\nUSER<assistant>ANSWER');
  });
});

describe("the legacy rule on Mistral's real vocabulary", () => {
  it("gives the ids transformers.js documents for Mistral's own tokenizer.json (a ▁ after every special token)", () => {
    // @huggingface/jinja's README: Mistral-7B-Instruct-v0.1's template rendered and tokenized by its tokenizer.json.
    const text =
      "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s> [INST] I'd like to show off how chat templating works! [/INST]";
    const ids = [
      1, 733, 16289, 28793, 22557, 28725, 910, 460, 368, 28804, 733, 28748, 16289, 28793, 28737, 28742, 28719, 2548, 1598, 28723, 1602, 541, 315, 1316, 368,
      3154, 28804, 2, 28705, 733, 16289, 28793, 315, 28742, 28715, 737, 298, 1347, 805, 910, 10706, 5752, 1077, 3791, 28808, 733, 28748, 16289, 28793,
    ];
    expect(new MistralTokenizer({ nMem: 2, dummyPrefix: 'every-segment' }).encode(text, { addBos: false })).toEqual(ids);
  });
});
