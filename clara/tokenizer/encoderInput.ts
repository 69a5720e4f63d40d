/**
 * The compressor's input (docs/clara.md §2): for each document the text `<ENC><s>document</s>`,
 * tokenized without adding special tokens, right-truncated to doc_max_length+3 tokens (so a long
 * document loses its `</s>`), left-padded, then the n ids `<MEM0>…<MEM{n-1}>` appended with
 * attention 1:
 *
 *     [pad … pad | <ENC> <s> t1 … tm </s> | <MEM0> … <MEM{n-1}>]
 *
 * The query reasoner reads a question in the same layout (`<ENC><s>question</s><MEM…>`); the official
 * code gives questions doc_max_length at inference and 1024 in stage-3 training: pass that as
 * `maxTextLength`. Padding positions hold `tokenizer.padId` with attention 0.
 */
import { BOS_TOKEN, ENC_TOKEN, EOS_TOKEN } from './addedTokens.ts';
import type { Tokenizer } from './tokenizer.ts';
import { encodePrefix } from './tokenPrefix.ts';

/** `<ENC><s>text</s>`, the string the compressor tokenizes. */
export function encoderText(text: string): string {
  return `${ENC_TOKEN}${BOS_TOKEN}${text}${EOS_TOKEN}`;
}

/** A batch of compressor inputs, all of one length T (+ n memory tokens). */
export interface EncoderBatch {
  /** (B, T + n) token ids, left-padded. */
  inputIds: number[][];
  /** (B, T + n) 1 on real tokens and memory tokens, 0 on padding. */
  attentionMask: number[][];
  /** (B, n) positions of `<MEM0>`…`<MEM{n-1}>` in each row (the same for every row: the last n). */
  memoryPositions: number[][];
  /** Rows whose text was longer than maxTextLength and was cut; absent when none was (or the batch was built from ids). */
  truncated?: number;
}

export interface EncoderInputOptions {
  /** Longest text kept, in tokens, before the three framing tokens (official: doc_max_length = 256). */
  maxTextLength: number;
  /**
   * `'max_length'` pads every row to maxTextLength+3 as the official code does; `'longest'` pads only
   * to the longest row of the batch (same result, since padding is masked and RoPE is relative).
   */
  padding?: 'max_length' | 'longest';
}

/** Builds the compressor (or query reasoner) input for a batch of texts. */
export function buildEncoderBatch(tokenizer: Tokenizer, texts: readonly string[], options: EncoderInputOptions): EncoderBatch {
  const limit = options.maxTextLength + 3;
  const prefixes = texts.map((text) => encodePrefix(tokenizer, encoderText(text), limit, { addBos: false }));
  const rows = prefixes.map((p) => p.ids);
  const width = (options.padding ?? 'max_length') === 'max_length' ? limit : Math.max(0, ...rows.map((r) => r.length));
  const mem = tokenizer.special.mem;
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const memoryPositions: number[][] = [];
  for (const row of rows) {
    const padCount = width - row.length;
    inputIds.push([...new Array<number>(padCount).fill(tokenizer.padId), ...row, ...mem]);
    attentionMask.push([...new Array<number>(padCount).fill(0), ...new Array<number>(row.length + mem.length).fill(1)]);
    memoryPositions.push(mem.map((_, i) => width + i));
  }
  const truncated = prefixes.filter((p) => p.truncated).length;
  return { inputIds, attentionMask, memoryPositions, ...(truncated > 0 ? { truncated } : {}) };
}
