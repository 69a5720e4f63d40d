import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend, Generator, setDefaultBackend } from '../../../engine/index.ts';
import {
  bf16ToFloat32Array,
  f16ToFloat32Array,
  float32ToBf16Array,
  float32ToF16Array,
  hostToSafetensors,
  INDEX_FILE,
  readSafetensorsFile,
  writeSafetensorsFile,
  type TensorToWrite,
} from '../../../engine/io/index.ts';
import { loadAdapter, loadConfigFromDir, loadModel, saveAdapter, saveModel } from '../../../clara/model/checkpoint.ts';
import type { MistralForCausalLM } from '../../../clara/model/mistral.ts';
import { addRandomAdapter, ids, maxAbsDiff, randomIds, randomModel } from './helpers.ts';

/**
 * Checkpoints in Hugging Face's layout and adapters in PEFT's: what is saved loads back to a model
 * with identical outputs (float32: bit for bit), 16-bit files keep their 16-bit values exactly, and
 * a broken checkpoint fails with an error that names the file and the problem.
 */

setDefaultBackend(cpuBackend);
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'clara-checkpoint-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (label: string) => path.join(ROOT, `${label}-${dirCount++}`);

const V = 64;
const x = ids(randomIds(new Generator(99), 2 * 5, V), [2, 5]);
const MASK = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

async function logits(model: MistralForCausalLM, adapter: string | null = null): Promise<number[]> {
  return Array.from(await model.forward({ inputIds: x, attentionMask: MASK, adapter }).logits!.toArray());
}

async function parameters(model: MistralForCausalLM): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) out.set(name, (await p.toArray()) as Float32Array);
  return out;
}

/** Rewrites `file` after `edit` changed its tensors (as host tensors to write). */
function rewrite(file: string, edit: (tensors: Record<string, TensorToWrite>) => void): void {
  const f = readSafetensorsFile(file);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of f.names()) tensors[name] = hostToSafetensors(f.toHost(name));
  edit(tensors);
  writeSafetensorsFile(file, tensors, { format: 'pt' });
}

describe('model checkpoints (Hugging Face layout)', () => {
  const model = randomModel(5);

  it('float32, one file: HF names and config fields; loads back bit for bit with identical outputs', async () => {
    const dir = freshDir('f32');
    await saveModel(model, dir);
    const file = readSafetensorsFile(path.join(dir, 'model.safetensors'));
    expect(file.names()).toContain('model.embed_tokens.weight');
    expect(file.names()).toContain('model.layers.1.self_attn.q_proj.weight');
    expect(file.names()).toContain('model.layers.0.post_attention_layernorm.weight');
    expect(file.names()).toContain('model.norm.weight');
    expect(file.names()).toContain('lm_head.weight');
    expect(file.names().some((n) => n.includes('lora'))).toBe(false);
    expect(file.names()).toHaveLength(model.namedParameters().length);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'mistral', architectures: ['MistralForCausalLM'], ...model.config });
    expect(loadConfigFromDir(dir)).toEqual(model.config);

    const loaded = loadModel(dir);
    const [a, b] = [await parameters(model), await parameters(loaded)];
    for (const [name, values] of a) expect(b.get(name), name).toEqual(values);
    expect(await logits(loaded)).toEqual(await logits(model));
    for (const [name, p] of loaded.namedParameters()) expect(p.requiresGrad, name).toBe(false);
    loaded.dispose();
  });

  it('float32, sharded with an index: loads back with identical outputs', async () => {
    const dir = freshDir('sharded');
    await saveModel(model, dir, { maxShardBytes: 16 * 1024 });
    const index = JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8'));
    const shards = new Set(Object.values(index.weight_map as Record<string, string>));
    expect(shards.size).toBeGreaterThan(2);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const loaded = loadModel(dir);
    expect(await logits(loaded)).toEqual(await logits(model));
    loaded.dispose();
  });

  it.each([
    ['bfloat16', 'BF16', float32ToBf16Array, bf16ToFloat32Array],
    ['float16', 'F16', float32ToF16Array, f16ToFloat32Array],
  ] as const)('%s files load as the widened 16-bit values and save back to the same 16 bits', async (dtype, tag, narrow, widen) => {
    const dir = freshDir(dtype);
    await saveModel(model, dir, { dtype });
    const file = readSafetensorsFile(path.join(dir, 'model.safetensors'));
    for (const name of file.names()) expect(file.info(name).dtype, name).toBe(tag);
    const loaded = loadModel(dir);
    const original = await parameters(model);
    for (const [name, values] of await parameters(loaded)) {
      expect(values, name).toEqual(widen(narrow(original.get(name)!))); // round to nearest even, widened exactly
    }
    // Save the loaded model again, in 16 bits and sharded: the very same 16-bit values.
    const again = freshDir(`${dtype}-again`);
    await saveModel(loaded, again, { dtype, maxShardBytes: 8 * 1024 });
    const reloaded = loadModel(again);
    for (const name of file.names()) {
      const shardedValues = await reloaded
        .namedParameters()
        .find(([n]) => n === name)![1]
        .toArray();
      expect(narrow(shardedValues as Float32Array), name).toEqual(file.view(name));
    }
    expect(await logits(reloaded)).toEqual(await logits(loaded));
    // And the 16-bit model stays close to the float32 one (a sanity check on the rounding, not exactness).
    expect(maxAbsDiff(await logits(loaded), await logits(model))).toBeLessThan(dtype === 'float16' ? 0.01 : 0.1);
    loaded.dispose();
    reloaded.dispose();
  });
});

describe('adapters (PEFT layout)', () => {
  it('save then load into a model loaded from the same checkpoint: identical outputs with the adapter', async () => {
    const model = randomModel(11);
    addRandomAdapter(model, 'decoder_adapter', 12, { r: 4, alpha: 8, dropout: 0.1 });
    const modelDir = freshDir('base');
    const adapterDir = freshDir('adapter');
    await saveModel(model, modelDir);
    await saveAdapter(model, 'decoder_adapter', adapterDir);

    const file = readSafetensorsFile(path.join(adapterDir, 'adapter_model.safetensors'));
    expect(file.names()).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(file.names()).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(file.names()).toHaveLength(model.config.num_hidden_layers * 7 * 2);
    const config = JSON.parse(fs.readFileSync(path.join(adapterDir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0.1 });
    expect([...config.target_modules].sort()).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);

    const loaded = loadModel(modelDir);
    loadAdapter(loaded, 'generator', adapterDir); // any name
    model.eval();
    loaded.eval();
    expect(await logits(loaded, 'generator')).toEqual(await logits(model, 'decoder_adapter'));
    expect(loaded.loraLayers()[0]!.adapter('generator').config).toEqual({ r: 4, alpha: 8, dropout: 0.1 });
    // Loaded adapters train; the base does not.
    for (const [, p] of loaded.adapterParameters('generator')) expect(p.requiresGrad).toBe(true);
    for (const [, p] of loaded.namedParameters()) expect(p.requiresGrad).toBe(false);

    // PEFT's in-memory naming, with the adapter name inside the key, loads too; and loading
    // under an existing name replaces that adapter.
    rewrite(path.join(adapterDir, 'adapter_model.safetensors'), (tensors) => {
      for (const key of Object.keys(tensors)) {
        tensors[key.replace(/\.lora_([AB])\.weight$/, '.lora_$1.default.weight')] = tensors[key]!;
        delete tensors[key];
      }
    });
    addRandomAdapter(loaded, 'other', 13);
    loadAdapter(loaded, 'other', adapterDir);
    expect(await logits(loaded, 'other')).toEqual(await logits(model, 'decoder_adapter'));
    model.dispose();
    loaded.dispose();
  });
});

describe('bad checkpoints give clear errors', () => {
  const model = randomModel(21);
  addRandomAdapter(model, 'x', 22);
  const saved = async () => {
    const dir = freshDir('bad');
    await saveModel(model, dir);
    return dir;
  };

  it('a missing tensor', async () => {
    const dir = await saved();
    rewrite(path.join(dir, 'model.safetensors'), (t) => delete t['model.layers.1.mlp.up_proj.weight']);
    expect(() => loadModel(dir)).toThrow(/checkpoint is missing 1 tensor\(s\): model\.layers\.1\.mlp\.up_proj\.weight/);
  });

  it('a tensor of the wrong shape', async () => {
    const dir = await saved();
    rewrite(path.join(dir, 'model.safetensors'), (t) => {
      t['model.norm.weight'] = { dtype: 'F32', shape: [31], data: new Float32Array(31) };
    });
    expect(() => loadModel(dir)).toThrow(/model\.norm\.weight: expected shape \[32\], found \[31\]/);
  });

  it('a tensor of an integer type', async () => {
    const dir = await saved();
    rewrite(path.join(dir, 'model.safetensors'), (t) => {
      t['model.norm.weight'] = { dtype: 'I32', shape: [32], data: new Int32Array(32) };
    });
    expect(() => loadModel(dir)).toThrow(/model\.norm\.weight: expected a floating-point tensor, found int32/);
  });

  it('an unexpected tensor (but rotary inv_freq buffers are ignored)', async () => {
    const dir = await saved();
    rewrite(path.join(dir, 'model.safetensors'), (t) => {
      t['model.layers.0.self_attn.rotary_emb.inv_freq'] = { dtype: 'F32', shape: [4], data: new Float32Array(4) };
    });
    expect(() => loadModel(dir)).not.toThrow();
    rewrite(path.join(dir, 'model.safetensors'), (t) => {
      t['model.layers.0.self_attn.q_proj.bias'] = { dtype: 'F32', shape: [32], data: new Float32Array(32) };
    });
    expect(() => loadModel(dir)).toThrow(/unexpected tensor\(s\): model\.layers\.0\.self_attn\.q_proj\.bias/);
  });

  it('a config without a required field, with a bad value, or not JSON', async () => {
    const dir = await saved();
    const configFile = path.join(dir, 'config.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    const { hidden_size: _, ...withoutHidden } = config;
    fs.writeFileSync(configFile, JSON.stringify(withoutHidden));
    expect(() => loadModel(dir)).toThrow(/config\.json: field "hidden_size" must be a positive integer, got undefined/);
    fs.writeFileSync(configFile, JSON.stringify({ ...config, num_key_value_heads: 3 }));
    expect(() => loadModel(dir)).toThrow(/num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
    fs.writeFileSync(configFile, '{ not json');
    expect(() => loadModel(dir)).toThrow(/config\.json: cannot read the model config/);
    fs.rmSync(configFile);
    expect(() => loadModel(dir)).toThrow(/config\.json: cannot read the model config/);
  });

  it('a config that does not match the weights', async () => {
    const dir = await saved();
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), intermediate_size: 48 }));
    expect(() => loadModel(dir)).toThrow(/model\.layers\.0\.mlp\.gate_proj\.weight: expected shape \[48, 32\], found \[64, 32\]/);
  });

  it('no weights at all', async () => {
    const dir = await saved();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    expect(() => loadModel(dir)).toThrow(/no model\.safetensors or model\.safetensors\.index\.json found/);
  });

  it('an adapter with a missing tensor, a wrong shape, or no config', async () => {
    const dir = freshDir('bad-adapter');
    await saveAdapter(model, 'x', dir);
    const file = path.join(dir, 'adapter_model.safetensors');
    const original = fs.readFileSync(file);
    rewrite(file, (t) => delete t['base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight']);
    expect(() => loadAdapter(model, 'y', dir)).toThrow(/adapter file has no tensor for model\.layers\.1\.self_attn\.v_proj\.lora_B\.weight/);
    fs.writeFileSync(file, original);
    rewrite(file, (t) => {
      t['base_model.model.model.layers.0.mlp.up_proj.lora_A.weight'] = { dtype: 'F32', shape: [4, 31], data: new Float32Array(124) };
    });
    expect(() => loadAdapter(model, 'y', dir)).toThrow(/model\.layers\.0\.mlp\.up_proj: adapter 'y': lora_A must have shape \[4, 32\], got \[4, 31\]/);
    fs.writeFileSync(file, original);
    fs.rmSync(path.join(dir, 'adapter_config.json'));
    expect(() => loadAdapter(model, 'y', dir)).toThrow(/adapter_config\.json: cannot read the adapter config/);
  });
});
