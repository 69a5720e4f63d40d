import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type Backend, type Tensor } from '../../engine/index.ts';
import { readJsonFile, writeSafetensorsFile, type TensorToWrite } from '../../engine/io/index.ts';
import { answerCrossEntropy } from '../answerLoss.ts';
import { ClaraModel, DEFAULT_SETTINGS } from '../claraModel.ts';
import { IdsOnlyTokenizer } from '../tokenizer/idsOnlyTokenizer.ts';
import { type StepTraceOptions, type TraceMode, traceStep } from '../traceStep.ts';
import { loadModel } from './checkpoint.ts';
import type { MistralForCausalLM } from './mistral.ts';
import { adapterSearchDirs, loadAdapters, peftParameterName } from './peftCheckpoint.ts';
import { TraceInputs } from './traceInputs.ts';

/**
 * `clara trace`: run the model once on given inputs and write every intermediate a researcher
 * would compare with their own PyTorch run, tensor by tensor (`clara compare`). This file loads
 * the checkpoint (this project's, or a Hugging Face backbone with PEFT adapters: peftCheckpoint.ts),
 * traces the decoder alone, and writes the file, with the names in the order they were produced
 * (metadata "order"); clara/traceStep.ts traces the compressor, a stage-1 and a stage-3 step.
 *
 * Decoder mode reads (a safetensors file, or JSON of the same names: model/traceInputs.ts):
 *   input_ids        int [B, S]        token ids; or
 *   inputs_embeds    float [B, S, d]   input embeddings (then its gradient is written too)
 *   attention_mask   int [B, S]        optional, 1 = token, 0 = (left) padding; default all ones
 *   labels           int [B, S]        optional, −100 = ignored; loss = CE(logits[:, :-1], labels[:, 1:])
 *   metadata "adapter"                 optional, the active LoRA adapter (or --adapter)
 * Writes (a safetensors file, float32):
 *   hidden_states.{i}  [B, S, d]  i = 0 (embeddings) … L (after the final norm), as HF's hidden_states
 *   logits             [B, S, V]
 *   loss               []         when labels were given
 *   grad.{name}                   d loss / d every trainable tensor: the active adapter's LoRA
 *                                 matrices (PEFT names, e.g. grad.model.layers.0.self_attn.q_proj.lora_A.weight)
 *                                 and grad.inputs_embeds when embeddings were given
 */
export const TRACE_TENSORS_HELP = `Decoder mode. Inputs (safetensors or JSON): input_ids int [B,S] | inputs_embeds float [B,S,d]; attention_mask int [B,S] (optional);
  labels int [B,S] (optional, -100 ignored; loss = CE(logits[:, :-1], labels[:, 1:])); metadata "adapter" (optional).
  --adapter all traces every adapter in turn: <adapter>.hidden_states.0, <adapter>.logits, <adapter>.loss, and
  LoRA gradients under PEFT's multi-adapter names (grad.base_model.model.model.layers.0.self_attn.q_proj.lora_A.<adapter>.weight).
Outputs (safetensors, F32): hidden_states.0 .. hidden_states.L [B,S,d] (embeddings, block outputs, final normed);
  logits [B,S,V]; loss [] (with labels); grad.<name> for every trainable tensor: the active adapter's LoRA
  matrices under PEFT names (grad.model.layers.0.self_attn.q_proj.lora_A.weight, ...) and grad.inputs_embeds.

Compressor, stage1 and stage3 modes. Inputs (ids, left-padded; an encoder row ends with its n <MEMi> tokens):
  compressor  input_ids, attention_mask [docs, T+n]
  stage1      encoder.input_ids, encoder.attention_mask [B*k, T+n]; generator.input_ids, generator.attention_mask,
              generator.labels [B, L] (the <MEMi> ids in a generator row mark its k slots, n at a time)
  stage3      query.input_ids, query.attention_mask [B, T+n]; candidates.input_ids, candidates.attention_mask
              [B*N, T+n] (question b's N candidates in rows b*N..); generator.* as in stage1
  Or texts (a JSON file, for a checkpoint with this project's tokenizer): {"question": ..., "docs": [...], "answer": ...}
  or an array of them, tokenized as training does (stage3: the docs are the N candidates, k = --k or generationTopK).
Outputs: compressed, mu_mem, mu_doc, mse (compressor, stage1); q, D, s, l, H, P, W, selected (stage3);
  spliced_embeddings, generator_hidden, logits, ce, loss (stage1, stage3); grad.<name> of each that the loss
  depends on (grad.compressed: the generator's path and the MSE term); stage1: grad.model.embed_tokens.weight.mem_rows
  [n,d], the <MEMi> rows of the embedding table's gradient; every LoRA gradient under PEFT's name (grad.base_model.model.model.layers.0.self_attn.q_proj.lora_A.decoder_adapter.weight).`;

export interface TraceOptions {
  modelDir: string;
  inputsFile: string;
  outFile: string;
  /** decoder (default): the backbone with one adapter; compressor, stage1, stage3: see clara/traceStep.ts. */
  mode?: TraceMode;
  /** Decoder mode: the active adapter, or `all` for each in turn (default: the inputs' metadata "adapter", else none). */
  adapter?: string | null;
  /** Where the adapters are (default modelDir): `<dir>/adapters/<name>/` or PEFT's `<dir>/<name>/`. */
  adaptersDir?: string;
  /** The `<MEMi>` ids, for a checkpoint without this project's tokenizer.json (compressor and stage modes). */
  memIds?: number[];
  step?: Omit<StepTraceOptions, 'mode'>;
  backend?: Backend;
}

export async function traceModel(options: TraceOptions): Promise<{ written: string[] }> {
  const mode = options.mode ?? 'decoder';
  const inputs = TraceInputs.read(options.inputsFile);
  let written: Map<string, Tensor>;
  let model: MistralForCausalLM;
  let adapter = '';
  if (mode === 'decoder') {
    if (inputs.texts.length > 0)
      throw new Error(`${options.inputsFile} gives texts: the compressor and step modes read texts (--mode compressor|stage1|stage3), the decoder reads ids`);
    model = loadModel(options.modelDir, { backend: options.backend });
    loadAdapters(model, options.adaptersDir ?? options.modelDir);
    adapter = options.adapter ?? inputs.metadata.adapter ?? '';
    if (adapter !== '' && adapter !== ALL_ADAPTERS && !model.adapterNames().includes(adapter)) {
      const searched = adapterSearchDirs(options.adaptersDir ?? options.modelDir).map((d) => join(d, adapter));
      throw new Error(`adapter '${adapter}' not found: looked in ${searched.join(' and ')} (found: ${model.adapterNames().join(', ') || 'none'})`);
    }
    written = adapter === ALL_ADAPTERS ? await traceEveryAdapter(model, inputs) : await traceDecoder(model, inputs, adapter === '' ? null : adapter);
  } else {
    const clara = loadForTrace(options);
    model = clara.backbone;
    written = await traceStep(clara, inputs, { ...options.step, mode });
  }
  const files: Record<string, TensorToWrite> = {};
  for (const [name, t] of written) files[name] = { dtype: 'F32', shape: t.shape, data: Float32Array.from(await t.toArray()) };
  const order = JSON.stringify([...written.keys()]);
  writeSafetensorsFile(options.outFile, files, { mode, adapter, adapters: JSON.stringify(model.adapterNames()), backend: model.backend.name, order });
  return { written: [...written.keys()] };
}

/** `--adapter all`: the decoder traced once per adapter of the checkpoint, in one file. */
const ALL_ADAPTERS = 'all';

/**
 * Every adapter in turn (sorted by name): its values as `<adapter>.hidden_states.0`, `<adapter>.logits`,
 * `<adapter>.loss`, `grad.<adapter>.inputs_embeds`, and its LoRA gradients under PEFT's
 * multi-adapter names, which name the adapter already.
 */
async function traceEveryAdapter(model: MistralForCausalLM, inputs: TraceInputs): Promise<Map<string, Tensor>> {
  const written = new Map<string, Tensor>();
  for (const adapter of [...model.adapterNames()].sort()) {
    for (const [name, t] of await traceDecoder(model, inputs, adapter, (key) => peftParameterName(adapter, key))) {
      const lora = name.startsWith('grad.') && name !== 'grad.inputs_embeds';
      written.set(lora ? name : name.startsWith('grad.') ? `grad.${adapter}.${name.slice(5)}` : `${adapter}.${name}`, t);
    }
  }
  return written;
}

/**
 * The decoder alone: hidden states, logits, loss and the active adapter's gradients (see the top),
 * named `grad.<gradName(key)>` (default: the key without PEFT's prefix and adapter name).
 */
async function traceDecoder(
  model: MistralForCausalLM,
  inputs: TraceInputs,
  adapter: string | null,
  gradName: (key: string) => string = (key) => key,
): Promise<Map<string, Tensor>> {
  model.eval();
  const read = (name: string): Tensor | undefined => {
    const host = inputs.get(name);
    return host === undefined ? undefined : tensor(host.data, host.shape, { dtype: host.dtype, backend: model.backend });
  };
  const ids = read('input_ids');
  let embeds = read('inputs_embeds');
  if ((ids === undefined) === (embeds === undefined)) throw new Error(`${inputs.file}: give exactly one of input_ids and inputs_embeds`);
  if (ids !== undefined && ids.dtype !== 'int32') throw new Error(`${inputs.file}: input_ids must be an integer tensor`);
  if (embeds !== undefined) embeds = embeds.cast(model.dtype).requireGrad();
  const [batch, seq] = (ids ?? embeds)!.shape as [number, number];
  const mask = inputs.has('attention_mask') ? inputs.rows('attention_mask', [batch, seq]).flat() : undefined;
  const trainable = adapter === null ? [] : model.adapterParameters(adapter);

  const out = model.forward({ inputIds: ids, inputsEmbeds: embeds, attentionMask: mask, adapter, outputHiddenStates: true });
  const written = new Map<string, Tensor>();
  for (const [i, h] of out.hiddenStates!.entries()) written.set(`hidden_states.${i}`, h);
  written.set('logits', out.logits!);
  if (inputs.has('labels')) {
    const loss = answerCrossEntropy(out.logits!, inputs.rows('labels', [batch, seq]));
    written.set('loss', loss);
    if (loss.requiresGrad) {
      loss.backward();
      for (const [name, p] of trainable) if (p.grad) written.set(`grad.${gradName(name)}`, p.grad);
      if (embeds?.grad) written.set('grad.inputs_embeds', embeds.grad);
    }
  }
  return written;
}

/**
 * The CLaRa model for the step modes: this project's checkpoint as saved, or, given the `<MEMi>`
 * ids (or no tokenizer.json), any Hugging Face backbone with its adapters and a vocabulary known
 * by its config's size and special ids (no tokenizer of ours needed).
 */
function loadForTrace(options: TraceOptions): ClaraModel {
  const dir = options.modelDir;
  const ours = existsSync(join(dir, 'clara.json')) && existsSync(join(dir, 'tokenizer.json'));
  if (options.memIds === undefined && options.adaptersDir === undefined && ours) return ClaraModel.load(dir, { backend: options.backend });
  if (options.memIds === undefined) throw new Error(`${dir} has no tokenizer.json of this project: give the <MEMi> token ids (--mem-ids 32000,32001,…)`);
  const backbone = loadModel(dir, { backend: options.backend });
  loadAdapters(backbone, options.adaptersDir ?? dir);
  const raw = readJsonFile(join(dir, 'config.json'), 'the model config') as Record<string, unknown>;
  const id = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
  const tokenizer = new IdsOnlyTokenizer({
    vocabSize: backbone.config.vocab_size,
    bosId: id('bos_token_id'),
    eosId: id('eos_token_id'),
    padId: id('pad_token_id'),
    special: { mem: options.memIds, ae: -1, enc: -1, sep: -1 },
  });
  return new ClaraModel(backbone, tokenizer, DEFAULT_SETTINGS);
}
