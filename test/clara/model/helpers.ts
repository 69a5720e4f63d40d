import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { Generator, normal, tensor, type Backend, type Tensor, type TypedArray } from '../../../engine/index.ts';
import { readSafetensorsFile, type HostTensor, type SafetensorsFile } from '../../../engine/io/index.ts';
import { PRESETS, validateConfig, type MistralConfig } from '../../../clara/model/config.ts';
import type { LoraConfig } from '../../../clara/model/lora.ts';
import { MistralForCausalLM } from '../../../clara/model/mistral.ts';
import { mismatch, upload, type Tolerance } from '../../helpers/compare.ts';
export { maxAbsDiff, mismatch, upload, type Tolerance } from '../../helpers/compare.ts';

/** Shared by the model tests: the golden fixture of reference/record_mistral.py and random models (comparison: test/helpers/compare.ts). */

export async function expectClose(
  actual: Tensor,
  expected: HostTensor | { shape: readonly number[]; data: ArrayLike<number> },
  tol: Tolerance,
  what: string,
): Promise<void> {
  expect(actual.shape, `${what}: shape`).toEqual([...expected.shape]);
  expect(mismatch((await actual.toArray()) as ArrayLike<number> as TypedArray, expected.data as ArrayLike<number>, tol), what).toBeNull();
}

// ---- the golden fixture ---------------------------------------------------------------------

const GOLDEN_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/model/mistral_tiny.safetensors');

export interface Golden {
  file: SafetensorsFile;
  config: MistralConfig;
  lora: LoraConfig;
  adapters: string[];
  active: string;
  inactive: string;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  steps: number;
  /** Host 0/1 [B·S]. */
  mask: number[];
  batch: number;
  seq: number;
  host(name: string): HostTensor;
}

export function loadGolden(): Golden {
  const file = readSafetensorsFile(GOLDEN_FILE);
  const meta = file.metadata;
  const mask = file.toHost('attention_mask');
  return {
    file,
    config: validateConfig(JSON.parse(meta['config']!), GOLDEN_FILE),
    lora: JSON.parse(meta['lora']!),
    adapters: JSON.parse(meta['adapters']!),
    active: meta['active']!,
    inactive: meta['inactive']!,
    adamw: JSON.parse(meta['adamw']!),
    steps: Number(meta['steps']),
    mask: Array.from(mask.data as Int32Array),
    batch: mask.shape[0]!,
    seq: mask.shape[1]!,
    host: (name) => file.toHost(name),
  };
}

/** The tiny model with the fixture's base weights and both adapters, on `backend`. */
export function goldenModel(g: Golden, backend: Backend): MistralForCausalLM {
  const model = new MistralForCausalLM(g.config, { backend });
  const state: Record<string, Tensor> = {};
  for (const name of g.file.names()) if (name.startsWith('weights.')) state[name.slice('weights.'.length)] = upload(g.host(name), backend);
  model.loadStateDict(state); // strict: every base weight, nothing else
  for (const t of Object.values(state)) t.dispose();
  for (const adapter of g.adapters) {
    for (const layer of model.loraLayers()) {
      const A = upload(g.host(`adapter.${adapter}.${layer.path}.lora_A.weight`), backend);
      const B = upload(g.host(`adapter.${adapter}.${layer.path}.lora_B.weight`), backend);
      layer.setAdapter(adapter, g.lora, A, B);
      A.dispose();
      B.dispose();
    }
  }
  return model;
}

// ---- random models for the property tests --------------------------------------------------

const TEST_LORA: LoraConfig = { r: 4, alpha: 8, dropout: 0 };

/** A tiny model with random base weights (seeded) on `backend`. */
export function randomModel(seed: number, backend?: Backend, config: MistralConfig = PRESETS.tiny!): MistralForCausalLM {
  return new MistralForCausalLM(config, { rng: new Generator(seed), backend });
}

/** Adds adapter `name` with random, non-zero A and B (a trained-looking adapter, unlike a fresh one). */
export function addRandomAdapter(model: MistralForCausalLM, name: string, seed: number, lora: LoraConfig = TEST_LORA): void {
  const generator = new Generator(seed);
  const backend = model.backend;
  for (const layer of model.loraLayers()) {
    const A = normal([lora.r, layer.inFeatures], { generator, backend, std: 1 / Math.sqrt(layer.inFeatures) });
    const B = normal([layer.outFeatures, lora.r], { generator, backend, std: 0.2 });
    layer.setAdapter(name, lora, A, B);
    A.dispose();
    B.dispose();
  }
}

/** Random token ids in [1, V) as a host array. */
export function randomIds(generator: Generator, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => 1 + Math.floor(generator.uniform(0, 1) * (vocab - 1)));
}

export function ids(values: readonly number[], shape: readonly number[], backend?: Backend): Tensor {
  return tensor(Int32Array.from(values), shape, { dtype: 'int32', backend });
}

/** Rows of different lengths, left-padded with `padId` to the longest: ids and the 0/1 mask, flat. */
export function leftPad(rows: readonly number[][], padId = 0): { ids: number[]; mask: number[]; length: number } {
  const length = Math.max(...rows.map((r) => r.length));
  const out: number[] = [];
  const mask: number[] = [];
  for (const row of rows) {
    const pad = length - row.length;
    out.push(...new Array<number>(pad).fill(padId), ...row);
    mask.push(...new Array<number>(pad).fill(0), ...new Array<number>(row.length).fill(1));
  }
  return { ids: out, mask, length };
}
