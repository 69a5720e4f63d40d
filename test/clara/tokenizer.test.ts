import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import mistralTokenizerJs from 'mistral-tokenizer-js';
import { MistralTokenizer } from '../../clara/tokenizer/mistralTokenizer.ts';
import { claraAddedTokens, splitOnSpecialTokens } from '../../clara/tokenizer/addedTokens.ts';
import { captureConsole } from '../helpers/captureConsole.ts';

const tokenizer = new MistralTokenizer({ nMem: 4 });

describe('MistralTokenizer', () => {
  it('gives the known Mistral ids', () => {
    expect(tokenizer.encode('Hello world')).toEqual([1, 22557, 1526]);
    expect(tokenizer.encode('Hello world', { addBos: false })).toEqual([22557, 1526]);
    expect(tokenizer.encode('Hello world!')).toEqual([1, 22557, 1526, 28808]);
    // Mistral's chat markers: `▁[ INST ]` and `▁[ / INST ]`, as mistral-common tokenizes them.
    expect(tokenizer.encode('<s> [INST] hi [/INST]', { addBos: false })).toEqual([1, 733, 16289, 28793, 12014, 733, 28748, 16289, 28793]);
    // A newline is the byte piece <0x0A> = 13; digits are single pieces.
    expect(tokenizer.encode('a\nb', { addBos: false }).map((id) => tokenizer.idToToken(id))).toEqual(['▁a', '<0x0A>', 'b']);
    expect(tokenizer.encode('1999', { addBos: false }).map((id) => tokenizer.idToToken(id))).toEqual(['▁', '1', '9', '9', '9']);
  });

  it("passes the package's own self-test (known ids for spaces, tabs, unicode and byte fallback)", () => {
    const quiet = captureConsole();
    try {
      expect(mistralTokenizerJs.runTests()).toBe(true);
    } finally {
      quiet.stop();
    }
  });

  it('puts the CLaRa tokens after the 32000 Mistral ids', () => {
    const n = 4;
    expect(tokenizer.vocabSize).toBe(32003 + n);
    expect(tokenizer.special.mem).toEqual([32000, 32001, 32002, 32003]);
    expect(tokenizer.special.ae).toBe(32000 + n);
    expect(tokenizer.special.enc).toBe(32001 + n);
    expect(tokenizer.special.sep).toBe(32002 + n);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.unkId, tokenizer.padId]).toEqual([1, 2, 0, 1]);
    expect(claraAddedTokens(2)).toEqual(['<MEM0>', '<MEM1>', '<AE>', '<ENC>', '<SEP>']);
  });

  it('never splits added tokens, and prefers the longest match', () => {
    expect(tokenizer.encode('<MEM0><MEM1><MEM2><MEM3><SEP><AE><ENC></s><unk>', { addBos: false })).toEqual([
      32000, 32001, 32002, 32003, 32006, 32004, 32005, 2, 0,
    ]);
    const twelve = new MistralTokenizer({ nMem: 12 });
    expect(twelve.encode('x<MEM10>y<MEM1>', { addBos: false }).filter((id) => id >= 32000)).toEqual([32010, 32001]);
    // With n = 4 there is no <MEM10>: it is ordinary text.
    expect(tokenizer.encode('<MEM10>', { addBos: false }).some((id) => id >= 32000)).toBe(false);
    expect(splitOnSpecialTokens('a<SEP>', ['<SEP>'])).toEqual([
      { kind: 'text', text: 'a', start: 0 },
      { kind: 'special', token: '<SEP>' },
    ]);
  });

  it('adds the dummy prefix only at the start of the input by default, after every special token in legacy mode', () => {
    expect(tokenizer.encode('<ENC><s>Hello world</s>', { addBos: false })).toEqual([32005, 1, 16230, 1526, 2]);
    const legacy = new MistralTokenizer({ nMem: 4, dummyPrefix: 'every-segment' });
    expect(legacy.encode('<ENC><s>Hello world</s>', { addBos: false })).toEqual([32005, 1, 22557, 1526, 2]);
    expect(legacy.decode([32005, 1, 22557, 1526, 2])).toBe('<ENC><s>Hello world</s>');
  });

  it('decodes spaces, newlines, unicode and digits back exactly', () => {
    for (const text of ['Hello world', '  two leading spaces', 'tabs\there\n\nnew  lines ', 'naïve café — 東京 🦙 ok', 'Year 1999: 3.14%']) {
      expect(tokenizer.decode(tokenizer.encode(text), { skipSpecialTokens: true })).toBe(text);
      expect(tokenizer.decode(tokenizer.encode(text, { addBos: false }))).toBe(text);
    }
    expect(tokenizer.decode(tokenizer.encode('Hello world'))).toBe('<s> Hello world');
    expect(tokenizer.decode([1, 733, 16289, 28793, 12014, 2])).toBe('<s> [INST] hi</s>');
    expect(tokenizer.decode([1, 733, 16289, 28793, 12014, 2], { skipSpecialTokens: true })).toBe('[INST] hi');
    expect(() => tokenizer.decode([tokenizer.vocabSize])).toThrow(RangeError);
  });

  it('property: special tokens in any text come out as single ids, and the text decodes back', () => {
    const specials = claraAddedTokens(4).concat(['<s>', '</s>']);
    const part = fc.oneof(fc.constantFrom(...specials), fc.stringMatching(/^[A-Za-z0-9 ,.?\n]{1,12}$/), fc.constantFrom('é', '東', '🦙', ' MEM0>', '<MEM'));
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const text = parts.join('');
        const ids = tokenizer.encode(text, { addBos: false });
        for (const special of specials) {
          const expected = text.split(special).length - 1;
          const id = tokenizer.specialTokenId(special);
          expect(ids.filter((x) => x === id).length).toBe(expected);
        }
        expect(tokenizer.decode(ids)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
