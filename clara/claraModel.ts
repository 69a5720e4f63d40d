import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, noGrad, normal, tensor, tidy, type Backend, type Parameter } from '../engine/index.ts';
import { atomicWriteFile, readJsonFile } from '../engine/io/index.ts';
import { isOfficialCheckpoint, loadOfficialCheckpoint } from './checkpoints/official.ts';
import { checkAdapterName, checkClaraJson, checkTokenizerAgreement } from './checkpointChecks.ts';
import { loadModel, saveAdapter, saveModel, type LoadModelOptions } from './model/checkpoint.ts';
import { PRESETS, type MistralConfig } from './model/config.ts';
import { DEFAULT_LORA, type LoraConfig } from './model/lora.ts';
import { MistralForCausalLM } from './model/mistral.ts';
import { loadAdapters } from './model/peftCheckpoint.ts';
import { CompactTokenizer, type CompactTokenizerJson } from './tokenizer/compactTokenizer.ts';
import { MistralTokenizer } from './tokenizer/mistralTokenizer.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';
import { WordTokenizer, type WordTokenizerJson } from './tokenizer/wordTokenizer.ts';

/**
 * A CLaRa model: one frozen backbone, its tokenizer (with the `<MEMi>`, `<AE>`, `<ENC>`, `<SEP>`
 * tokens), the CLaRa settings, and up to three LoRA adapters on the backbone (adapters.ts,
 * docs/clara.md §1): `encoder_adapter` (compressor), `decoder_adapter` (generator),
 * `query_reasoner_adapter`.
 *
 * On disk (a directory): the backbone in Hugging Face layout (config.json, model.safetensors),
 * `clara.json` (settings and stage), `tokenizer.json`, and `adapters/<name>/` in PEFT layout
 * (loading also finds PEFT's multi-adapter `<name>/`: model/peftCheckpoint.ts).
 */
export interface ClaraSettings {
  /** Document tokens the compressor reads (official: 256); longer documents are cut. */
  docMaxLength: number;
  /** Document tokens per memory token; n = docMaxLength / compressionRate. */
  compressionRate: number;
  /** Question tokens the query reasoner reads. */
  questionMaxLength: number;
  /** k: documents the generator reads per question. */
  generationTopK: number;
  lora: LoraConfig;
  /** The last training stage this model went through (0 = none). */
  stage: number;
}

export const DEFAULT_SETTINGS: ClaraSettings = {
  docMaxLength: 256,
  compressionRate: 16,
  questionMaxLength: 256,
  generationTopK: 5,
  lora: DEFAULT_LORA,
  stage: 0,
};

/** n, the number of memory tokens per document. */
export function memoryTokenCount(settings: Pick<ClaraSettings, 'docMaxLength' | 'compressionRate'>): number {
  const n = settings.docMaxLength / settings.compressionRate;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(
      `compression rate ${settings.compressionRate} must divide the document length ${settings.docMaxLength} (n = doc length / rate memory tokens)`,
    );
  }
  return n;
}

type TokenizerJson = { kind: 'mistral'; nMem: number } | ({ kind: 'compact' } & CompactTokenizerJson) | ({ kind: 'word' } & WordTokenizerJson);

/** The vocabularies a model trained from scratch can have: Mistral's pieces renumbered, or whole words. */
export type ScratchTokenizerKind = 'compact' | 'word';

export class ClaraModel {
  constructor(
    readonly backbone: MistralForCausalLM,
    readonly tokenizer: Tokenizer,
    public settings: ClaraSettings,
  ) {
    if (tokenizer.vocabSize > backbone.config.vocab_size) {
      throw new Error(`ClaraModel: the tokenizer has ${tokenizer.vocabSize} tokens but the backbone's vocab_size is ${backbone.config.vocab_size}`);
    }
  }

  get nMem(): number {
    return this.tokenizer.nMem;
  }

  /**
   * A model with a randomly initialised, frozen backbone and a compact vocabulary built from
   * `texts` (every text the run will tokenize): the way to train CLaRa from scratch on a CPU.
   * The new tokens' embedding and lm_head rows start at the mean of the other rows plus a little
   * noise, which breaks the symmetry between the memory tokens. `tokenizer` chooses the vocabulary:
   * `'compact'` (default, Mistral's pieces that the texts use) or `'word'` (one token per word and
   * punctuation mark, see tokenizer/wordTokenizer.ts).
   */
  static fromScratch(options: {
    texts: Iterable<string>;
    base: MistralConfig | keyof typeof PRESETS;
    settings?: Partial<ClaraSettings>;
    seed?: number;
    backend?: Backend;
    tokenizer?: ScratchTokenizerKind;
  }): ClaraModel {
    const settings = { ...DEFAULT_SETTINGS, ...options.settings };
    const kind = options.tokenizer ?? 'compact';
    if (kind !== 'compact' && kind !== 'word') throw new Error(`unknown tokenizer kind '${String(kind)}' (known: compact, word)`);
    const nMem = memoryTokenCount(settings);
    const tokenizer = kind === 'word' ? WordTokenizer.fromTexts(options.texts, { nMem }) : CompactTokenizer.fromTexts(options.texts, { nMem });
    const base = typeof options.base === 'string' ? PRESETS[options.base] : options.base;
    if (base === undefined) throw new Error(`unknown backbone preset '${String(options.base)}' (known: ${Object.keys(PRESETS).join(', ')})`);
    const rng = new Generator(options.seed ?? 0);
    const backbone = new MistralForCausalLM({ ...base, vocab_size: tokenizer.vocabSize }, { rng, backend: options.backend });
    if (!backbone.config.tie_word_embeddings) widenFrozenHead(backbone, rng);
    const added = [...tokenizer.special.mem, tokenizer.special.ae, tokenizer.special.enc, tokenizer.special.sep];
    initialiseAddedRows(backbone, added, rng);
    return new ClaraModel(backbone, tokenizer, settings);
  }

  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await saveModel(this.backbone, dir);
    for (const name of this.backbone.adapterNames()) {
      await saveAdapter(this.backbone, checkAdapterName(name, dir), join(dir, 'adapters', name));
    }
    const tok: TokenizerJson =
      this.tokenizer instanceof CompactTokenizer
        ? { kind: 'compact', ...this.tokenizer.toJSON() }
        : this.tokenizer instanceof WordTokenizer
          ? { kind: 'word', ...this.tokenizer.toJSON() }
          : { kind: 'mistral', nMem: this.nMem };
    const write = (file: string, value: unknown) => atomicWriteFile(join(dir, file), [new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)]);
    write('tokenizer.json', tok);
    write('clara.json', { ...this.settings, adapters: this.backbone.adapterNames() });
  }

  /**
   * Loads a model saved by `save`, or a released CLaRa checkpoint (a config.json of model_type
   * "CLaRa" beside adapters.pth), whose base model comes from `options.base` (checkpoints/official.ts).
   * `options.dtype`: `bfloat16` keeps the base's matrices 16-bit (clara/model/checkpoint.ts loadModel).
   */
  static load(dir: string, options: LoadModelOptions & { base?: string } = {}): ClaraModel {
    if (isOfficialCheckpoint(dir)) {
      const { backbone, tokenizer, settings } = loadOfficialCheckpoint(dir, options);
      return new ClaraModel(backbone, tokenizer, { ...DEFAULT_SETTINGS, ...settings });
    }
    const read = (file: string, what: string): unknown => {
      const path = join(dir, file);
      if (!existsSync(path)) throw new Error(`${dir}: not a CLaRa model directory (no ${file})`);
      return readJsonFile(path, what);
    };
    const { settings, adapters } = checkClaraJson(read('clara.json', 'the model settings'), join(dir, 'clara.json'), DEFAULT_SETTINGS);
    const tok = read('tokenizer.json', 'the tokenizer') as TokenizerJson;
    const tokenizer =
      tok.kind === 'compact' ? CompactTokenizer.fromJSON(tok) : tok.kind === 'word' ? WordTokenizer.fromJSON(tok) : new MistralTokenizer({ nMem: tok.nMem });
    checkTokenizerAgreement(settings, tokenizer, dir);
    const backbone = loadModel(dir, options);
    loadAdapters(backbone, dir, adapters); // adapters/<name>/, or PEFT's <name>/
    return new ClaraModel(backbone, tokenizer, settings);
  }
}

/**
 * The std of a from-scratch model's lm_head rows. The head is frozen, and the final RMSNorm gives
 * states of norm √d, so the largest logit margin a row of norm |w| allows is about √d·|w|. With
 * nn.Linear's kaiming initialisation (|w| ≈ 1/√3) that is √(d/3) ≈ 6.5 for d = 128: too small to
 * make any token confident among a thousand, which floors the cross-entropy near 1 nat per token and
 * starves training of signal (stage 1 then never learns to read its documents). Rows of std 0.3
 * allow margins of about 0.3·d (38 for d = 128). Measured on a 20-document corpus, 300 steps: CE 0.13
 * and first-answer-token accuracy 0.92 with the gold document (0.40 with a wrong one), against CE 1.27
 * and 0.33 (0.25) with the kaiming head.
 */
const FROM_SCRATCH_HEAD_STD = 0.3;

function widenFrozenHead(backbone: MistralForCausalLM, rng: Generator): void {
  const head = backbone.lmHead;
  noGrad(() => tidy(() => head.assign(normal(head.shape, { std: FROM_SCRATCH_HEAD_STD, generator: rng, backend: head.backend, dtype: head.dtype }))));
}

/** Embedding and lm_head rows of new tokens = mean of the existing rows + N(0, 0.02²) noise. */
function initialiseAddedRows(backbone: MistralForCausalLM, rows: readonly number[], rng: Generator): void {
  const isAdded = new Uint8Array(backbone.config.vocab_size);
  for (const r of rows) isAdded[r] = 1;
  const d = backbone.config.hidden_size;
  for (const param of new Set([backbone.model.embedTokens.weight, backbone.lmHead])) {
    noGrad(() =>
      tidy(() => {
        const keep = tensor(
          isAdded.map((v) => 1 - v),
          [isAdded.length, 1],
          { dtype: 'float32', backend: param.backend },
        ).cast(param.dtype);
        const mean = param.mul(keep).sum(0, true).div(keep.sum()); // [1, d]
        const noise = normal([isAdded.length, d], { generator: rng, std: 0.02, backend: param.backend, dtype: param.dtype });
        const fresh = mean.add(noise);
        param.assign(param.mul(keep).add(fresh.mul(keep.neg().add(1))));
      }),
    );
  }
}

/**
 * Pairs each parameter to train with its name in the model, which keys the optimiser state:
 * adapter parameters as `<adapter>.<PEFT key>`, the others by their module path.
 */
export function nameParameters(clara: ClaraModel, params: readonly Parameter[]): Array<[string, Parameter]> {
  const model = clara.backbone;
  const names = new Map<Parameter, string>();
  for (const [name, p] of model.namedParameters()) names.set(p, name);
  for (const adapter of model.adapterNames()) {
    for (const [key, p] of model.adapterParameters(adapter)) names.set(p, `${adapter}.${key}`);
  }
  return params.map((p) => {
    const name = names.get(p);
    if (name === undefined) throw new Error('nameParameters: a parameter to train is not part of the model');
    return [name, p];
  });
}

/** The model's parameters not in `trained` (the frozen backbone, adapters not trained), named as `nameParameters` does. */
export function otherParameters(clara: ClaraModel, trained: ReadonlyArray<readonly [string, Parameter]>): Array<[string, Parameter]> {
  const model = clara.backbone;
  const every = new Set([...model.parameters(), ...model.adapterNames().flatMap((a) => model.adapterParameters(a).map(([, p]) => p))]);
  const all = nameParameters(clara, [...every]);
  const training = new Set(trained.map(([, p]) => p));
  return all.filter(([, p]) => !training.has(p));
}
