import { describe, expect, it } from 'vitest';
import { CompactTokenizer } from '../../clara/tokenizer/compactTokenizer.ts';
import { MistralTokenizer } from '../../clara/tokenizer/mistralTokenizer.ts';
import { claraTextsForVocabulary } from '../../clara/tokenizer/vocabularyTexts.ts';
import { answerPrompt, tokenizeChatPrompt } from '../../clara/tokenizer/chatPrompt.ts';
import { buildEncoderBatch, encoderText } from '../../clara/tokenizer/encoderInput.ts';

const corpus = {
  documents: ['Kavo Drelin was born in Ostbury.', 'The favourite colour of Mira Tenn is teal.'],
  qa: [
    { question: 'Where was Kavo Drelin born?', answer: 'Ostbury' },
    { question: 'What is the favourite colour of Mira Tenn?', answer: 'teal' },
  ],
  paraphrases: ['Kavo Drelin comes from the town of Ostbury.'],
};
const nMem = 3;
const compact = CompactTokenizer.fromTexts(claraTextsForVocabulary(corpus, nMem), { nMem });
const mistral = new MistralTokenizer({ nMem });

describe('CompactTokenizer', () => {
  it('keeps only the pieces its corpus uses, specials at 0-2 and the CLaRa tokens last', () => {
    expect(compact.vocabSize).toBeLessThan(300);
    expect(compact.vocabSize).toBe(3 + compact.keptCount + nMem + 3);
    expect([compact.unkId, compact.bosId, compact.eosId, compact.padId]).toEqual([0, 1, 2, 1]);
    const firstAdded = 3 + compact.keptCount;
    expect(compact.special.mem).toEqual([firstAdded, firstAdded + 1, firstAdded + 2]);
    expect([compact.special.ae, compact.special.enc, compact.special.sep]).toEqual([firstAdded + 3, firstAdded + 4, firstAdded + 5]);
    expect(compact.special.sep).toBe(compact.vocabSize - 1);
  });

  it('cuts text exactly as Mistral does, renumbered, and decodes it back', () => {
    // Texts as the model reads them: documents and questions inside the compressor's framing.
    const texts = [...corpus.documents, ...corpus.qa.map((q) => q.question)].map(encoderText);
    for (const text of [...texts, '<ENC><s>Kavo Drelin</s><MEM0><SEP>']) {
      const ids = compact.encode(text, { addBos: false });
      expect(ids.map((id) => compact.toMistralId(id))).toEqual(mistral.encode(text, { addBos: false }));
      expect(ids.every((id) => id > compact.unkId && id < compact.vocabSize)).toBe(true);
      expect(compact.decode(ids)).toBe(text);
    }
    expect(compact.encode('<s>Kavo')).toEqual([1, ...compact.encode('<s>Kavo', { addBos: false })]);
  });

  it('covers every prompt and encoder input of its corpus (no <unk>)', () => {
    for (const { question, answer } of corpus.qa) {
      const row = tokenizeChatPrompt(compact, answerPrompt(question, answer, { nMem, k: 2 }), { k: 2 });
      expect(row.inputIds).not.toContain(compact.unkId);
      expect(row.memoryPositions.flat().map((p) => row.inputIds[p])).toEqual([...compact.special.mem, ...compact.special.mem]);
    }
    const encoder = buildEncoderBatch(compact, corpus.documents, { maxTextLength: 32, padding: 'longest' });
    for (const row of encoder.inputIds) expect(row).not.toContain(compact.unkId);
  });

  it('maps pieces it never saw to <unk>', () => {
    const ids = compact.encode('Zebra', { addBos: false });
    expect(ids).toContain(compact.unkId);
    expect(compact.decode(ids)).toContain('<unk>');
  });

  it('round-trips through JSON', () => {
    const json = JSON.parse(JSON.stringify(compact.toJSON()));
    const restored = CompactTokenizer.fromJSON(json);
    expect(restored.vocabSize).toBe(compact.vocabSize);
    expect(restored.special).toEqual(compact.special);
    const text = corpus.documents.join(' ');
    expect(restored.encode(text)).toEqual(compact.encode(text));
    expect(() => CompactTokenizer.fromJSON({ ...json, format: 'other' })).toThrow(/not a compact tokenizer/);
  });
});
