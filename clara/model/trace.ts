import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type Backend, type Tensor } from '../../engine/index.ts';
import { readSafetensorsFile, writeSafetensorsFile, type TensorToWrite } from '../../engine/io/index.ts';
import { answerCrossEntropy } from '../answerLoss.ts';
import { loadAdapter, loadModel } from './checkpoint.ts';

/**
 * `clara trace`: run the model once on given inputs and write every intermediate a researcher
 * would compare with their own PyTorch run, tensor by tensor.
 *
 * Reads (a safetensors file):
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
export const TRACE_TENSORS_HELP = `Inputs (safetensors): input_ids int [B,S] | inputs_embeds float [B,S,d]; attention_mask int [B,S] (optional);
  labels int [B,S] (optional, -100 ignored; loss = CE(logits[:, :-1], labels[:, 1:])); metadata "adapter" (optional).
Outputs (safetensors, F32): hidden_states.0 .. hidden_states.L [B,S,d] (embeddings, block outputs, final normed);
  logits [B,S,V]; loss [] (with labels); grad.<name> for every trainable tensor: the active adapter's LoRA
  matrices under PEFT names (grad.model.layers.0.self_attn.q_proj.lora_A.weight, ...) and grad.inputs_embeds.`;

export interface TraceOptions {
  modelDir: string;
  inputsFile: string;
  outFile: string;
  adapter?: string | null;
  backend?: Backend;
}

export async function traceModel(options: TraceOptions): Promise<{ written: string[] }> {
  const model = loadModel(options.modelDir, { backend: options.backend });
  const adaptersDir = join(options.modelDir, 'adapters');
  if (existsSync(adaptersDir)) for (const name of readdirSync(adaptersDir)) loadAdapter(model, name, join(adaptersDir, name));
  model.eval();

  const inputs = readSafetensorsFile(options.inputsFile);
  const read = (name: string): Tensor | undefined => {
    if (!inputs.has(name)) return undefined;
    const host = inputs.toHost(name);
    return tensor(host.data, host.shape, { dtype: host.dtype, backend: model.backend });
  };
  const ids = read('input_ids');
  let embeds = read('inputs_embeds');
  if ((ids === undefined) === (embeds === undefined)) throw new Error(`${options.inputsFile}: give exactly one of input_ids and inputs_embeds`);
  if (ids !== undefined && ids.dtype !== 'int32') throw new Error(`${options.inputsFile}: input_ids must be an integer tensor`);
  if (embeds !== undefined) embeds = embeds.cast(model.dtype).requireGrad();
  const [batch, seq] = (ids ?? embeds)!.shape as [number, number];
  const maskTensor = read('attention_mask');
  const mask = maskTensor ? Array.from(await maskTensor.toArray()) : undefined;
  if (maskTensor && maskTensor.shape.join() !== `${batch},${seq}`)
    throw new Error(`${options.inputsFile}: attention_mask must be [${batch}, ${seq}], got [${maskTensor.shape.join(', ')}]`);
  const adapter = options.adapter ?? inputs.metadata.adapter ?? null;
  const trainable = adapter === null ? [] : model.adapterParameters(adapter);

  const out = model.forward({ inputIds: ids, inputsEmbeds: embeds, attentionMask: mask, adapter, outputHiddenStates: true });
  const written: Record<string, Tensor> = {};
  out.hiddenStates!.forEach((h, i) => {
    written[`hidden_states.${i}`] = h;
  });
  written.logits = out.logits!;
  const labelsTensor = read('labels');
  if (labelsTensor !== undefined) {
    if (labelsTensor.shape.join() !== `${batch},${seq}`)
      throw new Error(`${options.inputsFile}: labels must be [${batch}, ${seq}], got [${labelsTensor.shape.join(', ')}]`);
    const flat = Array.from(await labelsTensor.toArray());
    const rows = Array.from({ length: batch }, (_, b) => flat.slice(b * seq, (b + 1) * seq));
    const loss = answerCrossEntropy(out.logits!, rows);
    written.loss = loss;
    if (loss.requiresGrad) {
      loss.backward();
      for (const [name, p] of trainable) if (p.grad) written[`grad.${name}`] = p.grad;
      if (embeds?.grad) written['grad.inputs_embeds'] = embeds.grad;
    }
  }
  const files: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(written)) files[name] = { dtype: 'F32', shape: t.shape, data: Float32Array.from(await t.toArray()) };
  writeSafetensorsFile(options.outFile, files, { adapter: adapter ?? '', backend: model.backend.name });
  return { written: Object.keys(files) };
}
