import { describe, expect, it } from 'vitest';
import { answerPrompt, tokenizeChatPrompt } from '../../clara/tokenizer/chatPrompt.ts';
import { buildEncoderBatch } from '../../clara/tokenizer/encoderInput.ts';
import { MistralTokenizer } from '../../clara/tokenizer/mistralTokenizer.ts';
import { encodePrefix } from '../../clara/tokenizer/tokenPrefix.ts';
import { WordTokenizer } from '../../clara/tokenizer/wordTokenizer.ts';

/** Text of any length: no call-stack limit, and what the model does not read is not tokenized. */
describe('long text', () => {
  const mistral = new MistralTokenizer({ nMem: 2 });

  it('encodes 160,000 tokens in one piece (spreading them as call arguments overflowed the stack)', () => {
    expect(mistral.encode('\u0001'.repeat(160_000), { addBos: false }).length).toBeGreaterThanOrEqual(160_000);
  });

  it('encodePrefix gives the first tokens of the whole text, for both vocabularies, cut anywhere', () => {
    const words = ['the', 'a', '  ', 'Zürich', 'supercalifragilisticexpialidocious', '\n', 'x,y.', '😀', '<MEM0>', 'héllo', '   '];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const texts = Array.from({ length: 60 }, () =>
      Array.from({ length: Math.floor(random() * 400) }, () => words[Math.floor(random() * words.length)]! + (random() < 0.7 ? ' ' : '')).join(''),
    );
    const word = WordTokenizer.fromTexts(texts, { nMem: 2 });
    for (const tokenizer of [mistral, word]) {
      for (const text of texts) {
        for (const max of [1, 3, 10, 40]) {
          const full = tokenizer.encode(text, { addBos: false });
          expect(encodePrefix(tokenizer, text, max, { addBos: false })).toEqual({ ids: full.slice(0, max), truncated: full.length > max });
        }
      }
    }
  });

  it('a 100 MB document and a 1 MB question take seconds, not minutes: only what the model reads is tokenized', () => {
    const start = performance.now();
    const batch = buildEncoderBatch(mistral, ['word '.repeat(20_000_000)], { maxTextLength: 256 });
    expect(batch.inputIds[0]!.length).toBe(256 + 3 + 2);
    const row = tokenizeChatPrompt(mistral, answerPrompt('why '.repeat(250_000), 'because', { nMem: 2, k: 0 }), { k: 0 });
    expect(row.inputIds.length).toBe(1024);
    expect(performance.now() - start).toBeLessThan(5000);
  });
});
