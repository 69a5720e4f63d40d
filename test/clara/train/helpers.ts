import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuBackend, setDefaultBackend } from '../../../engine/index.ts';
import type { ClaraModel } from '../../../clara/claraModel.ts';
import type { Stage1Row } from '../../../clara/data/stage1Data.ts';
import { generateSyntheticCorpus } from '../../../clara/data/synth.ts';
import { freshModel } from '../../../clara/freshModel.ts';
import type { StepMetrics } from '../../../clara/train/metricsLog.ts';
import { trainCompressionStage } from '../../../clara/trainCompressionStage.ts';

/** Small, fast set-ups shared by the trainer tests: the tiny backbone on the CPU backend. */
setDefaultBackend(cpuBackend);

/** `clara pretrain` flags for a fresh tiny model: the tiny preset, 32 document tokens, 4 memory tokens, LoRA r 4. */
export const TINY_MODEL_FLAGS = ['--config', 'tiny', '--doc-max-length', '32', '--compression-rate', '8', '--lora-r', '4'];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `clara-${prefix}-`));
}

/** Stage-1 rows of a small synthetic corpus (qa and paraphrase). */
export function synthRows(entities = 12): Stage1Row[] {
  return generateSyntheticCorpus({ seed: 3, entities, candidates: 4 }).stage1;
}

/** A fresh tiny model for `rows` (4 memory tokens, LoRA r 4 with dropout, so its generator matters). */
export function tinyModel(rows: readonly Stage1Row[], seed = 1): ClaraModel {
  return freshModel({
    base: 'tiny',
    stage: 1,
    rows,
    seed,
    backend: cpuBackend,
    settings: { docMaxLength: 32, compressionRate: 8, lora: { r: 4, alpha: 8, dropout: 0.1 } },
  });
}

/** The raw bits of every adapter parameter and the memory rows, for exact comparisons. */
export async function trainableBits(clara: ClaraModel): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const adapter of clara.backbone.adapterNames()) {
    for (const [key, p] of clara.backbone.adapterParameters(adapter)) {
      const data = (await p.toArray()) as Float32Array;
      out.set(`${adapter}.${key}`, new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
    }
  }
  const embedding = (await clara.backbone.model.embedTokens.weight.toArray()) as Float32Array;
  out.set('embed', new Uint32Array(embedding.buffer.slice(embedding.byteOffset, embedding.byteOffset + embedding.byteLength)));
  const head = (await clara.backbone.lmHead.toArray()) as Float32Array;
  out.set('head', new Uint32Array(head.buffer.slice(head.byteOffset, head.byteOffset + head.byteLength)));
  return out;
}

/**
 * Two stage-1 steps of a tiny model whose vocabulary is built from `rows` (documents up to 128
 * tokens, 8 memory tokens, no dropout): what a file of the official schema must get through.
 */
export async function twoStage1Steps(rows: readonly Stage1Row[], batchSize: number): Promise<StepMetrics[]> {
  const clara = freshModel({
    base: 'tiny',
    stage: 1,
    rows,
    seed: 1,
    backend: cpuBackend,
    settings: { docMaxLength: 128, compressionRate: 16, lora: { r: 4, alpha: 8, dropout: 0 } },
  });
  const { history } = await trainCompressionStage({ clara, stage: 1, rows, steps: 2, batchSize, lr: 1e-3, warmupSteps: 0, progress: false });
  return history;
}
