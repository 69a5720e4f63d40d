/**
 * The tokenizer contract every CLaRa piece relies on, whatever the vocabulary behind it.
 *
 * Implementations: `HuggingFaceTokenizer` (a model folder's own tokenizer.json and chat template, for
 * the released 7B checkpoints and their Mistral base), `MistralTokenizer` (Mistral's 32000-token
 * SentencePiece vocabulary built in, for folders without a tokenizer.json), `CompactTokenizer` and
 * `WordTokenizer` (small vocabularies for models trained from scratch), `IdsOnlyTokenizer`.
 *
 * Special tokens written in the text (`<s>`, `</s>`, `<unk>`, `<MEM0>`…, `<AE>`, `<ENC>`, `<SEP>`) are
 * recognised and become one id each, never split: CLaRa builds its prompts as strings with these
 * tokens inside, exactly as the official code does with Hugging Face's tokenizer.
 */

import type { ChatTemplate } from './chatTemplate.ts';

/** Ids of CLaRa's added tokens (docs/clara.md §2): `<MEM0>`…`<MEM{n-1}>`, `<AE>`, `<ENC>`, `<SEP>`. */
export interface ClaraSpecialIds {
  /** `mem[i]` is the id of `<MEMi>`; length n (the memory tokens per document). */
  readonly mem: readonly number[];
  readonly ae: number;
  readonly enc: number;
  readonly sep: number;
}

export interface EncodeOptions {
  /**
   * Put `<s>` in front, as Hugging Face's `add_special_tokens=True` does for Mistral (default true).
   * Every CLaRa layout passes `false`: its strings already contain the `<s>` they need.
   */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Leave out `<s>`, `</s>`, `<unk>` and the CLaRa tokens instead of writing their names (default false). */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** Number of ids, added tokens included: every id is in [0, vocabSize). */
  readonly vocabSize: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  /**
   * Id written into padding positions. Mistral has no pad token; the official code pads with `<s>`
   * (`pad_token_id = bos_token_id`), and padded positions are masked out of attention and loss anyway.
   */
  readonly padId: number;
  /** n, the number of memory tokens per document. */
  readonly nMem: number;
  readonly special: ClaraSpecialIds;
  /**
   * The model's chat template (tokenizer_config.json), when it has one: the generator's prompts are
   * then rendered with it (chatPrompt.ts), as the official code renders them with `apply_chat_template`.
   */
  readonly chatTemplate?: ChatTemplate;

  /** Text to ids; special-token strings in the text become their single ids. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Ids to text; throws on an id outside [0, vocabSize). */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The vocabulary entry of one id (e.g. `▁world`, `<0x0A>`, `<MEM3>`), for debugging and tests. */
  idToToken(id: number): string;
  /** True for `<unk>`, `<s>`, `</s>` and the CLaRa added tokens. */
  isSpecialId(id: number): boolean;
}

/** Label value that the cross-entropy ignores (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;
