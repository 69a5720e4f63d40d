import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Backend, Tensor } from '../../../engine/index.ts';
import { readSafetensorsFile, type HostTensor, type SafetensorsFile } from '../../../engine/io/index.ts';
import { ClaraModel, DEFAULT_SETTINGS } from '../../../clara/claraModel.ts';
import { validateConfig, type MistralConfig } from '../../../clara/model/config.ts';
import type { LoraConfig } from '../../../clara/model/lora.ts';
import { MistralForCausalLM } from '../../../clara/model/mistral.ts';
import type { GeneratorBatch } from '../../../clara/tokenizer/generatorBatch.ts';
import { fixtureTokenizer, idTokenizer, mismatch, upload, type Special, type Tolerance } from '../stage1/helpers.ts';

/**
 * The stage-3 golden fixture of reference/record_clara_stage3.py. Its texts are token ids: the
 * model's tokenizer is the stage-1 tests' `idTokenizer` over the compact layout (V = 64, n = 4), so
 * `t41 t17 t46` encodes to [41, 17, 46] and the library's own layout code (buildEncoderBatch inside
 * encodeQueries and compressCorpus) runs on the recorded ids.
 */
const STAGE3_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/clara/stage3_tiny.safetensors');

export interface Stage3Golden {
  file: SafetensorsFile;
  config: MistralConfig;
  lora: LoraConfig;
  adapters: string[];
  trained: string[];
  special: Special;
  nMem: number;
  docMaxLength: number;
  compressionRate: number;
  k: number;
  /** The recorded temperatures and the name prefix of each one's tensors (`tau0.02.`, `tau1.`). */
  temperatures: Array<{ tau: number; prefix: string }>;
  /** The bank's documents and the questions, as ids and as the id tokenizer's text. */
  documents: number[][];
  questions: number[][];
  documentTexts: string[];
  questionTexts: string[];
  /** (B, N) rows of the bank. */
  candidates: number[][];
  /** The recorded generator rows (k slots each). */
  generator: GeneratorBatch;
  host(name: string): HostTensor;
}

export function rows2d(h: HostTensor): number[][] {
  const [b, l] = h.shape as [number, number];
  const data = Array.from(h.data as ArrayLike<number>);
  return Array.from({ length: b }, (_, i) => data.slice(i * l, (i + 1) * l));
}

const idText = (ids: readonly number[]): string => ids.map((id) => `t${id}`).join(' ');

export function loadStage3Golden(): Stage3Golden {
  const file = readSafetensorsFile(STAGE3_FILE);
  const meta = file.metadata;
  const host = (name: string) => file.toHost(name);
  const positions = host('generator.memory_positions');
  const [b, k, n] = positions.shape as [number, number, number];
  const flat = Array.from(positions.data as ArrayLike<number>);
  const taus = JSON.parse(meta['temperatures']!) as number[];
  const prefixes = JSON.parse(meta['prefixes']!) as string[];
  const documents = JSON.parse(meta['documents']!) as number[][];
  const questions = JSON.parse(meta['questions']!) as number[][];
  return {
    file,
    config: validateConfig(JSON.parse(meta['config']!), STAGE3_FILE),
    lora: JSON.parse(meta['lora']!),
    adapters: JSON.parse(meta['adapters']!),
    trained: JSON.parse(meta['trained']!),
    special: JSON.parse(meta['special']!),
    nMem: Number(meta['n_mem']),
    docMaxLength: Number(meta['doc_max_length']),
    compressionRate: Number(meta['compression_rate']),
    k: Number(meta['k']),
    temperatures: taus.map((tau, i) => ({ tau, prefix: prefixes[i]! })),
    documents,
    questions,
    documentTexts: documents.map(idText),
    questionTexts: questions.map(idText),
    candidates: rows2d(host('candidates')),
    generator: {
      inputIds: rows2d(host('generator.input_ids')),
      attentionMask: rows2d(host('generator.attention_mask')),
      labels: rows2d(host('generator.labels')),
      memoryPositions: Array.from({ length: b }, (_, i) => Array.from({ length: k }, (_, j) => flat.slice((i * k + j) * n, (i * k + j + 1) * n))),
    },
    host,
  };
}

/**
 * The fixture's backbone with the recorded adapters (`only`: a subset of them) as a ClaraModel whose
 * tokenizer reads id text, on `backend`.
 */
export function stage3Clara(g: Stage3Golden, backend: Backend, only: readonly string[] = g.adapters): ClaraModel {
  const model = new MistralForCausalLM(g.config, { backend });
  const state: Record<string, Tensor> = {};
  for (const name of g.file.names()) if (name.startsWith('weights.')) state[name.slice('weights.'.length)] = upload(g.host(name), backend);
  model.loadStateDict(state); // strict: every base weight, nothing else
  for (const t of Object.values(state)) t.dispose();
  for (const adapter of only) {
    for (const layer of model.loraLayers()) {
      const A = upload(g.host(`adapter.${adapter}.${layer.path}.lora_A.weight`), backend);
      const B = upload(g.host(`adapter.${adapter}.${layer.path}.lora_B.weight`), backend);
      layer.setAdapter(adapter, g.lora, A, B);
      A.dispose();
      B.dispose();
    }
  }
  const settings = {
    ...DEFAULT_SETTINGS,
    docMaxLength: g.docMaxLength,
    compressionRate: g.compressionRate,
    questionMaxLength: 16,
    generationTopK: g.k,
    lora: g.lora,
  };
  return new ClaraModel(model, idTokenizer(fixtureTokenizer(g.nMem)), settings);
}

/** Largest |x| of a recorded tensor (the scale its absolute tolerance is taken from). */
export function maxAbs(h: HostTensor): number {
  let m = 0;
  for (const v of Array.from(h.data as ArrayLike<number>)) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * Per label: the largest |actual − expected| and the largest share of the tolerance used,
 * max |a − e| / (atol + rtol·|e|) (1 = at the limit). The test file prints both.
 */
export const used = new Map<string, { diff: number; share: number }>();

export async function expectWithin(actual: Tensor, expected: HostTensor, tol: Tolerance, what: string, group = what): Promise<void> {
  expect(actual.shape, `${what}: shape`).toEqual([...expected.shape]);
  const values = (await actual.toArray()) as ArrayLike<number>;
  const want = expected.data as ArrayLike<number>;
  let diff = values.length === want.length ? 0 : Infinity;
  let share = diff;
  for (let i = 0; i < Math.min(values.length, want.length); i++) {
    const e = Math.abs(values[i]! - want[i]!);
    diff = Math.max(diff, Number.isNaN(e) ? Infinity : e);
    const limit = tol.atol + tol.rtol * Math.abs(want[i]!);
    share = Math.max(share, e === 0 ? 0 : limit === 0 ? Infinity : e / limit);
  }
  const prev = used.get(group) ?? { diff: 0, share: 0 };
  used.set(group, { diff: Math.max(prev.diff, diff), share: Math.max(prev.share, share) });
  expect(mismatch(values, want, tol), what).toBeNull();
}
