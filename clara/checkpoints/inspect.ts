import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isTorchTensor, readTorchSaveFile, type TorchTensor } from '../../engine/io/index.ts';
import { findHuggingFaceTokenizer, type HuggingFaceTokenizerSummary } from '../tokenizer/huggingFaceTokenizer.ts';
import { MISTRAL_BASE_VOCAB_SIZE } from '../tokenizer/mistralTokenizer.ts';
import {
  ADAPTERS_FILE,
  CONFIG_FILE,
  FIRST_LAST_FILE,
  officialMemoryTokens,
  readAdapters,
  readOfficialConfig,
  resolveBaseDir,
  type OfficialConfig,
} from './official.ts';

/**
 * `clara inspect DIR`: what a model folder holds, without loading the model. It names the layout
 * (a released CLaRa checkpoint, this project's, PEFT's multi-adapter folders, a bare Hugging Face
 * model), the adapters with their ranks, shapes and dtypes, the compression rate and stage, the
 * tokenizer, and every problem that would stop a load, each in one sentence: no base model,
 * adapters for another hidden size, memory rows that do not match the compression rate, a shard
 * missing. Only headers and the small `.pth` files are read; the base model's shards are not.
 */

type Layout = 'official' | 'clara' | 'peft' | 'huggingface' | 'unknown';

interface TensorSummary {
  shape: number[];
  dtype: string;
}

interface AdapterSummary {
  name: string;
  /** The rank read off lora_A's first dimension. */
  rank: number | null;
  tensors: number;
  dtypes: string[];
  /** The input width of the first layer's q_proj lora_A: the hidden size the adapter was trained for. */
  hiddenSize: number | null;
}

interface BaseSummary {
  dir: string;
  hiddenSize: number;
  vocabSize: number;
  layers: number;
  shards: number;
  missingShards: string[];
  dtypes: string[];
}

/**
 * `huggingface`: the folder's tokenizer.json (HuggingFaceTokenizer, its chat template if any);
 * `mistral-built-in`: no tokenizer.json, Mistral's vocabulary built into this project (MistralTokenizer).
 */
type TokenizerInfo = ({ kind: 'huggingface' } & HuggingFaceTokenizerSummary) | { kind: 'mistral-built-in'; vocabSize: number; chatTemplate: false };

export interface InspectReport {
  dir: string;
  layout: Layout;
  config?: Partial<OfficialConfig> & { memoryTokens?: number };
  adapters: AdapterSummary[];
  firstLast?: Record<string, TensorSummary>;
  tokenizer: string | null;
  /** A released checkpoint's tokenizer: its kind, size, added tokens and chat template. */
  tokenizerInfo?: TokenizerInfo;
  base?: BaseSummary;
  /** Each a sentence; empty when the folder is complete and consistent. */
  problems: string[];
}

export function inspectModelDir(dir: string, options: { base?: string } = {}): InspectReport {
  const report: InspectReport = { dir, layout: detectLayout(dir), adapters: [], tokenizer: null, problems: [] };
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    report.problems.push(`${dir} is not a folder`);
    return report;
  }
  if (report.layout === 'official') inspectOfficial(dir, options.base, report);
  else if (report.layout === 'clara') inspectClara(dir, report);
  else if (report.layout === 'peft' || report.layout === 'huggingface') {
    report.base = inspectBase(dir, report.problems);
    report.adapters = peftAdapters(dir, report.problems);
    report.tokenizer = tokenizerIn(dir);
  } else report.problems.push(`${dir} holds none of the known layouts (config.json of a CLaRa or Hugging Face model, clara.json, adapters)`);
  return report;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function detectLayout(dir: string): Layout {
  const config = readJson(join(dir, CONFIG_FILE));
  if (config?.model_type === 'CLaRa') return 'official';
  if (existsSync(join(dir, 'clara.json'))) return 'clara';
  if (config !== null) return peftAdapterDirs(dir).length > 0 ? 'peft' : 'huggingface';
  return 'unknown';
}

function peftAdapterDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'adapter_config.json')))
    .map((e) => e.name)
    .sort();
}

function tokenizerIn(dir: string): string | null {
  for (const file of ['tokenizer.json', 'tokenizer.model']) if (existsSync(join(dir, file))) return join(dir, file);
  return null;
}

function summariseAdapter(name: string, stateDict: Map<string, { shape: number[]; dtype: string }>): AdapterSummary {
  const q = stateDict.get('model.layers.0.self_attn.q_proj.lora_A.weight');
  return {
    name,
    rank: q?.shape[0] ?? null,
    tensors: stateDict.size,
    dtypes: [...new Set([...stateDict.values()].map((t) => t.dtype))],
    hiddenSize: q?.shape[1] ?? null,
  };
}

function inspectOfficial(dir: string, base: string | undefined, report: InspectReport): void {
  let config: OfficialConfig;
  try {
    config = readOfficialConfig(dir);
  } catch (error) {
    report.problems.push((error as Error).message);
    return;
  }
  const n = officialMemoryTokens(config);
  report.config = { ...config, memoryTokens: n };
  if (existsSync(join(dir, ADAPTERS_FILE))) {
    try {
      report.adapters = [...readAdapters(join(dir, ADAPTERS_FILE))].map(([name, sd]) => summariseAdapter(name, sd));
    } catch (error) {
      report.problems.push(`${ADAPTERS_FILE} cannot be read: ${(error as Error).message}`);
    }
    for (const a of report.adapters) {
      if (a.rank !== null && a.rank !== config.lora_r) report.problems.push(`adapter ${a.name} has rank ${a.rank}, the config says lora_r ${config.lora_r}`);
    }
  } else report.problems.push(`${ADAPTERS_FILE} is missing: no compressor, generator or query reasoner`);

  let rows: number | null = null;
  if (existsSync(join(dir, FIRST_LAST_FILE))) {
    try {
      const value = readTorchSaveFile(join(dir, FIRST_LAST_FILE));
      if (!(value instanceof Map)) throw new Error('not a dict');
      report.firstLast = {};
      for (const [key, t] of value as Map<string, unknown>) {
        if (isTorchTensor(t)) report.firstLast[String(key)] = { shape: (t as TorchTensor).shape, dtype: (t as TorchTensor).dtype };
      }
      rows = Object.values(report.firstLast)[0]?.shape[0] ?? null;
    } catch (error) {
      report.problems.push(`${FIRST_LAST_FILE} cannot be read: ${(error as Error).message}`);
    }
  } else report.problems.push(`${FIRST_LAST_FILE} is missing: the <MEMi>, <AE>, <ENC>, <SEP> rows would be untrained`);

  let baseDir: string | undefined;
  try {
    baseDir = resolveBaseDir(base, config, dir);
  } catch (error) {
    report.problems.push((error as Error).message);
  }
  if (baseDir !== undefined) report.base = inspectBase(baseDir, report.problems);
  const baseVocab = report.base?.vocabSize;
  inspectOfficialTokenizer(baseDir === undefined ? [dir] : [dir, baseDir], n, baseVocab, report);
  if (rows !== null && baseVocab !== undefined && rows !== baseVocab + n + 3)
    report.problems.push(
      `${FIRST_LAST_FILE} has ${rows} rows, but the base's ${baseVocab} tokens + ${n} memory tokens (doc_max_length ${config.doc_max_length} / compr_rate ${config.compr_rate}) + 3 make ${baseVocab + n + 3}: the memory rows do not match the compression rate`,
    );
  const hidden = report.base?.hiddenSize;
  for (const a of report.adapters) {
    if (hidden !== undefined && a.hiddenSize !== null && a.hiddenSize !== hidden)
      report.problems.push(`adapter ${a.name} was trained for hidden size ${a.hiddenSize}, the base model has ${hidden}`);
  }
}

/**
 * The tokenizer loadOfficialCheckpoint would use: the checkpoint's or the base's tokenizer.json, else
 * Mistral's vocabulary built in (only for a 32000-token base).
 */
function inspectOfficialTokenizer(dirs: string[], n: number, baseVocab: number | undefined, report: InspectReport): void {
  let summary: HuggingFaceTokenizerSummary | undefined;
  try {
    summary = findHuggingFaceTokenizer(dirs, { nMem: n })?.summary;
  } catch (error) {
    report.problems.push(`the tokenizer cannot be read: ${(error as Error).message}`);
    return;
  }
  if (summary !== undefined) {
    const c = summary.claraTokens;
    report.tokenizerInfo = { kind: 'huggingface', ...summary };
    report.tokenizer =
      `${summary.file}: ${summary.vocabSize} tokens, ${summary.addedTokens} added (${c.first}…${c.last} = ${c.firstId}…${c.lastId}, ` +
      `${c.inFile ? 'in the file' : 'added after its vocabulary'}), ${summary.chatTemplate ? 'with' : 'no'} chat template`;
    if (baseVocab !== undefined && summary.vocabSize !== baseVocab + n + 3)
      report.problems.push(
        `${summary.file} has ${summary.vocabSize} tokens with the CLaRa tokens, but the base's ${baseVocab} + ${n + 3} make ${baseVocab + n + 3}`,
      );
  } else if (baseVocab === MISTRAL_BASE_VOCAB_SIZE) {
    report.tokenizerInfo = { kind: 'mistral-built-in', vocabSize: MISTRAL_BASE_VOCAB_SIZE + n + 3, chatTemplate: false };
    report.tokenizer = `no tokenizer.json: Mistral's ${MISTRAL_BASE_VOCAB_SIZE}-token vocabulary built in + the ${n + 3} CLaRa tokens, Mistral's chat layout`;
  } else if (baseVocab !== undefined) {
    report.problems.push(
      `no tokenizer.json, and the base vocabulary has ${baseVocab} tokens, not Mistral's ${MISTRAL_BASE_VOCAB_SIZE}: the clara command has no tokenizer for it`,
    );
  }
}

function inspectClara(dir: string, report: InspectReport): void {
  const settings = readJson(join(dir, 'clara.json'));
  if (settings === null) {
    report.problems.push('clara.json is not valid JSON');
    return;
  }
  report.config = {
    doc_max_length: Number(settings.docMaxLength),
    compr_rate: Number(settings.compressionRate),
    generation_top_k: Number(settings.generationTopK),
    training_stage: `stage ${settings.stage}`,
    lora_r: Number((settings.lora as { r?: number } | undefined)?.r),
  };
  report.config.memoryTokens = report.config.doc_max_length! / report.config.compr_rate!;
  const tokenizer = readJson(join(dir, 'tokenizer.json'));
  report.tokenizer = tokenizer === null ? null : `${String(tokenizer.kind)} (this project's tokenizer.json)`;
  if (tokenizer === null) report.problems.push('tokenizer.json is missing or not valid JSON');
  report.base = inspectBase(dir, report.problems);
  report.adapters = peftAdapters(join(dir, 'adapters'), report.problems);
  for (const name of (settings.adapters as string[] | undefined) ?? []) {
    if (!report.adapters.some((a) => a.name === name)) report.problems.push(`clara.json lists adapter ${name}, which adapters/${name}/ does not hold`);
  }
}

function peftAdapters(dir: string, problems: string[]): AdapterSummary[] {
  return peftAdapterDirs(dir).map((name) => {
    const file = join(dir, name, 'adapter_model.safetensors');
    if (!existsSync(file)) {
      problems.push(`adapter ${name}: adapter_model.safetensors is missing`);
      return { name, rank: null, tensors: 0, dtypes: [], hiddenSize: null };
    }
    const header = safetensorsHeader(file, problems);
    const entries = new Map<string, { shape: number[]; dtype: string }>();
    for (const [key, info] of Object.entries(header ?? {})) {
      if (key === '__metadata__') continue;
      const plain = key.replace(/^base_model\.model\./, '').replace(/\.lora_([AB])\.[^.]+\.weight$/, '.lora_$1.weight');
      entries.set(plain, info as { shape: number[]; dtype: string });
    }
    return summariseAdapter(name, entries);
  });
}

function safetensorsHeader(file: string, problems: string[]): Record<string, unknown> | null {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const prefix = Buffer.alloc(8);
    readSync(fd, prefix, 0, 8, 0);
    const length = Number(prefix.readBigUInt64LE(0));
    if (length > 100_000_000 || length + 8 > statSync(file).size) throw new Error('the header length is beyond the file');
    const header = Buffer.alloc(length);
    readSync(fd, header, 0, length, 8);
    return JSON.parse(header.toString('utf8'));
  } catch (error) {
    problems.push(`${file}: not a readable safetensors file (${(error as Error).message})`);
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function inspectBase(dir: string, problems: string[]): BaseSummary | undefined {
  const config = readJson(join(dir, CONFIG_FILE));
  if (config === null) {
    problems.push(`${dir}: no readable config.json for the base model`);
    return undefined;
  }
  const index = readJson(join(dir, 'model.safetensors.index.json'));
  let shards: string[];
  if (index !== null) shards = [...new Set(Object.values((index.weight_map ?? {}) as Record<string, string>))].sort();
  else if (existsSync(join(dir, 'model.safetensors'))) shards = ['model.safetensors'];
  else {
    problems.push(`${dir}: no model.safetensors or model.safetensors.index.json: the base weights are missing`);
    shards = [];
  }
  const missingShards = shards.filter((s) => !existsSync(join(dir, s)));
  for (const s of missingShards) problems.push(`${dir}: shard ${s} is missing`);
  const dtypes = new Set<string>();
  const present = shards.filter((s) => !missingShards.includes(s));
  if (present.length > 0) {
    for (const [key, info] of Object.entries(safetensorsHeader(join(dir, present[0]!), problems) ?? {}))
      if (key !== '__metadata__') dtypes.add((info as { dtype: string }).dtype);
  }
  return {
    dir,
    hiddenSize: Number(config.hidden_size),
    vocabSize: Number(config.vocab_size),
    layers: Number(config.num_hidden_layers),
    shards: shards.length,
    missingShards,
    dtypes: [...dtypes],
  };
}

/** The report in words, one fact a line. */
export function formatInspectReport(r: InspectReport): string {
  const lines = [`${r.dir}: ${LAYOUT_WORDS[r.layout]}`];
  if (r.config) {
    const c = r.config;
    lines.push(
      `  compression: ${c.doc_max_length} document tokens / rate ${c.compr_rate} = ${c.memoryTokens} memory tokens; stage ${c.training_stage}; top-k ${c.generation_top_k}; LoRA r ${c.lora_r}`,
    );
  }
  for (const a of r.adapters)
    lines.push(`  adapter ${a.name}: rank ${a.rank ?? '?'}, ${a.tensors} tensors, ${a.dtypes.join('/')}, hidden size ${a.hiddenSize ?? '?'}`);
  for (const [key, t] of Object.entries(r.firstLast ?? {})) lines.push(`  ${key}: [${t.shape.join(', ')}] ${t.dtype}`);
  if (r.base)
    lines.push(
      `  base: ${r.base.dir}: hidden ${r.base.hiddenSize}, ${r.base.layers} layers, vocabulary ${r.base.vocabSize}, ${r.base.shards} shard(s) ${r.base.dtypes.join('/')}`,
    );
  lines.push(`  tokenizer: ${r.tokenizer ?? 'none found'}`);
  lines.push(r.problems.length === 0 ? '  complete: nothing missing' : `  problems:\n${r.problems.map((p) => `    - ${p}`).join('\n')}`);
  return lines.join('\n');
}

const LAYOUT_WORDS: Record<Layout, string> = {
  official: 'a released CLaRa checkpoint (apple/ml-clara layout: config.json, adapters.pth, decoder_first_last_layers.pth)',
  clara: "this project's model folder (clara.json, Hugging Face backbone, adapters/<name>/)",
  peft: 'a Hugging Face model with PEFT adapter folders (<name>/adapter_model.safetensors)',
  huggingface: 'a Hugging Face model without adapters',
  unknown: 'not a model folder this project knows',
};
