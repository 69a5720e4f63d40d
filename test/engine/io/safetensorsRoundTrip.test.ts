import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DTYPE_SIZE,
  f16ToFloat32Array,
  readSafetensors,
  serializeSafetensorsToBytes,
  type SafetensorsDType,
  type TensorToWrite,
  type WritableArray,
} from '../../../engine/io/index.ts';

const DTYPES = Object.keys(DTYPE_SIZE) as SafetensorsDType[];

/** Reinterprets random bytes as the stored array type (so floats include NaN payloads, ±0, inf). */
function arrayOf(dtype: SafetensorsDType, bytes: Uint8Array): WritableArray {
  const buffer = bytes.slice().buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer);
    case 'F32':
      return new Float32Array(buffer);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'I16':
      return new Int16Array(buffer);
    case 'I8':
      return new Int8Array(buffer);
    case 'U8':
      return new Uint8Array(buffer);
    case 'BOOL':
      return new Uint8Array(buffer).map((b) => b & 1);
  }
}

const tensorArb: fc.Arbitrary<TensorToWrite> = fc
  .tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[dtype];
    return fc.uint8Array({ minLength: n, maxLength: n }).map((bytes) => ({ dtype, shape, data: arrayOf(dtype, bytes) }));
  });

const nameArb = fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => s !== '__metadata__');

const fileArb = fc.record({
  tensors: fc.dictionary(nameArb, tensorArb, { maxKeys: 6 }),
  metadata: fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 12 }), { maxKeys: 3 }),
});

const bytesOf = (a: WritableArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('safetensors round trip', () => {
  it('write then read returns the same tensors and metadata, bit for bit, for every dtype', () => {
    fc.assert(
      fc.property(fileArb, ({ tensors, metadata }) => {
        const bytes = serializeSafetensorsToBytes(tensors, metadata);
        // The header is padded so the data starts 8-aligned, as in the reference implementation.
        expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
        const file = readSafetensors(bytes);
        expect(file.metadata).toEqual(metadata);
        expect(file.names().sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          expect(file.info(name)).toEqual({ dtype: t.dtype, shape: t.shape });
          expect(file.rawBytes(name)).toEqual(bytesOf(t.data));
          const view = file.view(name);
          expect(view.constructor).toBe(t.data.constructor);
          expect(bytesOf(view)).toEqual(bytesOf(t.data));
          // Written files are aligned, so the view shares the file's buffer (zero-copy).
          expect(view.buffer).toBe(bytes.buffer);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives zero-copy views that respect the byteOffset of the buffer, and copies when misaligned', () => {
    const data = new Float32Array([1.5, -2, NaN, Infinity]);
    const file = serializeSafetensorsToBytes({ x: { dtype: 'F32', shape: [4], data } });
    for (const shift of [0, 1, 4, 7]) {
      // The same file, starting `shift` bytes into a bigger buffer.
      const outer = new Uint8Array(file.length + 8);
      outer.set(file, shift);
      const view = readSafetensors(outer.subarray(shift, shift + file.length)).view('x') as Float32Array;
      expect(Array.from(view)).toEqual(Array.from(data));
      expect(view.buffer === outer.buffer).toBe(shift % 4 === 0);
    }
  });

  it('converts to the engine host types', () => {
    const f16bits = new Uint16Array([0x3c00, 0x7e01, 0x0001, 0xfc00]); // 1, NaN with payload, 2^-24, -inf
    const bytes = serializeSafetensorsToBytes({
      half: { dtype: 'F16', shape: [4], data: f16bits },
      brain: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc040]) }, // 1, -3
      long: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n]) },
      small: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
      byte: { dtype: 'U8', shape: [1], data: new Uint8Array([255]) },
      flag: { dtype: 'BOOL', shape: [3], data: new Uint8Array([0, 1, 7]) },
      wide: { dtype: 'F64', shape: [1], data: new Float64Array([0.1]) },
    });
    const f = readSafetensors(bytes);
    const half = f.toHost('half');
    expect(half.dtype).toBe('float32');
    expect(new Uint32Array(half.data.buffer)).toEqual(new Uint32Array(f16ToFloat32Array(f16bits).buffer));
    expect(new Uint32Array(half.data.buffer)[1]).toBe(0x7fc02000); // payload kept
    expect(Array.from(f.toHost('brain').data)).toEqual([1, -3]);
    expect(f.toHost('long')).toEqual({ dtype: 'int32', shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) });
    expect(f.toHost('small').data).toEqual(new Int32Array([-128, 127]));
    expect(f.toHost('byte').data).toEqual(new Int32Array([255]));
    expect(f.toHost('flag')).toEqual({ dtype: 'bool', shape: [3], data: new Uint8Array([0, 1, 1]) });
    expect(f.toHost('wide').data).toEqual(new Float64Array([0.1]));
    // toHost copies: writing to it leaves the file alone.
    f.toHost('wide').data[0] = 5;
    expect((f.view('wide') as Float64Array)[0]).toBe(0.1);
  });

  it('rounds float32 data given for F16/BF16 to nearest even, and keeps raw 16-bit data as is', () => {
    const values = new Float32Array([1 + 2 ** -11, 65520, 1 + 2 ** -8]);
    const f = readSafetensors(
      serializeSafetensorsToBytes({
        h: { dtype: 'F16', shape: [3], data: values },
        b: { dtype: 'BF16', shape: [3], data: values },
      }),
    );
    expect(f.view('h')).toEqual(new Uint16Array([0x3c00, 0x7c00, 0x3c04]));
    expect(f.view('b')).toEqual(new Uint16Array([0x3f80, 0x4780, 0x3f80])); // 1+2^-8 is a tie → 1
  });

  it('rejects inconsistent input before writing anything', () => {
    expect(() => serializeSafetensorsToBytes({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /tensor "x": shape \[3\] needs 3 elements but data has 2 \[INVALID_INPUT\]/,
    );
    expect(() => serializeSafetensorsToBytes({ x: { dtype: 'F32', shape: [2], data: new Float64Array(2) } })).toThrow(
      /a Float64Array cannot be written as F32/,
    );
    expect(() => serializeSafetensorsToBytes({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/reserved for the metadata/);
  });
});
