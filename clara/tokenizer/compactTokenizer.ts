/**
 * A small vocabulary for models trained from scratch: the Mistral ids a corpus actually uses,
 * renumbered 0..V-1. A 300-entity synthetic corpus uses a few hundred of Mistral's 32000 pieces, so
 * the embedding table and the lm_head shrink a hundredfold and CPU training gets fast, while the text
 * is still cut exactly as Mistral cuts it.
 *
 * Compact id layout (V = 3 + U + n + 3, U the number of Mistral pieces kept):
 *   0 `<unk>`, 1 `<s>`, 2 `</s>`,
 *   3 … 2+U      the kept Mistral pieces, in increasing Mistral id,
 *   3+U … 2+U+n  `<MEM0>` … `<MEM{n-1}>`, then `<AE>`, `<ENC>`, `<SEP>` (docs/clara.md §2).
 * A piece that the corpus never used becomes `<unk>` at encode time. The map (the kept Mistral ids)
 * is saved with the checkpoint as JSON (`toJSON` / `fromJSON`).
 *
 * Build it from the texts exactly as they will be tokenized (see `claraTextsForVocabulary`): the same
 * word is a different piece at the start of a stretch (`Where`) and after a space (`▁Where`).
 */
import type { ClaraSpecialIds, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.ts';
import { MISTRAL_BASE_VOCAB_SIZE, MistralTokenizer, type DummyPrefixMode } from './mistralTokenizer.ts';

/** The JSON form saved next to a checkpoint. */
export interface CompactTokenizerJson {
  format: 'clara-compact-tokenizer';
  version: 1;
  nMem: number;
  dummyPrefix: DummyPrefixMode;
  /** Mistral ids of the kept pieces, increasing; compact id of `mistralIds[i]` is 3 + i. */
  mistralIds: number[];
}

export interface CompactTokenizerBuildOptions {
  nMem: number;
  dummyPrefix?: DummyPrefixMode;
}

/** Compact ids 0, 1, 2 are `<unk>`, `<s>`, `</s>`, as in Mistral. */
const FIRST_KEPT_ID = 3;

export class CompactTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  /** Pads with `<s>`, as the official code does with Mistral (padding is masked anyway). */
  readonly padId = 1;
  readonly nMem: number;
  readonly special: ClaraSpecialIds;
  /** The full Mistral tokenizer that does the cutting; its ids are then renumbered. */
  readonly base: MistralTokenizer;

  /** `mistralIdOf[compactId]`, for every compact id. */
  private readonly mistralIdOf: number[];
  /** Compact id of a Mistral id (special ones included); absent means `<unk>`. */
  private readonly compactIdOf: Map<number, number>;

  constructor(mistralIds: readonly number[], options: CompactTokenizerBuildOptions) {
    this.base = new MistralTokenizer(options);
    this.nMem = options.nMem;
    const kept = [...new Set(mistralIds)].sort((a, b) => a - b);
    for (const id of kept) {
      if (!Number.isInteger(id) || id < FIRST_KEPT_ID || id >= MISTRAL_BASE_VOCAB_SIZE) {
        throw new Error(`CompactTokenizer: kept ids must be ordinary Mistral pieces in [3, 32000), got ${id}`);
      }
    }
    const addedMistralIds = [...this.base.special.mem, this.base.special.ae, this.base.special.enc, this.base.special.sep];
    this.mistralIdOf = [this.base.unkId, this.base.bosId, this.base.eosId, ...kept, ...addedMistralIds];
    this.compactIdOf = new Map(this.mistralIdOf.map((mistralId, compactId) => [mistralId, compactId]));
    this.vocabSize = this.mistralIdOf.length;
    const firstAdded = FIRST_KEPT_ID + kept.length;
    const n = options.nMem;
    this.special = {
      mem: Array.from({ length: n }, (_, i) => firstAdded + i),
      ae: firstAdded + n,
      enc: firstAdded + n + 1,
      sep: firstAdded + n + 2,
    };
  }

  /** Keeps every Mistral piece that tokenizing `texts` produces. */
  static fromTexts(texts: Iterable<string>, options: CompactTokenizerBuildOptions): CompactTokenizer {
    const base = new MistralTokenizer(options);
    const used = new Set<number>();
    for (const text of texts) {
      for (const id of base.encode(text, { addBos: false })) if (!base.isSpecialId(id)) used.add(id);
    }
    return new CompactTokenizer([...used], options);
  }

  static fromJSON(json: CompactTokenizerJson): CompactTokenizer {
    if (json.format !== 'clara-compact-tokenizer' || json.version !== 1) {
      throw new Error(`not a compact tokenizer file (format ${String(json.format)}, version ${String(json.version)})`);
    }
    return new CompactTokenizer(json.mistralIds, { nMem: json.nMem, dummyPrefix: json.dummyPrefix });
  }

  toJSON(): CompactTokenizerJson {
    return {
      format: 'clara-compact-tokenizer',
      version: 1,
      nMem: this.nMem,
      dummyPrefix: this.base.dummyPrefix,
      mistralIds: this.mistralIdOf.slice(FIRST_KEPT_ID, FIRST_KEPT_ID + this.keptCount),
    };
  }

  /** U, the number of Mistral pieces kept. */
  get keptCount(): number {
    return this.vocabSize - FIRST_KEPT_ID - (this.nMem + 3);
  }

  encode(text: string, options?: EncodeOptions): number[] {
    return this.base.encode(text, options).map((id) => this.compactIdOf.get(id) ?? this.unkId);
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    return this.base.decode(
      ids.map((id) => this.toMistralId(id)),
      options,
    );
  }

  idToToken(id: number): string {
    return this.base.idToToken(this.toMistralId(id));
  }

  isSpecialId(id: number): boolean {
    return this.base.isSpecialId(this.toMistralId(id));
  }

  /** The Mistral id behind a compact id. */
  toMistralId(compactId: number): number {
    const id = this.mistralIdOf[compactId];
    if (!Number.isInteger(compactId) || id === undefined) {
      throw new RangeError(`token id ${compactId} is outside the vocabulary [0, ${this.vocabSize})`);
    }
    return id;
  }
}
