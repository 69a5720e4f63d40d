import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tensor, type Backend } from '../../engine/index.ts';
import { isTorchTensor, readJsonFile, readTorchSaveFile, TensorStream, torchTensorToHost, type TorchTensor } from '../../engine/io/index.ts';
import { QUERY_REASONER_ADAPTER, ENCODER_ADAPTER } from '../adapters.ts';
import { loadConfigFromDir, loadModelFrom, type LoadDType, type WeightSource } from '../model/checkpoint.ts';
import type { LoraConfig } from '../model/lora.ts';
import type { MistralForCausalLM } from '../model/mistral.ts';
import { findHuggingFaceTokenizer } from '../tokenizer/huggingFaceTokenizer.ts';
import { MISTRAL_BASE_VOCAB_SIZE, MistralTokenizer } from '../tokenizer/mistralTokenizer.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

/**
 * The released CLaRa checkpoints (apple/CLaRa-7B-{Base,Instruct,E2E}, each with compression-16/ and
 * compression-128/; docs/clara.md §9), as `CLaRa.save_pretrained` writes them in apple/ml-clara
 * openrlhf/models/modeling_clara.py:
 *
 *   config.json                    a CLaRaConfig: model_type "CLaRa", decoder_model_name, doc_max_length,
 *                                  compr_rate, training_stage, generation_top_k, lora_r, …
 *   adapters.pth                   torch.save({adapter name: decoder.get_adapter_state_dict(name)})
 *   decoder_first_last_layers.pth  torch.save({"model.embed_tokens.weight", "lm_head.weight"}), [V, d]
 *
 * and the base model (Mistral-7B-Instruct-v0.2) in its own Hugging Face folder. V = V0 + n + 3: the
 * base vocabulary, then `<MEM0>`…`<MEM{n-1}>`, `<AE>`, `<ENC>`, `<SEP>` (`_create_decoder_tokenizer`),
 * n = doc_max_length // compr_rate (16 or 2 for the released 256-token documents at 16 and 128).
 *
 * Adapter keys. `get_adapter_state_dict` gives PEFT keys without the adapter name
 * (`model.layers.{i}.self_attn.q_proj.lora_A.weight`); the official loader passes them to
 * `load_adapter`, which also strips a `base_model.model.` prefix, and PEFT accepts keys that still
 * name the adapter (`lora_A.<name>.weight`). All three forms are read here.
 *
 * Every adapter in the file is loaded. The official `from_pretrained` skips the saved
 * `decoder_adapter` of a `stage1_2` (Instruct) checkpoint unless the config says `pure_inference`
 * (docs/clara.md §11.3): that would answer with an untrained generator, so it is not reproduced. A
 * `stage2` checkpoint without a query reasoner gets a copy of the encoder adapter, as the official
 * `_handle_query_reasoner_adapter_loading` does. LoRA: r = lora_r, α = 2r, dropout 0.1
 * (`_get_peft_config`).
 *
 * The frozen weights load as `loadModel` loads a Hugging Face folder (clara/model/checkpoint.ts, one
 * logic): the base's shards streamed tensor by tensor, the embedding table and lm_head taken from
 * decoder_first_last_layers.pth instead (streamed too: a .pth tensor is read when it is loaded), each
 * held as `dtype` says (`auto`: 16-bit, as the released
 * bf16 files are stored; `float32`: widened, exactly) and a 16-bit table larger than the backend's
 * largest tensor held as row blocks; the memory check counts the float32 adapters too.
 *
 * The tokenizer is the folder's own: the checkpoint's tokenizer.json (saved with the CLaRa tokens in
 * it), else the base's (the CLaRa tokens then added after its vocabulary, as the official code adds
 * them), with the chat template of its tokenizer_config.json (tokenizer/huggingFaceTokenizer.ts).
 * Without a tokenizer.json in either folder, Mistral's vocabulary built into mistralTokenizer.ts.
 */

/** The CLaRaConfig fields this project uses, as config.json spells them. */
export interface OfficialConfig {
  model_type: string;
  decoder_model_name: string;
  doc_max_length: number;
  compr_rate: number;
  training_stage: string;
  generation_top_k: number;
  lora_r: number;
  different_mem_tokens: boolean;
  sep: boolean;
}

export const CONFIG_FILE = 'config.json';
export const ADAPTERS_FILE = 'adapters.pth';
export const FIRST_LAST_FILE = 'decoder_first_last_layers.pth';
const EMBED = 'model.embed_tokens.weight';
const HEAD = 'lm_head.weight';
/** The prefix PEFT's wrapper puts before the model's own names (stripped by `load_adapter`). */
const PEFT_PREFIX = 'base_model.model.';

/** The official stage names and the project's stage numbers (docs/clara.md §11.4). */
export const STAGE_NUMBERS: Readonly<Record<string, number>> = { stage1: 1, stage1_2: 2, stage2: 3 };

/** True when `dir` holds a released-layout checkpoint (a CLaRa config.json beside adapters.pth). */
export function isOfficialCheckpoint(dir: string): boolean {
  const config = join(dir, CONFIG_FILE);
  if (!existsSync(config) || !existsSync(join(dir, ADAPTERS_FILE))) return false;
  try {
    return JSON.parse(readFileSync(config, 'utf8'))?.model_type === 'CLaRa';
  } catch {
    return false;
  }
}

export function readOfficialConfig(dir: string): OfficialConfig {
  const file = join(dir, CONFIG_FILE);
  const raw = readJsonFile(file, 'the CLaRa config') as Record<string, unknown>;
  if (raw.model_type !== 'CLaRa') throw new Error(`${file}: model_type is ${JSON.stringify(raw.model_type)}, not "CLaRa"`);
  const positive = (field: string): number => {
    const v = raw[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${file}: "${field}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const config: OfficialConfig = {
    model_type: 'CLaRa',
    decoder_model_name: String(raw.decoder_model_name ?? ''),
    doc_max_length: positive('doc_max_length'),
    compr_rate: positive('compr_rate'),
    training_stage: String(raw.training_stage ?? 'stage1'),
    generation_top_k: positive('generation_top_k'),
    lora_r: positive('lora_r'),
    different_mem_tokens: raw.different_mem_tokens === true,
    sep: raw.sep === true,
  };
  if (!config.different_mem_tokens)
    throw new Error(`${file}: different_mem_tokens is false (one shared <MEM> token); the released models and this project use <MEM0>…<MEMn-1>`);
  if (STAGE_NUMBERS[config.training_stage] === undefined)
    throw new Error(`${file}: training_stage "${config.training_stage}" is not one of ${Object.keys(STAGE_NUMBERS).join(', ')}`);
  if (officialMemoryTokens(config) < 1)
    throw new Error(`${file}: doc_max_length ${config.doc_max_length} < compr_rate ${config.compr_rate} leaves no memory token`);
  return config;
}

/** n = doc_max_length // compr_rate: the official code floors (`CLaRa.__init__`). */
export function officialMemoryTokens(config: Pick<OfficialConfig, 'doc_max_length' | 'compr_rate'>): number {
  return Math.floor(config.doc_max_length / config.compr_rate);
}

/** The official LoRA settings for rank r (`_get_peft_config`). */
function officialLora(r: number): LoraConfig {
  return { r, alpha: 2 * r, dropout: 0.1 };
}

/**
 * The base model's folder: `base` itself when it holds a config.json, else the config's
 * decoder_model_name under `base` (`base/mistralai/Mistral-7B-Instruct-v0.2`, or its last part).
 */
export function resolveBaseDir(base: string | undefined, config: OfficialConfig, dir: string): string {
  if (base === undefined)
    throw new Error(
      `${dir}: a released CLaRa checkpoint holds only adapters; give the base model's folder (${config.decoder_model_name || 'the Mistral model'}) with --base DIR`,
    );
  const candidates = [base, join(base, config.decoder_model_name), join(base, basename(config.decoder_model_name))];
  const found = candidates.find((c) => existsSync(join(c, CONFIG_FILE)));
  if (found === undefined) throw new Error(`--base ${base}: no config.json there, nor under ${config.decoder_model_name || '<decoder_model_name>'}`);
  return found;
}

/** What a released checkpoint becomes here: the backbone with every adapter, its tokenizer and settings. */
export interface OfficialModelParts {
  backbone: MistralForCausalLM;
  tokenizer: Tokenizer;
  config: OfficialConfig;
  /** ClaraSettings fields (claraModel.ts) that the checkpoint determines. */
  settings: { docMaxLength: number; compressionRate: number; generationTopK: number; lora: LoraConfig; stage: number };
}

export interface OfficialLoadOptions {
  /** The base model's folder, or a folder holding it under the config's decoder_model_name. */
  base?: string;
  backend?: Backend;
  /** The tokenizer, for a base that is not Mistral's 32000-token vocabulary (the tiny test models). */
  tokenizer?: Tokenizer;
  /** How the frozen weights are held (LoadModelOptions.dtype); default float32. */
  dtype?: LoadDType;
}

export function loadOfficialCheckpoint(dir: string, options: OfficialLoadOptions = {}): OfficialModelParts {
  const config = readOfficialConfig(dir);
  const baseDir = resolveBaseDir(options.base, config, dir);
  const baseConfig = loadConfigFromDir(baseDir);
  const n = officialMemoryTokens(config);
  const vocab = baseConfig.vocab_size + n + 3;
  const adapters = readAdapters(join(dir, ADAPTERS_FILE));
  if (config.training_stage === 'stage2' && !adapters.has(QUERY_REASONER_ADAPTER) && adapters.has(ENCODER_ADAPTER))
    adapters.set(QUERY_REASONER_ADAPTER, adapters.get(ENCODER_ADAPTER)!);
  let adapterElements = 0;
  for (const stateDict of adapters.values()) for (const t of stateDict.values()) adapterElements += t.shape.reduce((a, b) => a * b, 1);

  const tied = baseConfig.tie_word_embeddings;
  const firstLast = readFirstLast(
    join(dir, FIRST_LAST_FILE),
    tied ? [EMBED] : [EMBED, HEAD],
    vocab,
    `the base's ${baseConfig.vocab_size} tokens + ${n} memory tokens (doc_max_length ${config.doc_max_length} / compr_rate ${config.compr_rate}) + <AE> <ENC> <SEP>`,
  );
  const base = TensorStream.open(baseDir);
  let backbone: MistralForCausalLM;
  try {
    const where = `${baseDir} (the tables from ${join(dir, FIRST_LAST_FILE)})`;
    backbone = loadModelFrom(withTables(base, firstLast), { ...baseConfig, vocab_size: vocab }, where, {
      backend: options.backend,
      dtype: options.dtype,
      adapterBytes: 4 * adapterElements,
    });
  } finally {
    base.close();
  }

  const lora = officialLora(config.lora_r);
  for (const [name, stateDict] of adapters) setAdapter(backbone, name, stateDict, lora, join(dir, ADAPTERS_FILE));

  const tokenizer = options.tokenizer ?? findHuggingFaceTokenizer([dir, baseDir], { nMem: n }) ?? builtInTokenizer(baseConfig.vocab_size, n, baseDir);
  if (tokenizer.vocabSize !== vocab) throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens, the checkpoint ${vocab}`);
  return {
    backbone,
    tokenizer,
    config,
    settings: {
      docMaxLength: config.doc_max_length,
      compressionRate: config.compr_rate,
      generationTopK: config.generation_top_k,
      lora,
      stage: STAGE_NUMBERS[config.training_stage]!,
    },
  };
}

function builtInTokenizer(baseVocab: number, n: number, baseDir: string): Tokenizer {
  if (baseVocab !== MISTRAL_BASE_VOCAB_SIZE)
    throw new Error(
      `${baseDir}: no tokenizer.json here or in the checkpoint, and a base vocabulary of ${baseVocab} tokens is not Mistral's ${MISTRAL_BASE_VOCAB_SIZE}; pass the tokenizer to use`,
    );
  // Mistral-7B-Instruct-v0.2's tokenizer.json is legacy (each stretch after a special token gets
  // the dummy prefix), so the built-in vocabulary must split the same way to give the official ids.
  return new MistralTokenizer({ nMem: n, dummyPrefix: 'every-segment' });
}

/**
 * decoder_first_last_layers.pth's tables `names` (keys with or without PEFT's prefix), each checked
 * to have `vocab` rows (`vocabParts` says what makes them, for the error).
 */
function readFirstLast(file: string, names: readonly string[], vocab: number, vocabParts: string): Map<string, TorchTensor> {
  if (!existsSync(file)) throw new Error(`${file}: missing (it holds the embedding and lm_head rows of the added tokens)`);
  const value = readTorchSaveFile(file);
  if (!(value instanceof Map) || ![...value.values()].every(isTorchTensor)) throw new Error(`${file}: not a dict of tensors`);
  const tables = new Map<string, TorchTensor>();
  for (const name of names) {
    const t = value.get(name) ?? value.get(PEFT_PREFIX + name);
    if (t === undefined) throw new Error(`${file}: no ${name}`);
    if (t.shape[0] !== vocab) throw new Error(`${file}: ${name} has ${t.shape[0]} rows, but ${vocabParts} make ${vocab}`);
    tables.set(name, t);
  }
  return tables;
}

/** The base's tensors, with the tables of decoder_first_last_layers.pth in place of its own. */
function withTables(base: TensorStream, tables: ReadonlyMap<string, TorchTensor>): WeightSource {
  return {
    names: () => [...new Set([...base.names(), ...tables.keys()])],
    has: (name) => tables.has(name) || base.has(name),
    info: (name) => {
      const t = tables.get(name);
      return t === undefined ? base.info(name) : { dtype: t.dtype, shape: [...t.shape], byteLength: t.byteLength };
    },
    read: (name) => tables.get(name)?.read() ?? base.read(name),
    readFloat32: (name) => {
      const t = tables.get(name);
      return t === undefined ? base.readFloat32(name) : torchTensorToHost(t, name);
    },
  };
}

/** adapters.pth: adapter name → its state dict, keys normalised to `model.layers.{i}.….lora_A.weight`. */
export function readAdapters(file: string): Map<string, Map<string, TorchTensor>> {
  const value = readTorchSaveFile(file);
  if (!(value instanceof Map)) throw new Error(`${file}: not a dict of adapters`);
  const out = new Map<string, Map<string, TorchTensor>>();
  for (const [name, stateDict] of value) {
    if (typeof name !== 'string' || !(stateDict instanceof Map)) throw new Error(`${file}: entry ${String(name)} is not an adapter's state dict`);
    const keys = new Map<string, TorchTensor>();
    for (const [key, t] of stateDict) {
      if (typeof key !== 'string' || !isTorchTensor(t)) throw new Error(`${file}: adapter ${name}: entry ${String(key)} is not a tensor`);
      keys.set(normaliseAdapterKey(key, name), t);
    }
    out.set(name, keys);
  }
  return out;
}

/** `base_model.model.X.lora_A.<name>.weight` (any of those parts optional) → `X.lora_A.weight`. */
export function normaliseAdapterKey(key: string, adapter: string): string {
  const unprefixed = key.startsWith(PEFT_PREFIX) ? key.slice(PEFT_PREFIX.length) : key;
  return unprefixed.replace(`.lora_A.${adapter}.weight`, '.lora_A.weight').replace(`.lora_B.${adapter}.weight`, '.lora_B.weight');
}

function setAdapter(backbone: MistralForCausalLM, name: string, stateDict: Map<string, TorchTensor>, lora: LoraConfig, file: string): void {
  const used = new Set<string>();
  for (const layer of backbone.loraLayers()) {
    const get = (which: 'A' | 'B') => {
      const key = `${layer.path}.lora_${which}.weight`;
      const t = stateDict.get(key);
      if (t === undefined) throw new Error(`${file}: adapter ${name} has no ${key}`);
      used.add(key);
      const host = torchTensorToHost(t, key);
      return tensor(host.data, host.shape, { dtype: host.dtype, backend: backbone.backend });
    };
    const A = get('A');
    const B = get('B');
    try {
      layer.setAdapter(name, lora, A, B);
    } catch (error) {
      throw new Error(`${file}: ${(error as Error).message} (lora_r ${lora.r}, base hidden size ${backbone.config.hidden_size})`);
    } finally {
      A.dispose();
      B.dispose();
    }
  }
  const unused = [...stateDict.keys()].filter((k) => !used.has(k));
  if (unused.length > 0)
    throw new Error(`${file}: adapter ${name} has tensors no layer takes: ${unused.slice(0, 3).join(', ')}${unused.length > 3 ? ', …' : ''}`);
}
