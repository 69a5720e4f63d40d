import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter } from './checkpoint.ts';
import type { MistralForCausalLM } from './mistral.ts';

/**
 * Where a checkpoint keeps its LoRA adapters. Two layouts, each adapter a folder holding PEFT's
 * `adapter_config.json` and `adapter_model.safetensors`:
 *
 *   DIR/adapters/<name>/   this project's (ClaraModel.save)
 *   DIR/<name>/            PEFT's multi-adapter save (`model.save_pretrained(DIR)` with named
 *                          adapters), which is how an outside PyTorch checkpoint arrives
 *
 * Nothing else of ours is needed: the base model is DIR's Hugging Face files (or another folder).
 */
const ADAPTER_FILES = ['adapter_config.json', 'adapter_model.safetensors'];

function isAdapterDir(dir: string): boolean {
  return ADAPTER_FILES.every((f) => existsSync(join(dir, f)));
}

/** The folders searched for adapters of `dir`, in order. */
export function adapterSearchDirs(dir: string): string[] {
  return [join(dir, 'adapters'), dir];
}

/** Every adapter found under `dir`, by name → its folder (this project's layout first). */
function findAdapters(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const parent of adapterSearchDirs(dir)) {
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      const folder = join(parent, entry.name);
      if (entry.isDirectory() && !found.has(entry.name) && isAdapterDir(folder)) found.set(entry.name, folder);
    }
  }
  return found;
}

/**
 * Loads the adapters `names` (default: every one found) of `dir` into `model`; returns the names
 * loaded. A wanted adapter that is absent is an error naming the folders searched.
 */
export function loadAdapters(model: MistralForCausalLM, dir: string, names?: readonly string[]): string[] {
  const found = findAdapters(dir);
  const wanted = names ?? [...found.keys()].sort();
  for (const name of wanted) {
    const folder = found.get(name);
    if (folder === undefined) {
      const where = adapterSearchDirs(dir).map((d) => join(d, name));
      throw new Error(`adapter '${name}' not found: looked for ${ADAPTER_FILES.join(' and ')} in ${where.join(' and ')}`);
    }
    loadAdapter(model, name, folder);
  }
  return [...wanted];
}

/** A LoRA parameter's name as PEFT's multi-adapter model names it (`….lora_A.<adapter>.weight`). */
export function peftParameterName(adapter: string, key: string): string {
  return `base_model.model.${key.replace(/\.lora_([AB])\.weight$/, `.lora_$1.${adapter}.weight`)}`;
}
