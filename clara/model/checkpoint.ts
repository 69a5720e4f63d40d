import { mkdirSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { bytesPerElement, getDefaultBackend, halfTable, isHalf, noGrad, tensor, tidy, type Backend, type HalfDType, type Tensor } from '../../engine/index.ts';
import {
  atomicWriteFile,
  float32ToBf16Array,
  float32ToF16Array,
  readJsonFile,
  readSafetensorsFile,
  TensorStream,
  writeSafetensorsFile,
  writeShardedCheckpoint,
  type HostTensor,
  type SafetensorsDType,
  type TensorToWrite,
} from '../../engine/io/index.ts';
import { RowBlocks, type Parameter } from '../../engine/nn/index.ts';
import { validateConfig, type MistralConfig } from './config.ts';
import { DEFAULT_LORA, type LoraConfig } from './lora.ts';
import { MistralForCausalLM } from './mistral.ts';

/**
 * Checkpoints in Hugging Face's layout: a directory with `config.json` and either
 * `model.safetensors` or shards listed in `model.safetensors.index.json`, tensors named
 * `model.embed_tokens.weight`, `model.layers.{i}.self_attn.q_proj.weight`, …, `lm_head.weight`;
 * float32, bfloat16 or float16 on disk. Loading streams the files tensor by tensor
 * (engine/io/tensorStream.ts) and either widens every weight to float32 (the default) or keeps the
 * frozen matrices 16-bit (`dtype: 'bfloat16'`: a 7B base in 14.5 GB instead of 29).
 * LoRA adapters are saved as PEFT does: `adapter_model.safetensors` (keys
 * `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`) and `adapter_config.json`.
 */

export type StorageDType = 'float32' | 'bfloat16' | 'float16';

/** Rotary frequency buffers some checkpoints carry; they are recomputed, never loaded. */
const IGNORED = /\.rotary_emb\.inv_freq$/;

export function loadConfigFromDir(dir: string): MistralConfig {
  const file = join(dir, 'config.json');
  return validateConfig(readJsonFile(file, 'the model config') as Record<string, unknown>, file);
}

export interface LoadModelOptions {
  backend?: Backend;
  /**
   * How the frozen matrices (the projections, the embedding table, lm_head) are held: `float32`
   * (the default) widens every weight, as a float32 model; `bfloat16` / `float16` keep them 2 bytes
   * per parameter (a checkpoint's values of that format are uploaded as they are, others rounded);
   * `auto` keeps the checkpoint's own format: 16-bit if its embedding table is stored 16-bit, else
   * float32 (transformers' `torch_dtype="auto"`). The norms and the LoRA adapters are float32 either way.
   */
  dtype?: LoadDType;
}

export type LoadDType = 'auto' | 'float32' | HalfDType;

/** What `dtype` means for these weights: `auto` resolved to the embedding table's stored format. */
function resolveDtype(dtype: LoadDType, weights: WeightSource): 'float32' | HalfDType {
  if (dtype !== 'auto') return dtype;
  const stored = weights.has(EMBEDDING) ? weights.info(EMBEDDING).dtype : null;
  return stored === 'BF16' ? 'bfloat16' : stored === 'F16' ? 'float16' : 'float32';
}

const EMBEDDING = 'model.embed_tokens.weight';

/**
 * Loads a model from a checkpoint directory onto `backend`. The weights are read one tensor at a
 * time straight from the files, so host memory beyond the model's own stays within the largest
 * tensor; a model that would not fit in the memory available is refused before anything is loaded.
 */
export function loadModel(dir: string, options: LoadModelOptions = {}): MistralForCausalLM {
  const config = loadConfigFromDir(dir);
  const weights = TensorStream.open(dir);
  try {
    return loadModelFrom(weights, config, dir, options);
  } finally {
    weights.close();
  }
}

/**
 * What loading reads the checkpoint's tensors from: a directory's TensorStream, or one with some
 * tensors taken from elsewhere (a released CLaRa checkpoint's embedding table and lm_head,
 * clara/checkpoints/official.ts), so that both paths share one loading logic.
 */
export type WeightSource = Pick<TensorStream, 'names' | 'has' | 'info' | 'read' | 'readFloat32'>;

/**
 * loadModel's work on an open source of weights, for the model `config` describes; `where` names the
 * source in errors. `adapterBytes`: the bytes of float32 adapters the caller adds after loading,
 * counted by the memory check with the weights.
 */
export function loadModelFrom(
  weights: WeightSource,
  config: MistralConfig,
  where: string,
  options: LoadModelOptions & { adapterBytes?: number } = {},
): MistralForCausalLM {
  const backend = options.backend ?? getDefaultBackend();
  const dtype = resolveDtype(options.dtype ?? 'float32', weights);
  checkTensorLimit(weights, backend, dtype, where);
  const weightDtype = dtype === 'float32' ? undefined : dtype;
  const residentBefore = process.memoryUsage.rss();
  const model = new MistralForCausalLM(config, { backend, weightDtype, initialize: false });
  // What creating the parameters already took (Dawn zero-fills its buffers; the CPU backend's
  // untouched zero pages take nothing): the memory check counts only what loading will add.
  const held = Math.max(0, process.memoryUsage.rss() - residentBefore);
  loadWeights(model, weights, where, options.adapterBytes ?? 0, held);
  return model;
}

/** Where one checkpoint tensor goes: a parameter, from row `row` of the tensor on. */
interface Part {
  param: Parameter;
  row: number;
}

/**
 * The model's checkpoint tensors by name, each with the parameters that hold it: one parameter, or
 * the blocks of a matrix held by rows (engine/nn/rowBlocks.ts: `model.embed_tokens.weight` is then
 * held by `model.embed_tokens.weight.0`, `.1`, …).
 */
function checkpointTensors(model: MistralForCausalLM): Map<string, Part[]> {
  const blockOf = new Map<Parameter, { name: string; row: number }>();
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof RowBlocks)) continue;
    m.blocks.forEach((block, i) => {
      blockOf.set(block, { name: path, row: m.starts[i]! });
    });
  }
  const out = new Map<string, Part[]>();
  for (const [name, param] of model.namedParameters()) {
    const { name: whole, row } = blockOf.get(param) ?? { name, row: 0 };
    out.set(whole, [...(out.get(whole) ?? []), { param, row }]);
  }
  return out;
}

/** The shape of the tensor `parts` hold together (stacked by rows). */
function wholeShape(parts: readonly Part[]): number[] {
  const [first, ...rest] = parts.map((p) => p.param.shape);
  return [first![0]! + rest.reduce((sum, s) => sum + s[0]!, 0), ...first!.slice(1)];
}

function loadWeights(model: MistralForCausalLM, weights: WeightSource, where: string, adapterBytes: number, held: number): void {
  const expected = checkpointTensors(model);
  const missing = [...expected.keys()].filter((name) => !weights.has(name));
  if (missing.length > 0)
    throw new Error(`${where}: checkpoint is missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  const unexpected = weights.names().filter((name) => !expected.has(name) && !IGNORED.test(name));
  if (unexpected.length > 0)
    throw new Error(`${where}: checkpoint has unexpected tensor(s): ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', …' : ''}`);
  checkMemory(model, where, adapterBytes, held);
  // Each assign below releases a parameter's first storage; with the norms' fills submitted, the
  // next upload of its size takes it, instead of allocating beside it (measured on llvmpipe: a
  // model loaded holding twice its weights, and a 7B one killed for want of memory).
  model.backend.flush?.();
  for (const [name, parts] of expected) assignFromStream(parts, weights, name, `${where}: ${name}`);
}

/**
 * Refuses, naming it, a checkpoint tensor larger than the backend's largest tensor (WebGPU's
 * maxStorageBufferBindingSize, 128 MiB on llvmpipe) that the model would not split: only 16-bit
 * matrices the model reads by rows (the embedding table, lm_head) are held as row blocks.
 */
function checkTensorLimit(weights: WeightSource, backend: Backend, weightDtype: 'float32' | HalfDType, where: string): void {
  const limit = backend.maxTensorBytes ?? Number.POSITIVE_INFINITY;
  for (const name of weights.names()) {
    const { shape } = weights.info(name);
    const dtype = shape.length === 2 ? weightDtype : 'float32'; // the norms are float32 either way
    const bytes = shape.reduce((p, d) => p * d, 1) * bytesPerElement(dtype);
    const split = isHalf(dtype) && (name === EMBEDDING || name === 'lm_head.weight');
    if (bytes > limit && !split) {
      const gpu = backend.name === 'webgpu';
      throw new Error(
        `${where}: ${name} [${shape.join(', ')}] needs ${bytes} bytes as ${dtype}, more than the ${backend.name} backend's largest tensor (${limit} bytes${gpu ? ": the adapter's maxStorageBufferBindingSize" : ''}): ` +
          [
            dtype === 'float32' ? 'load it with --dtype bfloat16 (half the bytes; the embedding table and lm_head are then split by rows)' : '',
            gpu ? 'use the CPU backend (CLARA_BACKEND=cpu), which has no such limit' : '',
          ]
            .filter((s) => s !== '')
            .join(', or '),
      );
    }
  }
}

/**
 * A NaN or infinite weight would load, evaluate with exit 0 and give wrong numbers (a NaN in one
 * LoRA B turns every score it touches into NaN): it is refused, naming the tensor and an index.
 */
function checkFinite(host: Pick<HostTensor, 'data'>, where: string): void {
  const data = host.data as ArrayLike<number>;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`${where}: value ${data[i]} at flat index ${i} (a checkpoint holds finite weights only)`);
  }
}

/**
 * The same check on 16-bit values kept as stored: a value is NaN or infinite when all its exponent
 * bits (`exponentMask`: 0x7f80 for bfloat16, 0x7c00 for float16) are set.
 */
function checkFiniteBits(bits: Uint16Array, exponentMask: number, where: string): void {
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & exponentMask) === exponentMask) throw new Error(`${where}: a non-finite value at flat index ${i} (a checkpoint holds finite weights only)`);
  }
}

/**
 * Refuses, with the numbers, a model whose weights would not fit in the memory available: on a
 * backend whose storage is host memory (the CPU backend, WebGPU on a software adapter) the weights
 * plus the one tensor in flight must fit in what the OS reports free. The parameters exist already,
 * zero-filled: on the CPU backend untouched zero pages cost no memory until the weights are
 * written into them, but Dawn writes its zeros, so there the parameters already hold their memory
 * (`held`, measured by the caller: 14.7 GB for a 7B model in bf16 on llvmpipe) and only the rest is
 * still needed. `adapterBytes`: the float32 adapters a released checkpoint adds once the weights are in.
 */
function checkMemory(model: MistralForCausalLM, where: string, adapterBytes: number, held: number): void {
  if (!model.backend.usesHostMemory) return;
  let total = 0;
  let largest = 0;
  for (const p of model.parameters()) {
    const bytes = p.size * bytesPerElement(p.dtype);
    total += bytes;
    largest = Math.max(largest, bytes);
  }
  // The largest tensor is read from disk and then copied into the backend's storage.
  const needed = total + adapterBytes + 2 * largest;
  const stillNeeded = Math.max(adapterBytes + 2 * largest, needed - held);
  const available = freemem();
  if (stillNeeded > available) {
    const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
    const dtypes = [...new Set(model.parameters().map((p) => p.dtype))].join(' and ');
    throw new Error(
      `${where}: the weights need ${gb(needed)} (${gb(total)} of ${dtypes} parameters${adapterBytes > 0 ? `, ${gb(adapterBytes)} of float32 adapters` : ''} and ${gb(2 * largest)} for loading the largest tensor)` +
        `${held > 0 ? `, of which the backend holds ${gb(held)} already` : ''}, but only ${gb(available)} more is available: ` +
        `${dtypes === 'float32' ? 'load with dtype bfloat16 (half the size), or ' : ''}free memory first`,
    );
  }
}

/** The engine's name of a non-float stored type, for the error. */
const STORED_AS: Partial<Record<SafetensorsDType, string>> = { BOOL: 'bool', I64: 'int32', I32: 'int32', I16: 'int32', I8: 'int32', U8: 'int32' };

function assignFromStream(parts: readonly Part[], weights: WeightSource, name: string, where: string): void {
  const { dtype, shape } = weights.info(name);
  const expected = wholeShape(parts);
  if (shape.join() !== expected.join()) throw new Error(`${where}: expected shape [${expected.join(', ')}], found [${shape.join(', ')}]`);
  if (STORED_AS[dtype] !== undefined) throw new Error(`${where}: expected a floating-point tensor, found ${STORED_AS[dtype]}`);
  // 16-bit values of the parameter's own format go up as they are; anything else is read as
  // float32 (or float64) and rounded by `tensor` to the parameter's dtype on the host.
  const target = parts[0]!.param.dtype;
  const asStored = (dtype === 'BF16' && target === 'bfloat16') || (dtype === 'F16' && target === 'float16');
  const data = asStored ? (weights.read(name) as Uint16Array) : weights.readFloat32(name).data;
  if (asStored) checkFiniteBits(data as Uint16Array, dtype === 'BF16' ? 0x7f80 : 0x7c00, where);
  else checkFinite({ data }, where);
  const rowSize = shape.slice(1).reduce((p, d) => p * d, 1);
  for (const { param, row } of parts) {
    const rows = data.subarray(row * rowSize, (row + param.shape[0]!) * rowSize);
    noGrad(() => tidy(() => param.assign(tensor(rows, param.shape, { dtype: param.dtype, backend: param.backend }))));
  }
}

/**
 * A tensor, or the row blocks of one (stacked in order), as safetensors data of `dtype`: the values
 * are gathered on the host, so a matrix too large for one backend tensor is written whole.
 */
export async function toWritable(t: Tensor | readonly Tensor[], dtype: StorageDType): Promise<TensorToWrite> {
  const parts = Array.isArray(t) ? t : [t as Tensor];
  const values = new Float32Array(parts.reduce((n, p) => n + p.size, 0));
  let at = 0;
  for (const p of parts) {
    const host = await p.toArray();
    if (isHalf(p.dtype)) {
      // 16-bit storage reads back as bit patterns: widen them (exactly) to their values.
      const table = halfTable(p.dtype);
      for (let i = 0; i < host.length; i++) values[at + i] = table[host[i]!]!;
    } else values.set(host, at);
    at += p.size;
  }
  const shape = parts.length === 1 ? parts[0]!.shape : [parts.reduce((n, p) => n + p.shape[0]!, 0), ...parts[0]!.shape.slice(1)];
  if (dtype === 'bfloat16') return { dtype: 'BF16', shape, data: float32ToBf16Array(values) };
  if (dtype === 'float16') return { dtype: 'F16', shape, data: float32ToF16Array(values) };
  return { dtype: 'F32', shape, data: values };
}

export interface SaveModelOptions {
  dtype?: StorageDType;
  /** Split into shards of at most this many bytes (with an index); default one file. */
  maxShardBytes?: number;
}

/** Writes config.json and the weights (atomically, file by file). */
export async function saveModel(model: MistralForCausalLM, dir: string, options: SaveModelOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, parts] of checkpointTensors(model))
    tensors[name] = await toWritable(
      parts.map((p) => p.param),
      options.dtype ?? 'float32',
    );
  const metadata = { format: 'pt' };
  if (options.maxShardBytes !== undefined) writeShardedCheckpoint(dir, tensors, { maxShardBytes: options.maxShardBytes, metadata });
  else writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, metadata);
  atomicWriteFile(join(dir, 'config.json'), [
    new TextEncoder().encode(`${JSON.stringify({ architectures: ['MistralForCausalLM'], model_type: 'mistral', ...model.config }, null, 2)}\n`),
  ]);
}

const PEFT_PREFIX = 'base_model.model.';
const TARGET_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Saves one adapter as PEFT does, into `dir` (adapter_model.safetensors + adapter_config.json). */
export async function saveAdapter(model: MistralForCausalLM, name: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const params = model.adapterParameters(name);
  const config = model.loraLayers()[0]!.adapter(name).config;
  const tensors: Record<string, TensorToWrite> = {};
  for (const [key, p] of params) tensors[PEFT_PREFIX + key] = await toWritable(p, 'float32');
  writeSafetensorsFile(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  const peftConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: config.r,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    target_modules: TARGET_MODULES,
    bias: 'none',
    adapter_name: name,
  };
  atomicWriteFile(join(dir, 'adapter_config.json'), [new TextEncoder().encode(`${JSON.stringify(peftConfig, null, 2)}\n`)]);
}

/**
 * Loads a PEFT adapter directory into the model under `name` (replacing one of that name).
 * Keys may carry PEFT's `base_model.model.` prefix and an adapter-name segment (`lora_A.default.weight`).
 */
export function loadAdapter(model: MistralForCausalLM, name: string, dir: string): void {
  const raw = readJsonFile(join(dir, 'adapter_config.json'), 'the adapter config') as Record<string, unknown>;
  const config: LoraConfig = {
    r: Number(raw.r ?? DEFAULT_LORA.r),
    alpha: Number(raw.lora_alpha ?? DEFAULT_LORA.alpha),
    dropout: Number(raw.lora_dropout ?? DEFAULT_LORA.dropout),
  };
  const file = readSafetensorsFile(join(dir, 'adapter_model.safetensors'));
  const byKey = new Map<string, string>();
  for (const stored of file.names()) byKey.set(stored.replace(PEFT_PREFIX, '').replace(/\.lora_([AB])\.[^.]+\.weight$/, '.lora_$1.weight'), stored);
  for (const layer of model.loraLayers()) {
    const get = (which: 'A' | 'B'): Tensor => {
      const key = `${layer.path}.lora_${which}.weight`;
      const stored = byKey.get(key);
      if (stored === undefined) throw new Error(`${dir}: adapter file has no tensor for ${key}`);
      const host = file.toHost(stored);
      checkFinite(host, `${join(dir, 'adapter_model.safetensors')}: ${stored}`);
      return tensor(host.data, host.shape, { dtype: host.dtype, backend: model.backend });
    };
    const A = get('A');
    const B = get('B');
    layer.setAdapter(name, config, A, B);
    A.dispose();
    B.dispose();
  }
}
