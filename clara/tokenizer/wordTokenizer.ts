/**
 * A word-level vocabulary for models trained from scratch on a small corpus (the kind the
 * toy-scale trial used): every whitespace-prefixed word and every punctuation mark of the corpus is
 * one token, and CLaRa's special tokens stay atomic. Invented names, towns and years, which Mistral's
 * pieces cut into many tokens, become one token each, and sequences get about 40 % shorter than with
 * `CompactTokenizer`. Not Mistral's cut, so only for models that never meet Mistral's weights.
 *
 * Cutting (SentencePiece-like, so that decoding gives the text back exactly): a space becomes `▁`
 * and sticks to what follows it; the text between special tokens is cut into
 *   - `▁`? followed by a run of letters and digits (`▁Zorbek`, `▁1957`, `Question`),
 *   - `▁`? followed by one other character (`▁[`, `]`, `?`, `\n`, `:`),
 *   - a `▁` left over (a space before a space or at the end of the text).
 * No dummy prefix is added anywhere. A piece the vocabulary lacks becomes `<unk>`.
 *
 * Id layout (V = 3 + U + n + 3, U the number of pieces kept):
 *   0 `<unk>`, 1 `<s>`, 2 `</s>`,
 *   3 … 2+U      the kept pieces, in sorted order (code units),
 *   3+U … 2+U+n  `<MEM0>` … `<MEM{n-1}>`, then `<AE>`, `<ENC>`, `<SEP>` (docs/clara.md §2).
 * The piece list is saved with the checkpoint as JSON (`toJSON` / `fromJSON`).
 */
import { BOS_TOKEN, EOS_TOKEN, UNK_TOKEN, claraAddedTokens, splitOnSpecialTokens } from './addedTokens.ts';
import type { ClaraSpecialIds, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.ts';

/** The JSON form saved next to a checkpoint. */
export interface WordTokenizerJson {
  format: 'clara-word-tokenizer';
  version: 1;
  nMem: number;
  /** The kept pieces (with `▁` for a leading space); the id of `pieces[i]` is 3 + i. */
  pieces: string[];
}

const SPACE_MARK = '\u2581';
const FIRST_KEPT_ID = 3;
const PIECE = /\u2581?[\p{L}\p{N}]+|\u2581?[^\p{L}\p{N}\u2581]|\u2581/gsu;

/** Cuts ordinary text (no special tokens in it) into word-level pieces. */
export function wordPieces(text: string): string[] {
  return text.replaceAll(' ', SPACE_MARK).match(PIECE) ?? [];
}

export class WordTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  /** Pads with `<s>`, as the other tokenizers do (padding is masked anyway). */
  readonly padId = 1;
  readonly nMem: number;
  readonly special: ClaraSpecialIds;

  /** `tokenOf[id]`: the piece or special-token string of every id. */
  private readonly tokenOf: string[];
  private readonly pieceId: Map<string, number>;
  private readonly specialId: Map<string, number>;
  private readonly specialStrings: string[];

  constructor(pieces: Iterable<string>, options: { nMem: number }) {
    this.nMem = options.nMem;
    const added = claraAddedTokens(options.nMem);
    const kept = [...new Set(pieces)].sort();
    for (const piece of kept) {
      if (wordPieces(piece.replaceAll(SPACE_MARK, ' ')).length !== 1 || piece.includes(' ')) {
        throw new Error(`WordTokenizer: ${JSON.stringify(piece)} is not a single word-level piece`);
      }
    }
    this.tokenOf = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, ...kept, ...added];
    this.vocabSize = this.tokenOf.length;
    this.pieceId = new Map(kept.map((piece, i) => [piece, FIRST_KEPT_ID + i]));
    const firstAdded = FIRST_KEPT_ID + kept.length;
    this.specialId = new Map([[UNK_TOKEN, 0], [BOS_TOKEN, 1], [EOS_TOKEN, 2], ...added.map((t, i) => [t, firstAdded + i] as [string, number])]);
    this.specialStrings = [...this.specialId.keys()];
    const n = options.nMem;
    this.special = {
      mem: Array.from({ length: n }, (_, i) => firstAdded + i),
      ae: firstAdded + n,
      enc: firstAdded + n + 1,
      sep: firstAdded + n + 2,
    };
  }

  /** Keeps every piece that cutting `texts` produces (special tokens in them are recognised, not kept). */
  static fromTexts(texts: Iterable<string>, options: { nMem: number }): WordTokenizer {
    const specials = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, ...claraAddedTokens(options.nMem)];
    const used = new Set<string>();
    for (const text of texts) {
      for (const part of splitOnSpecialTokens(text, specials)) {
        if (part.kind === 'text') for (const piece of wordPieces(part.text)) used.add(piece);
      }
    }
    return new WordTokenizer(used, options);
  }

  static fromJSON(json: WordTokenizerJson): WordTokenizer {
    if (json.format !== 'clara-word-tokenizer' || json.version !== 1) {
      throw new Error(`not a word tokenizer file (format ${String(json.format)}, version ${String(json.version)})`);
    }
    return new WordTokenizer(json.pieces, { nMem: json.nMem });
  }

  toJSON(): WordTokenizerJson {
    return { format: 'clara-word-tokenizer', version: 1, nMem: this.nMem, pieces: this.tokenOf.slice(FIRST_KEPT_ID, FIRST_KEPT_ID + this.keptCount) };
  }

  /** U, the number of pieces kept. */
  get keptCount(): number {
    return this.vocabSize - FIRST_KEPT_ID - (this.nMem + 3);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = (options.addBos ?? true) ? [this.bosId] : [];
    for (const part of splitOnSpecialTokens(text, this.specialStrings)) {
      if (part.kind === 'special') ids.push(this.specialId.get(part.token)!);
      else for (const piece of wordPieces(part.text)) ids.push(this.pieceId.get(piece) ?? this.unkId);
    }
    return ids;
  }

  /** Pieces joined, `▁` back to a space; special tokens written by name unless skipped. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    let out = '';
    for (const id of ids) {
      const token = this.idToToken(id);
      if (this.isSpecialId(id)) {
        if (!skip) out += token;
      } else {
        out += token.replaceAll(SPACE_MARK, ' ');
      }
    }
    return out;
  }

  idToToken(id: number): string {
    const token = Number.isInteger(id) ? this.tokenOf[id] : undefined;
    if (token === undefined) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return token;
  }

  isSpecialId(id: number): boolean {
    return id < FIRST_KEPT_ID || (id >= FIRST_KEPT_ID + this.keptCount && id < this.vocabSize);
  }
}
