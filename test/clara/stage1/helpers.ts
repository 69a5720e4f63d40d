import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Backend, Tensor, TypedArray } from '../../../engine/index.ts';
import { readSafetensorsFile, type HostTensor, type SafetensorsFile } from '../../../engine/io/index.ts';
import { ClaraModel, DEFAULT_SETTINGS } from '../../../clara/claraModel.ts';
import type { Batch } from '../../../clara/examples.ts';
import { validateConfig, type MistralConfig } from '../../../clara/model/config.ts';
import type { LoraConfig } from '../../../clara/model/lora.ts';
import { MistralForCausalLM } from '../../../clara/model/mistral.ts';
import { splitOnSpecialTokens } from '../../../clara/tokenizer/addedTokens.ts';
import { CompactTokenizer } from '../../../clara/tokenizer/compactTokenizer.ts';
import type { Tokenizer } from '../../../clara/tokenizer/tokenizer.ts';
import { maxAbsDiff, mismatch, upload, type Tolerance } from '../../helpers/compare.ts';
export { maxAbsDiff, mismatch, upload, type Tolerance } from '../../helpers/compare.ts';

/** The stage-1 golden fixture of reference/record_clara_stage1.py (comparison: test/helpers/compare.ts). */

/** Largest |actual − expected| seen by `expectClose`, per label: the test file prints them. */
export const observed = new Map<string, number>();

export async function expectClose(actual: Tensor, expected: HostTensor, tol: Tolerance, what: string, group = what): Promise<void> {
  expect(actual.shape, `${what}: shape`).toEqual([...expected.shape]);
  const values = (await actual.toArray()) as ArrayLike<number> as TypedArray;
  observed.set(group, Math.max(observed.get(group) ?? 0, maxAbsDiff(values, expected.data as ArrayLike<number>)));
  expect(mismatch(values, expected.data as ArrayLike<number>, tol), what).toBeNull();
}

// ---- the fixture ----------------------------------------------------------------------------

const STAGE1_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/clara/stage1_tiny.safetensors');

export interface Special {
  unk: number;
  bos: number;
  eos: number;
  pad: number;
  mem: number[];
  ae: number;
  enc: number;
  sep: number;
}

export interface Stage1Golden {
  file: SafetensorsFile;
  config: MistralConfig;
  lora: LoraConfig;
  adapters: string[];
  special: Special;
  mseWeight: number;
  nMem: number;
  docMaxLength: number;
  compressionRate: number;
  /** The recorded rows as the library's Batch (B = docs, k = 1). */
  batch: Batch;
  host(name: string): HostTensor;
}

function rows(h: HostTensor): number[][] {
  const [b, l] = h.shape as [number, number];
  const data = Array.from(h.data as Int32Array);
  return Array.from({ length: b }, (_, i) => data.slice(i * l, (i + 1) * l));
}

export function loadStage1Golden(): Stage1Golden {
  const file = readSafetensorsFile(STAGE1_FILE);
  const meta = file.metadata;
  const host = (name: string) => file.toHost(name);
  const genPositions = host('generator.memory_positions');
  const [b, k, n] = genPositions.shape as [number, number, number];
  const flat = Array.from(genPositions.data as Int32Array);
  return {
    file,
    config: validateConfig(JSON.parse(meta['config']!), STAGE1_FILE),
    lora: JSON.parse(meta['lora']!),
    adapters: JSON.parse(meta['adapters']!),
    special: JSON.parse(meta['special']!),
    mseWeight: Number(meta['mse_weight']),
    nMem: Number(meta['n_mem']),
    docMaxLength: Number(meta['doc_max_length']),
    compressionRate: Number(meta['compression_rate']),
    batch: {
      encoder: {
        inputIds: rows(host('encoder.input_ids')),
        attentionMask: rows(host('encoder.attention_mask')),
        memoryPositions: rows(host('encoder.memory_positions')),
      },
      generator: {
        inputIds: rows(host('generator.input_ids')),
        attentionMask: rows(host('generator.attention_mask')),
        labels: rows(host('generator.labels')),
        memoryPositions: Array.from({ length: b }, (_, i) => Array.from({ length: k }, (_, j) => flat.slice((i * k + j) * n, (i * k + j + 1) * n))),
      },
    },
    host,
  };
}

/**
 * The compact tokenizer whose id layout the fixture uses: 54 kept pieces, so V = 3 + 54 + n + 3 = 64
 * with `<MEM0..3>` = 57…60, `<AE>` 61, `<ENC>` 62, `<SEP>` 63, pad = `<s>` = 1. Only its ids matter
 * (the fixture's rows are built from ids, not text).
 */
export function fixtureTokenizer(nMem: number): CompactTokenizer {
  return new CompactTokenizer(
    Array.from({ length: 54 }, (_, i) => 1000 + i),
    { nMem },
  );
}

/**
 * A tokenizer with `base`'s ids whose ordinary text is written as ids: `t17 t4` → [17, 4]; special
 * tokens in the text (`<ENC>`, `<s>`, `<MEM0>`, …) are cut out as the real tokenizers cut them. It lets
 * the library's layout code (buildEncoderBatch, …) run on the fixture's token ids.
 */
export function idTokenizer(base: Tokenizer): Tokenizer {
  const specials = new Map<string, number>([
    ['<unk>', base.unkId],
    ['<s>', base.bosId],
    ['</s>', base.eosId],
    ...base.special.mem.map((id, i) => [`<MEM${i}>`, id] as [string, number]),
    ['<AE>', base.special.ae],
    ['<ENC>', base.special.enc],
    ['<SEP>', base.special.sep],
  ]);
  return {
    vocabSize: base.vocabSize,
    unkId: base.unkId,
    bosId: base.bosId,
    eosId: base.eosId,
    padId: base.padId,
    nMem: base.nMem,
    special: base.special,
    encode: (text) =>
      splitOnSpecialTokens(text, [...specials.keys()]).flatMap((piece) =>
        piece.kind === 'special'
          ? [specials.get(piece.token)!]
          : piece.text
              .split(/\s+/)
              .filter((w) => w !== '')
              .map((w) => Number(w.slice(1))),
      ),
    decode: (ids) => ids.map((id) => `t${id}`).join(' '),
    idToToken: (id) => `t${id}`,
    isSpecialId: (id) => [...specials.values()].includes(id),
  };
}

/** The fixture's backbone (base weights and both adapters) wrapped as a ClaraModel, on `backend`. */
export function goldenClara(g: Stage1Golden, backend: Backend): ClaraModel {
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
  const settings = { ...DEFAULT_SETTINGS, docMaxLength: g.docMaxLength, compressionRate: g.compressionRate, lora: g.lora };
  return new ClaraModel(model, fixtureTokenizer(g.nMem), settings);
}
