/**
 * The first `maxTokens` tokens of a text without tokenizing all of it. A 100 MB document that the
 * compressor reads 256 tokens of would otherwise be tokenized whole (minutes, gigabytes) and then
 * cut. The text is tokenized in growing prefixes that end at a space or a line break (no piece spans
 * one, in SentencePiece or the word vocabulary), until a prefix gives more tokens than are kept or
 * the whole text has been read: the kept tokens then come from whole words before the cut and are
 * the ones tokenizing the full text would give.
 */
import type { EncodeOptions, Tokenizer } from './tokenizer.ts';

/** Characters of the first prefix tried per kept token (Mistral's longest piece has 16). */
const CHARS_PER_TOKEN = 16;

export interface TokenPrefix {
  /** At most `maxTokens` ids. */
  ids: number[];
  /** Whether tokens were cut off (the text is longer than the model takes). */
  truncated: boolean;
}

export function encodePrefix(tokenizer: Tokenizer, text: string, maxTokens: number, options?: EncodeOptions): TokenPrefix {
  for (let chars = CHARS_PER_TOKEN * (maxTokens + 1); ; chars *= 2) {
    if (chars >= text.length) {
      const ids = tokenizer.encode(text, options);
      return { ids: ids.slice(0, maxTokens), truncated: ids.length > maxTokens };
    }
    const cut = lastBreakBefore(text, chars);
    const ids = tokenizer.encode(text.slice(0, cut), options);
    // A margin of two: where a run of spaces is cut, its last tokens may differ from the full text's.
    if (ids.length > maxTokens + 2) return { ids: ids.slice(0, maxTokens), truncated: true };
  }
}

/** The position of the last space or line break before `end` (`end` itself when there is none). */
function lastBreakBefore(text: string, end: number): number {
  for (let i = end; i > 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a) return i;
  }
  return end;
}
