import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INDEX_FILE,
  readShardedCheckpoint,
  SafetensorsError,
  writeSafetensorsFile,
  writeShardedCheckpoint,
  type TensorToWrite,
} from '../../../engine/io/index.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sharded-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Eight F32 tensors of 100 bytes each, and one F16 of 50. */
function model(): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  for (let i = 0; i < 8; i++) tensors[`layer${i}.weight`] = { dtype: 'F32', shape: [5, 5], data: new Float32Array(25).map((_, j) => i * 100 + j) };
  tensors['embed'] = { dtype: 'F16', shape: [25], data: new Uint16Array(25).fill(0x3555) };
  return tensors;
}

describe('sharded checkpoints', () => {
  it('round trips across shards of at most maxShardBytes', () => {
    const tensors = model();
    const indexFile = writeShardedCheckpoint(dir, tensors, { maxShardBytes: 250, metadata: { format: 'pt' } });
    expect(path.basename(indexFile)).toBe(INDEX_FILE);
    const shardFiles = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();
    // 100+100 | 100+100 | 100+100 | 100+100+50 → four shards, and nothing else left in the directory.
    expect(shardFiles).toEqual([1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`));
    expect(fs.readdirSync(dir).length).toBe(5);

    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
    expect(index.metadata).toEqual({ format: 'pt', total_size: 850 });

    const ckpt = readShardedCheckpoint(indexFile);
    expect(ckpt.names()).toEqual(Object.keys(tensors));
    expect(ckpt.shardOf('embed')).toBe('model-00004-of-00004.safetensors');
    for (const [name, t] of Object.entries(tensors)) {
      expect(ckpt.info(name)).toEqual({ dtype: t.dtype, shape: t.shape });
      expect(ckpt.view(name)).toEqual(t.data);
    }
    expect(ckpt.toHost('embed').dtype).toBe('float32');
  });

  it('gives a tensor bigger than the limit a shard of its own', () => {
    const indexFile = writeShardedCheckpoint(dir, model(), { maxShardBytes: 10 });
    expect(readShardedCheckpoint(indexFile).names().length).toBe(9);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length).toBe(9);
  });

  function expectIndexError(code: string, message: RegExp): void {
    try {
      readShardedCheckpoint(path.join(dir, INDEX_FILE));
    } catch (e) {
      expect(e).toBeInstanceOf(SafetensorsError);
      expect((e as SafetensorsError).code).toBe(code);
      expect((e as Error).message).toMatch(message);
      return;
    }
    throw new Error('expected an error');
  }

  function writeIndex(index: unknown): void {
    fs.writeFileSync(path.join(dir, INDEX_FILE), typeof index === 'string' ? index : JSON.stringify(index));
  }

  it('rejects an index that disagrees with its shards', () => {
    writeSafetensorsFile(path.join(dir, 'a.safetensors'), { x: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } });
    writeSafetensorsFile(path.join(dir, 'b.safetensors'), { y: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } });

    writeIndex({ weight_map: { x: 'a.safetensors', y: 'a.safetensors' } });
    expectIndexError('SHARD_MISMATCH', /tensor "y": the index puts it in a\.safetensors, which does not hold it/);

    writeIndex({ weight_map: { x: 'a.safetensors' }, metadata: {} });
    writeSafetensorsFile(path.join(dir, 'a.safetensors'), {
      x: { dtype: 'U8', shape: [1], data: new Uint8Array(1) },
      z: { dtype: 'U8', shape: [1], data: new Uint8Array(1) },
    });
    expectIndexError('SHARD_MISMATCH', /tensor "z": a\.safetensors holds it but the index does not list it/);
  });

  it('rejects a malformed index', () => {
    writeIndex('{"weight_map": ');
    expectIndexError('INVALID_INDEX', /not valid JSON/);
    writeIndex({ metadata: {} });
    expectIndexError('INVALID_INDEX', /"weight_map" is missing or not an object/);
    writeIndex({ weight_map: { x: '../elsewhere.safetensors' } });
    expectIndexError('INVALID_INDEX', /tensor "x": the shard "..\/elsewhere.safetensors" is not a plain file name/);
    writeIndex('{"weight_map": {"x": "a.safetensors", "x": "b.safetensors"}}');
    expectIndexError('INVALID_INDEX', /the key "x" appears twice/);
    writeIndex({ weight_map: { x: 'missing.safetensors' } });
    expectIndexError('IO_ERROR', /missing\.safetensors: cannot open/);
  });
});
