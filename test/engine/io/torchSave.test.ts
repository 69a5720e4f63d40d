import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isTorchTensor,
  readSafetensorsFile,
  readTorchSave,
  readTorchSaveFile,
  serializeTorchSaveToBytes,
  TorchSaveError,
  torchTensorToHost,
  type TorchSaveTree,
  type TorchTensor,
  type TorchTensorToWrite,
} from '../../../engine/io/index.ts';
import { memorySource, type ByteSource } from '../../../engine/io/torchSave/byteSource.ts';
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

/** The reader's dicts as a tree of tensors held in memory (every tensor read): what the writer takes. */
function asTree(value: unknown): TorchSaveTree {
  const out: TorchSaveTree = {};
  for (const [key, v] of value as Map<string, unknown>) out[key] = isTorchTensor(v) ? { dtype: v.dtype, shape: v.shape, data: v.read() } : asTree(v);
  return out;
}

function leaf(tree: TorchSaveTree, group: string, key: string): TorchTensorToWrite {
  const t = (tree[group] as TorchSaveTree)[key];
  if (t === undefined || !ArrayBuffer.isView(t.data)) throw new Error(`${group}/${key} is not a tensor`);
  return t as TorchTensorToWrite;
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
      const t = leaf(tree, group, key);
      expect(t.dtype, name).toBe(expected.info(name).dtype);
      expect(t.shape, name).toEqual(expected.info(name).shape);
      expect(bits(t.data), name).toEqual(expected.rawBytes(name));
    }
  });

  it('reads the same archive re-packed with deflate and zip64 local headers', () => {
    const repacked = asTree(readTorchSave(new Uint8Array(readFileSync(join(FIXTURES, 'torch_save_zoo_deflate_zip64.pth')))));
    const plain = asTree(readTorchSave(zooBytes));
    for (const [group, d] of Object.entries(plain)) {
      for (const key of Object.keys(d as TorchSaveTree)) {
        expect(bits(leaf(repacked, group, key).data), `${group}/${key}`).toEqual(bits(leaf(plain, group, key).data));
      }
    }
  });

  it('writes what it reads: read → write → read gives the same tensors, bit for bit', () => {
    const tree = asTree(readTorchSave(zooBytes));
    const again = asTree(readTorchSave(serializeTorchSaveToBytes(tree)));
    expect(Object.keys(again)).toEqual(Object.keys(tree));
    for (const [group, d] of Object.entries(tree)) {
      for (const key of Object.keys(d as TorchSaveTree)) {
        const t = leaf(tree, group, key);
        const u = leaf(again, group, key);
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

/**
 * From a file, the reader reads data.pkl and the archive's directory, and each tensor's storage only
 * when the tensor is read (issue 19: peak memory the largest tensor, not the file).
 */
describe('torch.save files read by ranges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'torch-save-ranges-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** 4 MiB of float32 in archive/data/0, then 4 values in archive/data/1. */
  const BIG = 1 << 20;
  const twoTensors = serializeTorchSaveToBytes({
    big: { dtype: 'F32', shape: [BIG], data: Float32Array.from({ length: BIG }, (_, i) => i) },
    small: { dtype: 'F32', shape: [4], data: Float32Array.of(1, 2, 3, 4) },
  });
  const write = (name: string, bytes: Uint8Array) => {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    return file;
  };
  const tensors = (value: unknown) => value as Map<string, TorchTensor>;

  it('gives what the in-memory reader gives, on every recorded file', () => {
    const recorded = [
      join(FIXTURES, 'torch_save_zoo.pth'),
      join(FIXTURES, 'torch_save_zoo_deflate_zip64.pth'),
      join(FIXTURES, '../clara/official/checkpoint/adapters.pth'),
      join(FIXTURES, '../clara/official/checkpoint/decoder_first_last_layers.pth'),
    ];
    for (const file of recorded) {
      const streamed = asTree(readTorchSaveFile(file));
      expect(Object.keys(streamed).length, file).toBeGreaterThan(0);
      expect(streamed, file).toEqual(asTree(readTorchSave(new Uint8Array(readFileSync(file)), file)));
    }
  });

  it("reads a storage's bytes only when its tensor is read", () => {
    let bytesRead = 0;
    const inner = memorySource(twoTensors);
    const counting: ByteSource = {
      size: inner.size,
      readInto: (into, position) => {
        bytesRead += into.length;
        inner.readInto(into, position);
      },
    };
    const value = tensors(readTorchSave(counting, 'counted.pth'));
    // The end of the file (up to 64 KiB, the longest zip comment), the directory, the local headers, data.pkl.
    expect(bytesRead).toBeLessThan(0x10000 + 4096);
    const opened = bytesRead;
    expect(value.get('small')!.read()).toEqual(Float32Array.of(1, 2, 3, 4));
    expect(bytesRead - opened).toBe(16);
    expect(value.get('big')!.byteLength).toBe(4 * BIG);
    // every(), not toEqual: vitest compares a million elements slowly.
    expect(torchTensorToHost(value.get('big')!, 'big').data.every((v, i) => v === i)).toBe(true);
    expect(bytesRead - opened).toBe(16 + 4 * BIG);
  });

  it('reports a damaged storage when its tensor is read, naming the file and the record', () => {
    const damaged = Uint8Array.from(twoTensors);
    damaged[damaged.length >> 1]! ^= 0xff; // inside the 4 MiB of archive/data/0
    const file = write('damaged.pth', damaged);
    const value = tensors(readTorchSaveFile(file));
    expect(value.get('small')!.read()).toEqual(Float32Array.of(1, 2, 3, 4));
    const e = errorOf(() => torchTensorToHost(value.get('big')!, 'big'));
    expect(e.code).toBe('CRC_MISMATCH');
    expect(e.message).toContain(file);
    expect(e.message).toContain('archive/data/0');
  });

  it('names the file when it is truncated, before or after it was opened', () => {
    const cut = write('cut.pth', twoTensors.subarray(0, twoTensors.length - 10));
    const early = errorOf(() => readTorchSaveFile(cut));
    expect(early.code).toBe('NOT_A_ZIP');
    expect(early.message).toContain(cut);

    const file = write('shrinks.pth', twoTensors);
    const value = tensors(readTorchSaveFile(file));
    truncateSync(file, twoTensors.length >> 1);
    const late = errorOf(() => value.get('small')!.read());
    expect(late.code).toBe('IO_ERROR');
    expect(late.message).toContain(file);
    expect(late.message).toContain('archive/data/1');
    // One file name and one code: the file helper's own are not repeated inside.
    expect(late.message.split(file).length - 1).toBe(1);
    expect(late.message.match(/\[IO_ERROR\]/g)).toHaveLength(1);

    const absent = errorOf(() => readTorchSaveFile(join(dir, 'absent.pth')));
    expect(absent.code).toBe('IO_ERROR');
    expect(absent.message.match(/\[IO_ERROR\]/g)).toHaveLength(1);
  });

  it.runIf(existsSync('/proc/self/fd'))('leaves no file open, whether its tensors are read, fail or are never read', () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    const file = write('fds.pth', twoTensors);
    const value = tensors(readTorchSaveFile(file));
    value.get('small')!.read();
    readTorchSaveFile(file); // its tensors never read
    truncateSync(file, 100);
    errorOf(() => value.get('big')!.read());
    errorOf(() => readTorchSaveFile(file));
    expect(open()).toBe(before);
  });
});
