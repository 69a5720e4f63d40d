import type { ClaraSpecialIds, Tokenizer } from './tokenizer.ts';

/**
 * A vocabulary known only by its size and its special ids, for a checkpoint that comes without a
 * tokenizer this project can read (an outside PEFT checkpoint traced on ids): everything that
 * works on ids works, and turning text into ids says that ids must be given.
 *
 * The ids come from the model's config.json (`vocab_size`, `bos_token_id`, `eos_token_id`,
 * `pad_token_id`; Mistral's 0, 1, 2 when absent) and from flags (the `<MEMi>` ids; `<AE>`,
 * `<ENC>`, `<SEP>`, −1 when not given: only prompts built from text need them).
 */
export interface IdsOnlyVocabulary {
  vocabSize: number;
  unkId?: number;
  bosId?: number;
  eosId?: number;
  padId?: number;
  special: ClaraSpecialIds;
}

export class IdsOnlyTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly special: ClaraSpecialIds;

  constructor(vocabulary: IdsOnlyVocabulary) {
    this.vocabSize = vocabulary.vocabSize;
    this.unkId = vocabulary.unkId ?? 0;
    this.bosId = vocabulary.bosId ?? 1;
    this.eosId = vocabulary.eosId ?? 2;
    this.padId = vocabulary.padId ?? this.bosId; // the official code pads with <s>
    this.special = vocabulary.special;
    for (const id of [...this.special.mem, this.unkId, this.bosId, this.eosId, this.padId]) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`special id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }

  get nMem(): number {
    return this.special.mem.length;
  }

  encode(): number[] {
    throw new Error('this model was loaded without a tokenizer (ids only): give token ids, not text');
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => this.idToToken(id)).join(' ');
  }

  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    const mem = this.special.mem.indexOf(id);
    return mem >= 0 ? `<MEM${mem}>` : `<${id}>`;
  }

  isSpecialId(id: number): boolean {
    const s = this.special;
    return [this.unkId, this.bosId, this.eosId, s.ae, s.enc, s.sep].includes(id) || s.mem.includes(id);
  }
}
