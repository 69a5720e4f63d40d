import { join } from 'node:path';
import { readSafetensorsFile, type HostTensor } from '../../../engine/io/index.ts';
import type { EncoderBatch } from '../../../clara/tokenizer/encoderInput.ts';
import type { Tolerance } from '../stage1/helpers.ts';

/**
 * The tiny checkpoint in the released layout that reference/record_official_checkpoint.py writes,
 * and what PyTorch computed from it, shared by the tests that load it (official.test.ts in float32,
 * officialHalf.test.ts in bf16).
 */
export const FIXTURES = join(import.meta.dirname, '../../fixtures/clara/official');
export const CHECKPOINT = join(FIXTURES, 'checkpoint');
export const BASE = join(FIXTURES, 'base');
export const expected = readSafetensorsFile(join(FIXTURES, 'expected.safetensors'));
/** rtol 1e-4, atol 1e-5, as the other golden states (one transformer pass in float32). */
export const TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** n, the memory tokens per document of the fixture. */
export const N_MEM = 4;

/** A [batch, length] host tensor as rows. */
export function rows(h: HostTensor): number[][] {
  const [b, l] = h.shape as [number, number];
  return Array.from({ length: b }, (_, i) => Array.from(h.data.subarray(i * l, (i + 1) * l)));
}

/** The recorded encoder batch `prefix` (`encoder` or `query`): ids, mask, and the memory tokens last. */
export function encoderBatch(prefix: string): EncoderBatch {
  const inputIds = rows(expected.toHost(`${prefix}.input_ids`));
  const width = inputIds[0]!.length;
  return {
    inputIds,
    attentionMask: rows(expected.toHost(`${prefix}.attention_mask`)),
    memoryPositions: inputIds.map(() => Array.from({ length: N_MEM }, (_, i) => width - N_MEM + i)),
  };
}
