/**
 * Mistral's tokenizer (the 32000-token SentencePiece-BPE vocabulary of Mistral-7B v0.1/v0.2) with
 * CLaRa's added tokens after it: `<MEMi>` = 32000+i, `<AE>` = 32000+n, `<ENC>` = 32001+n,
 * `<SEP>` = 32002+n, so V = 32003+n (docs/clara.md §2).
 *
 * The BPE itself comes from the npm package `mistral-tokenizer-js` (MIT, no dependencies, the
 * vocabulary and merges embedded in the package, no network): "Hello world" → 1, 22557, 1526.
 * This class adds what CLaRa needs around it: special tokens recognised inside the text, the
 * added-token ids, and a decoder that knows about them.
 *
 * The dummy prefix. SentencePiece puts a space before the text it encodes ("Hello" is `▁Hello`).
 * When special tokens cut a text into stretches, tokenizers disagree on which stretches get it:
 * - `'first'` (default): only a stretch that starts the whole input. This is what Hugging Face's
 *   non-legacy Llama/Mistral tokenizers do (Metaspace, prepend_scheme "first"), and it is what makes
 *   the chat string `<s> [INST] …` give `<s> ▁[ INST ]`, the tokens of Mistral's own mistral-common.
 * - `'every-segment'`: every stretch, including one right after `<s>` or `<MEM3>` (Hugging Face's
 *   legacy behaviour, `legacy=True`). Choose it to match a checkpoint trained with such a tokenizer.
 */
import mistralTokenizerJs from 'mistral-tokenizer-js';
import type { ClaraSpecialIds, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.ts';
import { BOS_TOKEN, EOS_TOKEN, UNK_TOKEN, claraAddedTokens, splitOnSpecialTokens } from './addedTokens.ts';

export type DummyPrefixMode = 'first' | 'every-segment';

export interface MistralTokenizerOptions {
  /** n, memory tokens per document (doc_max_length / compression_rate). */
  nMem: number;
  dummyPrefix?: DummyPrefixMode;
}

/** Size of Mistral's own vocabulary, before the CLaRa tokens. */
export const MISTRAL_BASE_VOCAB_SIZE = 32000;
const UNK_ID = 0;
const BOS_ID = 1;
const EOS_ID = 2;
/** Ids 3..258 are the byte-fallback pieces `<0x00>`…`<0xFF>`. */
const FIRST_BYTE_ID = 3;
const LAST_BYTE_ID = 258;
/** SentencePiece's stand-in for a space. */
const SPACE_MARK = '\u2581';

export class MistralTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId = UNK_ID;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly padId = BOS_ID;
  readonly nMem: number;
  readonly special: ClaraSpecialIds;
  readonly dummyPrefix: DummyPrefixMode;

  /** Every special-token string recognised in text, with its id. */
  private readonly specialIdByToken: Map<string, number>;
  private readonly specialTokenById: Map<number, string>;
  private readonly specialTokenStrings: string[];

  constructor(options: MistralTokenizerOptions) {
    this.nMem = options.nMem;
    this.dummyPrefix = options.dummyPrefix ?? 'first';
    const added = claraAddedTokens(options.nMem);
    this.vocabSize = MISTRAL_BASE_VOCAB_SIZE + added.length;
    this.specialIdByToken = new Map([
      [UNK_TOKEN, UNK_ID],
      [BOS_TOKEN, BOS_ID],
      [EOS_TOKEN, EOS_ID],
    ]);
    added.forEach((token, i) => {
      this.specialIdByToken.set(token, MISTRAL_BASE_VOCAB_SIZE + i);
    });
    this.specialTokenById = new Map([...this.specialIdByToken].map(([token, id]) => [id, token]));
    this.specialTokenStrings = [...this.specialIdByToken.keys()];
    const n = options.nMem;
    this.special = {
      mem: Array.from({ length: n }, (_, i) => MISTRAL_BASE_VOCAB_SIZE + i),
      ae: MISTRAL_BASE_VOCAB_SIZE + n,
      enc: MISTRAL_BASE_VOCAB_SIZE + n + 1,
      sep: MISTRAL_BASE_VOCAB_SIZE + n + 2,
    };
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = (options.addBos ?? true) ? [BOS_ID] : [];
    for (const piece of splitOnSpecialTokens(text, this.specialTokenStrings)) {
      if (piece.kind === 'special') {
        ids.push(this.specialIdByToken.get(piece.token)!);
      } else {
        const addPrefix = this.dummyPrefix === 'every-segment' || piece.start === 0;
        // One push per id: spreading a long text's ids as arguments overflows the call stack.
        for (const id of mistralTokenizerJs.encode(piece.text, false, addPrefix, false)) ids.push(id);
      }
    }
    return ids;
  }

  /**
   * Pieces are joined as UTF-8 bytes (byte-fallback pieces give one byte each) and `▁` becomes a space.
   * The space the encoder added as dummy prefix is taken off again where Hugging Face's decoder takes
   * it off: from the first token written out (so a leading `<s>` kept in the output keeps the space
   * after it, "<s> Hello", and a skipped one does not, "Hello"), and in `'every-segment'` mode also
   * from the first token after each special token. So `decode(encode(t), { skipSpecialTokens: true })`
   * and `decode(encode(t, { addBos: false }))` give back `t`.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skipSpecial = options.skipSpecialTokens ?? false;
    let out = '';
    let bytes: number[] = [];
    let stripNextPrefix = true;
    let runStripsPrefix = false;
    const flushText = () => {
      if (bytes.length === 0) return;
      let text = new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
      if (runStripsPrefix && text.startsWith(' ')) text = text.slice(1);
      out += text;
      bytes = [];
    };
    for (const id of ids) {
      this.checkId(id);
      const specialToken = this.specialTokenById.get(id);
      if (specialToken !== undefined) {
        flushText();
        if (this.dummyPrefix === 'every-segment') stripNextPrefix = true;
        if (skipSpecial) continue;
        out += specialToken;
        stripNextPrefix = this.dummyPrefix === 'every-segment';
        continue;
      }
      if (bytes.length === 0) {
        runStripsPrefix = stripNextPrefix;
        stripNextPrefix = false;
      }
      if (id >= FIRST_BYTE_ID && id <= LAST_BYTE_ID) {
        bytes.push(id - FIRST_BYTE_ID);
      } else {
        const piece = mistralTokenizerJs.vocabById[id]!.replaceAll(SPACE_MARK, ' ');
        for (const b of new TextEncoder().encode(piece)) bytes.push(b);
      }
    }
    flushText();
    return out;
  }

  idToToken(id: number): string {
    this.checkId(id);
    return this.specialTokenById.get(id) ?? mistralTokenizerJs.vocabById[id]!;
  }

  isSpecialId(id: number): boolean {
    return this.specialTokenById.has(id);
  }

  /** The id of a special-token string such as `<MEM0>` or `</s>`; throws for anything else. */
  specialTokenId(token: string): number {
    const id = this.specialIdByToken.get(token);
    if (id === undefined) throw new Error(`not a special token: ${token}`);
    return id;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }
}
