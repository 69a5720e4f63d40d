import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTorchTensor, readSafetensorsFile, readTorchSave, serializeTorchSaveToBytes, TorchSaveError, type TorchSaveTree } from '../../../engine/io/index.ts';
import { serializeZip } from '../../../engine/io/torchSave/zipArchive.ts';

/**
 * The torch.save reader and writer against files PyTorch wrote (reference/record_official_checkpoint.py):
 * test/fixtures/io/torch_save_zoo.pth holds every dtype, views (transposed, a row, a column, a window,
 * several tensors on one storage), an nn.Parameter and an OrderedDict; the safetensors file beside
 * it holds each tensor contiguous, as PyTorch sees it. Every value must come back bit for bit.
 */

const FIXTURES = join(import.meta.dirname, '../../fixtures/io');
const zooBytes = new Uint8Array(readFileSync(join(FIXTURES, 'torch_save_zoo.pth')));
const expected = readSafetensorsFile(join(FIXTURES, 'torch_save_zoo.safetensors'));

function bits(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function asTree(value: unknown): TorchSaveTree {
  const out: TorchSaveTree = {};
  for (const [key, v] of value as Map<string, unknown>) out[key] = isTorchTensor(v) ? v : asTree(v);
  return out;
}

/** An archive holding only `archive/data.pkl` with these pickle bytes. */
function archiveWithPickle(pickle: number[]): Uint8Array {
  const chunks = serializeZip([{ name: 'archive/data.pkl', data: [Uint8Array.from(pickle)] }]);
  return Uint8Array.from(chunks.flatMap((c) => [...c]));
}

const ascii = (text: string) => [...new TextEncoder().encode(text)];

function errorOf(f: () => unknown): TorchSaveError {
  try {
    f();
  } catch (e) {
    if (e instanceof TorchSaveError) return e;
    throw e;
  }
  throw new Error('expected a TorchSaveError');
}

describe('torch.save reader', () => {
  it('reads every tensor of the zoo bit for bit, with its dtype and shape', () => {
    const tree = asTree(readTorchSave(zooBytes, 'zoo.pth'));
    const names = Object.entries(tree).flatMap(([group, d]) => Object.keys(d).map((k) => `${group}/${k}`));
    expect(names.sort()).toEqual(expected.names().sort());
    for (const name of names) {
      const [group, key] = name.split('/') as [string, string];
      const t = (tree[group] as TorchSaveTree)[key]!;
      if (!isTorchTensor(t)) throw new Error(`${name} is not a tensor`);
      expect(t.dtype, name).toBe(expected.info(name).dtype);
      expect(t.shape, name).toEqual(expected.info(name).shape);
      expect(bits(t.data), name).toEqual(expected.rawBytes(name));
    }
  });

  it('reads the same archive re-packed with deflate and zip64 local headers', () => {
    const repacked = asTree(readTorchSave(new Uint8Array(readFileSync(join(FIXTURES, 'torch_save_zoo_deflate_zip64.pth')))));
    const plain = asTree(readTorchSave(zooBytes));
    for (const [group, d] of Object.entries(plain)) {
      for (const [key, t] of Object.entries(d as TorchSaveTree)) {
        const u = (repacked[group] as TorchSaveTree)[key]!;
        if (!isTorchTensor(t) || !isTorchTensor(u)) throw new Error('not a tensor');
        expect(bits(u.data), `${group}/${key}`).toEqual(bits(t.data));
      }
    }
  });

  it('writes what it reads: read → write → read gives the same tensors, bit for bit', () => {
    const tree = asTree(readTorchSave(zooBytes));
    const again = asTree(readTorchSave(serializeTorchSaveToBytes(tree)));
    expect(Object.keys(again)).toEqual(Object.keys(tree));
    for (const [group, d] of Object.entries(tree)) {
      for (const [key, t] of Object.entries(d as TorchSaveTree)) {
        const u = (again[group] as TorchSaveTree)[key]!;
        if (!isTorchTensor(t) || !isTorchTensor(u)) throw new Error('not a tensor');
        expect([u.dtype, u.shape]).toEqual([t.dtype, t.shape]);
        expect(bits(u.data)).toEqual(bits(t.data));
      }
    }
  });

  it('writes data aligned to 64 bytes, as torch.save does', () => {
    const bytes = serializeTorchSaveToBytes({ a: { w: { dtype: 'F32', shape: [3], data: Float32Array.of(1.5, 2.5, 3.5) } } });
    const at = bytes.findIndex((_, i) => new DataView(bytes.buffer).getFloat32(i, true) === 1.5 && new DataView(bytes.buffer).getFloat32(i + 4, true) === 2.5);
    expect(at % 64).toBe(0);
  });

  it('refuses a global outside the allow-list, by name, without running it', () => {
    // cos.system('echo hi') as pickle protocol 2 would run it: c os\nsystem\n ( X 'echo hi' t R .
    const pickle = [0x80, 2, 0x63, ...ascii('os\nsystem\n'), 0x28, 0x58, 7, 0, 0, 0, ...ascii('echo hi'), 0x74, 0x52, 0x2e];
    const e = errorOf(() => readTorchSave(archiveWithPickle(pickle), 'evil.pth'));
    expect(e.code).toBe('GLOBAL_REFUSED');
    expect(e.message).toContain('os.system');
    const builtins = [0x80, 2, 0x63, ...ascii('builtins\neval\n'), 0x2e];
    expect(errorOf(() => readTorchSave(archiveWithPickle(builtins))).message).toContain('builtins.eval');
  });

  it('refuses opcodes it does not run, by name', () => {
    for (const [op, name] of [
      [0x69, 'INST'],
      [0x6f, 'OBJ'],
      [0x81, 'NEWOBJ'],
      [0x93, 'STACK_GLOBAL'],
      [0x82, 'EXT1'],
    ] as const) {
      const e = errorOf(() => readTorchSave(archiveWithPickle([0x80, 2, op, 0x2e])));
      expect(e.code).toBe('OPCODE_REFUSED');
      expect(e.message).toContain(name);
    }
  });

  it('says what is wrong with files that are not torch.save archives', () => {
    expect(errorOf(() => readTorchSave(new Uint8Array(100))).code).toBe('NOT_A_ZIP');
    expect(errorOf(() => readTorchSave(zooBytes.subarray(0, zooBytes.length - 10))).code).toBe('NOT_A_ZIP');
    expect(errorOf(() => readTorchSave(Uint8Array.from(serializeZip([{ name: 'x/other', data: [] }]).flatMap((c) => [...c])))).code).toBe('MISSING_RECORD');
  });
});
