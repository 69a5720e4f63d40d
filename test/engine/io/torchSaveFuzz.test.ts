import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator } from '../../../engine/index.ts';
import { isTorchTensor, PickleTuple, readTorchSave, TorchSaveError, torchTensorToHost } from '../../../engine/io/index.ts';

/**
 * Corrupted torch.save files: 14 000 seeded mutations (bytes flipped, runs overwritten, truncations,
 * insertions, deletions) of three files PyTorch (and Python's zipfile) wrote. Whatever the damage, reading either throws a
 * TorchSaveError (never another exception, never a hang) or returns exactly what the intact file
 * holds: a damaged byte that changes a value is never accepted in silence (the zip's CRC-32 covers
 * every record; the directory, local headers and pickle are cross-checked). Tensors are read
 * lazily, so "reading" here includes reading every tensor's values.
 */

const read = (file: string) => new Uint8Array(readFileSync(join(import.meta.dirname, '../../fixtures', file)));
/** [file, mutations]: the zoo (4 KB, every dtype and views) most, the 52 KB adapters file less (CRC time), the zoo re-packed with deflate and zip64 headers. */
const FILES: Array<[Uint8Array, number]> = [
  [read('io/torch_save_zoo.pth'), 9000],
  [read('clara/official/checkpoint/adapters.pth'), 3000],
  [read('io/torch_save_zoo_deflate_zip64.pth'), 2000],
];
const TOTAL = FILES.reduce((n, [, m]) => n + m, 0);

/** A canonical, comparable form of what the reader returned. */
function canonical(value: unknown): unknown {
  if (isTorchTensor(value)) {
    const data = value.read();
    return {
      dtype: value.dtype,
      shape: value.shape,
      bits: createHash('sha256')
        .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        .digest('hex'),
    };
  }
  if (value instanceof Map) return [...value].map(([k, v]) => [k, canonical(v)]);
  if (value instanceof PickleTuple) return { tuple: value.items.map(canonical) };
  if (Array.isArray(value)) return value.map(canonical);
  return value;
}

/** Uses every tensor the reader returned, as a loader would. */
function useAll(value: unknown): void {
  if (isTorchTensor(value)) {
    if (value.dtype !== 'I64') torchTensorToHost(value, 'fuzz');
  } else if (value instanceof Map) for (const v of value.values()) useAll(v);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mutate(bytes: Uint8Array, rng: Generator): Uint8Array {
  const pick = (n: number) => Math.floor(rng.random() * n);
  const out = Uint8Array.from(bytes);
  switch (pick(5)) {
    case 0: {
      for (let i = 1 + pick(4); i > 0; i--) out[pick(out.length)] ^= 1 << pick(8);
      return out;
    }
    case 1: {
      const at = pick(out.length);
      for (let i = at; i < Math.min(out.length, at + 1 + pick(16)); i++) out[i] = pick(256);
      return out;
    }
    case 2:
      return out.subarray(0, pick(out.length));
    case 3: {
      const at = pick(out.length);
      const extra = Uint8Array.from({ length: 1 + pick(8) }, () => pick(256));
      return concat(out.subarray(0, at), extra, out.subarray(at));
    }
    default: {
      const at = pick(out.length);
      return concat(out.subarray(0, at), out.subarray(at + 1 + pick(8)));
    }
  }
}

describe('torch.save reader under corruption', () => {
  it(`rejects or reproduces exactly, for ${TOTAL} corrupted files`, () => {
    const rng = new Generator(20251207);
    const counts = { rejected: 0, identical: 0 };
    for (const [file, mutations] of FILES) {
      const intact = canonical(readTorchSave(file));
      for (let i = 0; i < mutations; i++) {
        const damaged = mutate(file, rng);
        let result: unknown;
        try {
          const value = readTorchSave(damaged, 'fuzz.pth');
          useAll(value);
          result = canonical(value);
        } catch (e) {
          if (!(e instanceof TorchSaveError)) throw new Error(`mutation ${i}: ${(e as Error).stack}`);
          counts.rejected++;
          continue;
        }
        expect(result, `mutation ${i} was accepted with different contents`).toEqual(intact);
        counts.identical++;
      }
    }
    expect(counts.rejected + counts.identical).toBe(TOTAL);
    expect(counts.rejected).toBeGreaterThan(counts.identical);
  }, 60_000);
});
