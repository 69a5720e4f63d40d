/**
 * CLaRa's special tokens as strings, and the splitting of a text at them.
 *
 * The official code adds `<MEM0>`…`<MEM{n-1}>`, `<AE>`, `<ENC>`, `<SEP>` (in that order) to the
 * tokenizer as special tokens, so Hugging Face cuts every occurrence out of the text before the
 * SentencePiece model sees the rest. `splitOnSpecialTokens` is that cut.
 */

export const UNK_TOKEN = '<unk>';
export const BOS_TOKEN = '<s>';
export const EOS_TOKEN = '</s>';
const AE_TOKEN = '<AE>';
export const ENC_TOKEN = '<ENC>';
export const SEP_TOKEN = '<SEP>';

/** `<MEMi>`, the i-th memory token. */
export function memToken(i: number): string {
  return `<MEM${i}>`;
}

/** The added tokens in id order after the base vocabulary: n memory tokens, `<AE>`, `<ENC>`, `<SEP>`. */
export function claraAddedTokens(nMem: number): string[] {
  if (!Number.isInteger(nMem) || nMem < 1) throw new Error(`nMem must be a positive integer, got ${nMem}`);
  const tokens: string[] = [];
  for (let i = 0; i < nMem; i++) tokens.push(memToken(i));
  tokens.push(AE_TOKEN, ENC_TOKEN, SEP_TOKEN);
  return tokens;
}

/** A stretch of ordinary text (with its offset in the whole input) or one special token. */
export type TextPiece = { kind: 'text'; text: string; start: number } | { kind: 'special'; token: string };

/**
 * Cuts `text` at every occurrence of a special token. Where two tokens could match at the same place
 * the longer wins (`<MEM10>` before `<MEM1>`). Empty text stretches are dropped.
 */
export function splitOnSpecialTokens(text: string, specialTokens: readonly string[]): TextPiece[] {
  const pieces: TextPiece[] = [];
  if (specialTokens.length === 0) return text.length > 0 ? [{ kind: 'text', text, start: 0 }] : [];
  // A regex alternation tries its branches in order, so sorting longest first gives the longest match.
  const alternatives = [...specialTokens].sort((a, b) => b.length - a.length).map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(alternatives.join('|'), 'g');
  let cursor = 0;
  for (const match of text.matchAll(pattern)) {
    const at = match.index!;
    if (at > cursor) pieces.push({ kind: 'text', text: text.slice(cursor, at), start: cursor });
    pieces.push({ kind: 'special', token: match[0] });
    cursor = at + match[0].length;
  }
  if (cursor < text.length) pieces.push({ kind: 'text', text: text.slice(cursor), start: cursor });
  return pieces;
}
