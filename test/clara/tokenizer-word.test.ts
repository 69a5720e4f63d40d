import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClaraModel } from '../../clara/claraModel.ts';
import { PRESETS } from '../../clara/model/config.ts';
import { answerPrompt, stage1ParaphrasePrompt, stage1QaPrompt, tokenizeChatPrompt } from '../../clara/tokenizer/chatPrompt.ts';
import { buildEncoderBatch } from '../../clara/tokenizer/encoderInput.ts';
import { claraTextsForVocabulary } from '../../clara/tokenizer/vocabularyTexts.ts';
import { WordTokenizer, wordPieces } from '../../clara/tokenizer/wordTokenizer.ts';

const corpus = {
  documents: ['Kavo Drelin was born in Ostbury. Kavo was born in the year 1957.', 'The favourite colour of Mira Tenn is teal.'],
  qa: [
    { question: 'Where was Kavo Drelin born?', answer: 'Ostbury' },
    { question: 'In which year was Kavo Drelin born?', answer: '1957' },
    { question: 'What is the favourite colour of Mira Tenn?', answer: 'teal' },
  ],
  paraphrases: ['Kavo Drelin comes from the town of Ostbury.'],
};
const nMem = 3;
const texts = claraTextsForVocabulary(corpus, nMem);
const word = WordTokenizer.fromTexts(texts, { nMem });

describe('WordTokenizer', () => {
  it('cuts words with their leading space, and each other character alone', () => {
    expect(wordPieces('Where was Kavo born? [/INST] 1957\n\nQuestion:Who')).toEqual([
      'Where',
      '▁was',
      '▁Kavo',
      '▁born',
      '?',
      '▁[',
      '/',
      'INST',
      ']',
      '▁1957',
      '\n',
      '\n',
      'Question',
      ':',
      'Who',
    ]);
    expect(wordPieces('a  b ')).toEqual(['a', '▁', '▁b', '▁']);
    expect(wordPieces('')).toEqual([]);
  });

  it('has specials at 0-2 and the CLaRa tokens last, in the order of docs/clara.md §2', () => {
    expect(word.vocabSize).toBe(3 + word.keptCount + nMem + 3);
    expect([word.unkId, word.bosId, word.eosId, word.padId]).toEqual([0, 1, 2, 1]);
    const firstAdded = 3 + word.keptCount;
    expect(word.special.mem).toEqual([firstAdded, firstAdded + 1, firstAdded + 2]);
    expect([word.special.ae, word.special.enc, word.special.sep]).toEqual([firstAdded + 3, firstAdded + 4, firstAdded + 5]);
    expect(word.special.sep).toBe(word.vocabSize - 1);
    for (const id of [0, 1, 2, ...word.special.mem, word.special.ae, word.special.enc, word.special.sep]) expect(word.isSpecialId(id)).toBe(true);
    expect(word.isSpecialId(3)).toBe(false);
  });

  it('makes names, towns and years one token each, special tokens atomic', () => {
    const ids = word.encode('<ENC><s>Kavo Drelin was born in Ostbury in 1957.</s><MEM0><MEM1><MEM2><SEP>', { addBos: false });
    expect(ids.map((id) => word.idToToken(id))).toEqual([
      '<ENC>',
      '<s>',
      'Kavo',
      '▁Drelin',
      '▁was',
      '▁born',
      '▁in',
      '▁Ostbury',
      '▁in',
      '▁1957',
      '.',
      '</s>',
      '<MEM0>',
      '<MEM1>',
      '<MEM2>',
      '<SEP>',
    ]);
    expect(word.encode('Kavo')).toEqual([word.bosId, ...word.encode('Kavo', { addBos: false })]);
  });

  it('decodes every text of its corpus back exactly, and without special tokens on request', () => {
    for (const text of texts) {
      const ids = word.encode(text, { addBos: false });
      expect(ids).not.toContain(word.unkId);
      expect(word.decode(ids)).toBe(text);
    }
    expect(word.decode(word.encode('<s> [INST] teal [/INST] Ostbury</s>', { addBos: false }), { skipSpecialTokens: true })).toBe(
      ' [INST] teal [/INST] Ostbury',
    );
    expect(() => word.decode([word.vocabSize])).toThrow(RangeError);
    expect(() => word.idToToken(-1)).toThrow(RangeError);
  });

  it('covers every prompt kind and encoder input of its corpus; the prompt is a prefix of the row', () => {
    for (const { question, answer } of corpus.qa) {
      for (const parts of [answerPrompt(question, answer, { nMem, k: 2 }), stage1QaPrompt([question], [answer], { nMem, k: 2 })]) {
        const row = tokenizeChatPrompt(word, parts, { k: 2 });
        expect(row.inputIds).not.toContain(word.unkId);
        expect(row.memoryPositions.flat().map((p) => row.inputIds[p])).toEqual([...word.special.mem, ...word.special.mem]);
        expect(word.decode(row.inputIds.slice(row.promptLength))).toBe(` ${parts.answer}</s>`);
      }
    }
    const para = tokenizeChatPrompt(word, stage1ParaphrasePrompt(corpus.paraphrases[0], { nMem, instructionIndex: 0 }), { k: 1 });
    expect(para.inputIds).not.toContain(word.unkId);
    const encoder = buildEncoderBatch(word, corpus.documents, { maxTextLength: 32, padding: 'longest' });
    for (const row of encoder.inputIds) expect(row).not.toContain(word.unkId);
  });

  it('maps words it never saw to <unk>', () => {
    const ids = word.encode('Zebra was born', { addBos: false });
    expect(ids[0]).toBe(word.unkId);
    expect(word.decode(ids)).toBe('<unk> was born');
  });

  it('round-trips through JSON and rejects other formats and bad pieces', () => {
    const json = JSON.parse(JSON.stringify(word.toJSON()));
    const back = WordTokenizer.fromJSON(json);
    expect(back.vocabSize).toBe(word.vocabSize);
    expect(back.special).toEqual(word.special);
    for (const text of texts) expect(back.encode(text)).toEqual(word.encode(text));
    for (let id = 0; id < word.vocabSize; id++) expect(back.idToToken(id)).toBe(word.idToToken(id));
    expect(() => WordTokenizer.fromJSON({ ...json, format: 'clara-compact-tokenizer' })).toThrow(/not a word tokenizer/);
    expect(() => new WordTokenizer(['two words'], { nMem })).toThrow(/not a single/);
    expect(() => new WordTokenizer(['ab.'], { nMem })).toThrow(/not a single/);
  });
});

describe('ClaraModel with a word vocabulary', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is built from scratch on request, saved as tokenizer kind "word" and loaded back', async () => {
    const settings = { docMaxLength: 3 * 4, compressionRate: 4, questionMaxLength: 12, generationTopK: 1, stage: 0 };
    const clara = ClaraModel.fromScratch({ texts, base: 'tiny', settings, seed: 1, tokenizer: 'word' });
    expect(clara.tokenizer).toBeInstanceOf(WordTokenizer);
    expect(clara.backbone.config.vocab_size).toBe(clara.tokenizer.vocabSize);
    const dir = mkdtempSync(join(tmpdir(), 'clara-word-'));
    dirs.push(dir);
    await clara.save(dir);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).kind).toBe('word');
    const loaded = ClaraModel.load(dir);
    expect(loaded.tokenizer).toBeInstanceOf(WordTokenizer);
    for (const text of texts) expect(loaded.tokenizer.encode(text)).toEqual(clara.tokenizer.encode(text));
    expect(ClaraModel.fromScratch({ texts, base: PRESETS.tiny!, settings, seed: 1 }).tokenizer).not.toBeInstanceOf(WordTokenizer);
    expect(() => ClaraModel.fromScratch({ texts, base: 'tiny', settings, tokenizer: 'bpe' as never })).toThrow(/unknown tokenizer kind/);
    clara.backbone.dispose();
    loaded.backbone.dispose();
  });
});
