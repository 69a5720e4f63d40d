import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile, writeTorchSaveFile, type TorchSaveTree } from '../../engine/io/index.ts';
import type { ClaraModel } from '../claraModel.ts';
import { saveAdapter, saveModel, toWritable, type StorageDType } from '../model/checkpoint.ts';
import { ADAPTERS_FILE, CONFIG_FILE, FIRST_LAST_FILE, STAGE_NUMBERS } from './official.ts';

/**
 * A model of this project written out for the official PyTorch code (apple/ml-clara), or for PEFT.
 *
 * `official`: the folder `CLaRa.save_pretrained` writes (official.ts describes it): `adapters.pth`
 * with every adapter under PEFT keys without the adapter name (what `get_adapter_state_dict`
 * returns), `decoder_first_last_layers.pth` with the embedding and lm_head tables [V, d], and a
 * CLaRaConfig `config.json`. Tensors are bf16, as released; a model loaded from a released
 * checkpoint goes back bit for bit (its values are bf16 to begin with). The base model is not
 * written: `decoder_model_name` names it (Mistral-7B-Instruct-v0.2 unless told otherwise).
 *
 * `peft`: PEFT's multi-adapter layout, `DIR/<adapter>/adapter_model.safetensors` +
 * `adapter_config.json`, with the backbone (added tokens' rows included) as Hugging Face files in
 * `DIR` itself, so the folder loads as a model (clara/model/checkpoint.ts `loadModel`, then each
 * adapter).
 */

export type ExportFormat = 'official' | 'peft';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['official', 'peft'];

export interface ExportOptions {
  /** The base model the official config names (official format). */
  decoderModelName?: string;
  /** How the backbone is stored (peft format; default float32). */
  dtype?: StorageDType;
}

const DEFAULT_DECODER_MODEL = 'mistralai/Mistral-7B-Instruct-v0.2';

export async function exportModel(clara: ClaraModel, dir: string, format: ExportFormat, options: ExportOptions = {}): Promise<void> {
  if (format === 'official') await exportOfficial(clara, dir, options);
  else if (format === 'peft') await exportPeft(clara, dir, options);
  else throw new Error(`unknown export format '${String(format)}' (known: ${EXPORT_FORMATS.join(', ')})`);
}

async function exportOfficial(clara: ClaraModel, dir: string, options: ExportOptions): Promise<void> {
  const { lora } = clara.settings;
  // The official code builds its adapters with α = 2r (`_get_peft_config`) whatever it loads.
  if (lora.alpha !== 2 * lora.r) throw new Error(`the official code scales LoRA by α/r = 2 (α = 2r); this model has r ${lora.r}, α ${lora.alpha}`);
  const model = clara.backbone;
  mkdirSync(dir, { recursive: true });
  const adapters: TorchSaveTree = {};
  for (const name of model.adapterNames()) {
    const stateDict: TorchSaveTree = {};
    for (const [key, p] of model.adapterParameters(name)) stateDict[key] = await toWritable(p, 'bfloat16');
    adapters[name] = stateDict;
  }
  writeTorchSaveFile(join(dir, ADAPTERS_FILE), adapters);
  const firstLast: TorchSaveTree = { 'model.embed_tokens.weight': await toWritable(model.model.embedTokens.weight, 'bfloat16') };
  if (!model.config.tie_word_embeddings) firstLast['lm_head.weight'] = await toWritable(model.lmHead, 'bfloat16');
  writeTorchSaveFile(join(dir, FIRST_LAST_FILE), firstLast);
  const json = `${JSON.stringify(officialConfig(clara, options.decoderModelName ?? DEFAULT_DECODER_MODEL), null, 2)}\n`;
  atomicWriteFile(join(dir, CONFIG_FILE), [new TextEncoder().encode(json)]);
}

/** The CLaRaConfig `save_pretrained` writes: this model's settings, the official defaults elsewhere. */
function officialConfig(clara: ClaraModel, decoderModelName: string): Record<string, unknown> {
  const s = clara.settings;
  const stage = Object.entries(STAGE_NUMBERS).find(([, n]) => n === Math.max(1, s.stage))![0];
  return {
    architectures: ['CLaRa'],
    auto_map: { AutoConfig: 'modeling_clara.CLaRaConfig', AutoModel: 'modeling_clara.CLaRa' },
    model_type: 'CLaRa',
    decoder_model_name: decoderModelName,
    doc_max_length: s.docMaxLength,
    quantization: 'no',
    sep: true,
    compr_model_name: null,
    compr_rate: s.compressionRate,
    compr_n_layers: null,
    compr_every_n_layer: null,
    compr_base_model_name: DEFAULT_DECODER_MODEL,
    compr_rms_norm: false,
    compr_mlp_hidden_dim: 8096,
    compr_use_mlp: false,
    compr_linear_type: 'concat',
    lora: true,
    lora_compressor: false,
    training_form: 'both_separately',
    training_stage: stage,
    generation_top_k: s.generationTopK,
    lora_r: s.lora.r,
    lora_r_compressor: s.lora.r,
    load_adapters: true,
    kbtc_training: false,
    optimize_mem_tokens: true,
    different_mem_tokens: true,
    attn_implementation: null,
    ae_mode: 'token',
    max_new_tokens: 128,
    stage2_retrieval_top_n: 1,
    load_pretrained_checkpoint: false,
    device_map: null,
    torch_dtype: 'bfloat16',
    // Makes the official from_pretrained load every saved adapter: without it, a stage1_2 model's
    // trained decoder_adapter is replaced by a fresh one (docs/clara.md §11.3). Pass
    // pure_inference=False to from_pretrained to get the training behaviour back.
    pure_inference: true,
  };
}

async function exportPeft(clara: ClaraModel, dir: string, options: ExportOptions): Promise<void> {
  await saveModel(clara.backbone, dir, { dtype: options.dtype ?? 'float32' });
  for (const name of clara.backbone.adapterNames()) await saveAdapter(clara.backbone, name, join(dir, name));
}
