/**
 * The tokenizer a Hugging Face model folder ships: `tokenizer.json` (the fast tokenizer: model,
 * normalizer, pre-tokenizer, decoder, added tokens) and `tokenizer_config.json` (bos/eos/pad, the
 * chat template), read with @huggingface/tokenizers (tokenizers.js, a pure-JS port of Hugging Face's
 * `tokenizers` that reads the same file), so the ids are the ones the official PyTorch code gets.
 *
 * CLaRa's added tokens, as the official code adds them (apple/ml-clara modeling_clara.py
 * `_create_decoder_tokenizer`: `add_special_tokens({'additional_special_tokens': existing + mem +
 * ['<AE>', '<ENC>', '<SEP>']})`): `<MEM0>`…`<MEM{n-1}>`, `<AE>`, `<ENC>`, `<SEP>`, special, never
 * normalized or split. A released checkpoint folder was saved with them already in its files; a
 * base model's folder (Mistral-7B-Instruct-v0.2) has none. Both are accepted: a token already in the
 * file keeps its id, a missing one gets the next free id, in that order, as Hugging Face's
 * `add_special_tokens` gives it (Mistral: `<MEM0>` = 32000, …, `<SEP>` = 32002 + n).
 *
 * How the text is cut is whatever the file says. Mistral's file is the legacy conversion of its
 * SentencePiece model (normalizer `Prepend("▁")` + `Replace(" ", "▁")`, no pre-tokenizer): the text
 * is cut at the added tokens first and each stretch is normalized on its own, so every stretch gets
 * the dummy prefix, the one after `<s>` or `<MEM3>` included (`<s> [INST]` is `<s> ▁ ▁[ INST ]`).
 * This is the `'every-segment'` mode of mistralTokenizer.ts, and what the official code trained on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as TokenizersJs } from '@huggingface/tokenizers';
import { readJsonFile } from '../../engine/io/index.ts';
import { BOS_TOKEN, EOS_TOKEN, UNK_TOKEN, claraAddedTokens } from './addedTokens.ts';
import { ChatTemplate, type ChatTemplateTokens } from './chatTemplate.ts';
import type { ClaraSpecialIds, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.ts';

const TOKENIZER_FILE = 'tokenizer.json';
const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** One entry of tokenizer.json's `added_tokens`. */
interface AddedTokenEntry {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** The parts of tokenizer.json read here; the rest goes to tokenizers.js as it is. */
interface TokenizerJsonFile {
  model: { vocab?: Record<string, number> | [string, number][] };
  added_tokens?: AddedTokenEntry[];
  [key: string]: unknown;
}

/** tokenizer_config.json; a special token is a string or, in older files, `{content: …}`. */
type TokenizerConfigFile = Record<string, unknown>;

/** What `clara inspect` says about a folder's tokenizer. */
export interface HuggingFaceTokenizerSummary {
  file: string;
  vocabSize: number;
  /** The CLaRa tokens with their ids, and whether the folder's file held them or they were added here. */
  claraTokens: { first: string; last: string; firstId: number; lastId: number; inFile: boolean };
  /** How many added tokens there are, CLaRa's included. */
  addedTokens: number;
  chatTemplate: boolean;
}

export class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly nMem: number;
  readonly special: ClaraSpecialIds;
  /** The folder's chat template; absent when its tokenizer_config.json has none. */
  readonly chatTemplate?: ChatTemplate;
  readonly summary: HuggingFaceTokenizerSummary;

  private readonly tokenizer: TokenizersJs;
  /** Ids of the added tokens marked special (`<unk>`, `<s>`, `</s>`, the CLaRa tokens, …). */
  private readonly specialIds: Set<number>;

  /** `file` names tokenizer.json in messages; `config` is tokenizer_config.json's content ({} if none). */
  constructor(json: TokenizerJsonFile, config: TokenizerConfigFile, options: { nMem: number; file: string }) {
    this.nMem = options.nMem;
    const added = [...(json.added_tokens ?? [])];
    const vocab = json.model?.vocab;
    if (vocab === undefined || typeof vocab !== 'object') throw new Error(`${options.file}: no model vocabulary (not a Hugging Face tokenizer.json)`);
    // BPE and WordPiece files map token → id; Unigram files list [token, score] pairs, ids by position.
    let nextId = Array.isArray(vocab) ? vocab.length : 0;
    for (const id of Array.isArray(vocab) ? [] : Object.values(vocab)) nextId = Math.max(nextId, id + 1);
    for (const t of added) nextId = Math.max(nextId, t.id + 1);
    const claraTokens = claraAddedTokens(options.nMem);
    const claraInFile = claraTokens.every((token) => added.some((t) => t.content === token));
    for (const content of claraTokens) {
      if (!added.some((t) => t.content === content)) {
        added.push({ id: nextId++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      }
    }
    this.tokenizer = new TokenizersJs({ ...json, added_tokens: added }, config);
    this.vocabSize = nextId;
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));

    const idOf = (token: string): number => {
      const id = this.tokenizer.token_to_id(token);
      if (id === undefined) throw new Error(`${options.file}: no token ${token}`);
      return id;
    };
    const tokens = specialTokenStrings(config);
    this.unkId = idOf(tokens.unk_token ?? UNK_TOKEN);
    this.bosId = idOf(tokens.bos_token ?? BOS_TOKEN);
    this.eosId = idOf(tokens.eos_token ?? EOS_TOKEN);
    // Mistral has no pad token: the official code pads with <s> (`pad_token_id = bos_token_id`).
    this.padId = tokens.pad_token === undefined ? this.bosId : idOf(tokens.pad_token);
    const n = options.nMem;
    this.special = {
      mem: claraTokens.slice(0, n).map(idOf),
      ae: idOf(claraTokens[n]!),
      enc: idOf(claraTokens[n + 1]!),
      sep: idOf(claraTokens[n + 2]!),
    };
    const template = chatTemplateSource(config);
    if (template !== undefined) this.chatTemplate = new ChatTemplate(template, tokens, options.file.replace(TOKENIZER_FILE, TOKENIZER_CONFIG_FILE));
    this.summary = {
      file: options.file,
      vocabSize: this.vocabSize,
      claraTokens: { first: claraTokens[0]!, last: claraTokens.at(-1)!, firstId: this.special.mem[0]!, lastId: this.special.sep, inFile: claraInFile },
      addedTokens: added.length,
      chatTemplate: template !== undefined,
    };
  }

  /** Reads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`. */
  static fromFolder(dir: string, options: { nMem: number }): HuggingFaceTokenizer {
    const file = join(dir, TOKENIZER_FILE);
    const configFile = join(dir, TOKENIZER_CONFIG_FILE);
    const json = readJsonFile(file, 'the tokenizer') as TokenizerJsonFile;
    const config = existsSync(configFile) ? (readJsonFile(configFile, 'the tokenizer config') as TokenizerConfigFile) : {};
    return new HuggingFaceTokenizer(json, config, { nMem: options.nMem, file });
  }

  /** Ids without special tokens added (HF `add_special_tokens=False`), then `<s>` in front unless `addBos` is false. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    // `<s>` is put in front here rather than by the file's post-processor, so a tokenizer.json that
    // lacks one (LlamaConverter leaves it to the Python class) behaves the same.
    return (options.addBos ?? true) ? [this.bosId, ...ids] : ids;
  }

  /** Hugging Face's `decode`: the file's decoder chain over every token (or every non-special one). */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) this.checkId(id);
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  idToToken(id: number): string {
    this.checkId(id);
    return this.tokenizer.id_to_token(id) ?? UNK_TOKEN;
  }

  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }
}

/**
 * The folder's Hugging Face tokenizer, from the first of `dirs` whose tokenizer.json is Hugging
 * Face's (this project's own model folders write a tokenizer.json of another kind); undefined if none.
 */
export function findHuggingFaceTokenizer(dirs: readonly string[], options: { nMem: number }): HuggingFaceTokenizer | undefined {
  for (const dir of dirs) {
    if (isHuggingFaceTokenizerFolder(dir)) return HuggingFaceTokenizer.fromFolder(dir, options);
  }
  return undefined;
}

/** True when `dir/tokenizer.json` is a Hugging Face tokenizer file (it has a `model`). */
function isHuggingFaceTokenizerFolder(dir: string): boolean {
  const file = join(dir, TOKENIZER_FILE);
  if (!existsSync(file)) return false;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8'));
    return typeof json?.model === 'object' && json.model !== null;
  } catch {
    return false;
  }
}

/** bos/eos/unk/pad as strings (a file may give `{content: "<s>", …}`), and the additional special tokens. */
function specialTokenStrings(config: TokenizerConfigFile): ChatTemplateTokens {
  const text = (value: unknown): string | undefined =>
    typeof value === 'string'
      ? value
      : typeof (value as { content?: unknown } | null)?.content === 'string'
        ? (value as { content: string }).content
        : undefined;
  const tokens: ChatTemplateTokens = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const) {
    const value = text(config[key]);
    if (value !== undefined) tokens[key] = value;
  }
  const additional = config.additional_special_tokens;
  if (Array.isArray(additional)) tokens.additional_special_tokens = additional.map(text).filter((t): t is string => t !== undefined);
  return tokens;
}

/** `chat_template`: one string, or a list of named templates of which transformers uses `default`. */
function chatTemplateSource(config: TokenizerConfigFile): string | undefined {
  const value = config.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => (t as { name?: unknown })?.name === 'default') as { template?: unknown } | undefined;
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}
