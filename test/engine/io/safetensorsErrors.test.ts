import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, type SafetensorsErrorCode } from '../../../engine/io/index.ts';
import { rawFile, validHeader } from './rawFile.ts';

/** Runs the reader on `bytes` (named "f.safetensors") and returns the SafetensorsError it throws. */
function errorOf(bytes: Uint8Array, use?: (f: ReturnType<typeof readSafetensors>) => void): SafetensorsError {
  try {
    const f = readSafetensors(bytes, 'f.safetensors');
    use?.(f);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error('expected the reader to throw');
}

function expectError(bytes: Uint8Array, code: SafetensorsErrorCode, message: RegExp, tensor?: string): void {
  const e = errorOf(bytes);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(e.message).toContain('f.safetensors');
  if (tensor !== undefined) {
    expect(e.tensor).toBe(tensor);
    expect(e.message).toContain(`tensor "${tensor}"`);
  }
}

function withEntry(name: string, entry: unknown): Record<string, unknown> {
  return { ...validHeader(), [name]: entry };
}

describe('safetensors validation errors', () => {
  it('accepts the valid file the cases below corrupt', () => {
    const f = readSafetensors(rawFile(validHeader(), 28));
    expect(f.names()).toEqual(['a', 'b']);
    expect(f.metadata).toEqual({ format: 'pt' });
  });

  it('FILE_TOO_SMALL: fewer than 8 bytes', () => {
    expectError(new Uint8Array(5), 'FILE_TOO_SMALL', /5 bytes, fewer than the 8/);
  });

  it('HEADER_TOO_LARGE: a header length beyond 100 MB', () => {
    expectError(rawFile(validHeader(), 28, 100_000_001n), 'HEADER_TOO_LARGE', /header length 100000001 is beyond the limit/);
    expectError(rawFile(validHeader(), 28, 2n ** 64n - 1n), 'HEADER_TOO_LARGE', /beyond the limit of 100000000 bytes/);
  });

  it('HEADER_BEYOND_FILE: a header length past the end of the file', () => {
    expectError(rawFile('{}', 0, 1000n), 'HEADER_BEYOND_FILE', /header length 1000 runs past the end of the file \(10 bytes\)/);
  });

  it('INVALID_UTF8', () => {
    const bytes = rawFile('{"x":"??"}');
    bytes[8 + 6] = 0xff;
    expectError(bytes, 'INVALID_UTF8', /not valid UTF-8/);
  });

  it('INVALID_JSON', () => {
    expectError(rawFile('{"a": '), 'INVALID_JSON', /not valid JSON/);
    expectError(rawFile(''), 'INVALID_JSON', /not valid JSON/);
  });

  it('HEADER_NOT_OBJECT: the header, or an entry, is not an object', () => {
    expectError(rawFile('[1, 2]'), 'HEADER_NOT_OBJECT', /header is not a JSON object/);
    expectError(rawFile('null'), 'HEADER_NOT_OBJECT', /header is not a JSON object/);
    expectError(rawFile(withEntry('c', [1]), 28), 'HEADER_NOT_OBJECT', /entry is a array, not an object/, 'c');
  });

  it('DUPLICATE_NAME: the same tensor twice (JSON.parse would keep only the last)', () => {
    const header = '{"w": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}, "w": {"dtype":"U8","shape":[1],"data_offsets":[1,2]}}';
    expectError(rawFile(header, 2), 'DUPLICATE_NAME', /the name "w" appears twice/);
    // Escapes that decode to the same name are the same name.
    const escaped = '{"w": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}, "\\u0077": {"dtype":"U8","shape":[1],"data_offsets":[1,2]}}';
    expectError(rawFile(escaped, 2), 'DUPLICATE_NAME', /the name "w" appears twice/);
  });

  it('DUPLICATE_KEY: the same field twice inside an entry', () => {
    const header = '{"w": {"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}}';
    expectError(rawFile(header, 1), 'DUPLICATE_KEY', /the key "dtype" appears twice inside one entry/, 'w');
  });

  it('does not mistake repeated keys in different objects, or strings in arrays, for duplicates', () => {
    const header =
      '{"a": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}, "b": {"dtype":"U8","shape":[1],"data_offsets":[1,2]},' +
      ' "__metadata__": {"a": "b", "dtype": "shape"}}';
    expect(readSafetensors(rawFile(header, 2)).names()).toEqual(['a', 'b']);
  });

  it('INVALID_METADATA: not an object, or a value that is not a string', () => {
    expectError(rawFile({ ...validHeader(), __metadata__: [] }, 28), 'INVALID_METADATA', /__metadata__ is not an object/);
    expectError(rawFile({ ...validHeader(), __metadata__: { step: 3 } }, 28), 'INVALID_METADATA', /__metadata__\["step"\] is a number, not a string/);
  });

  it('INVALID_ENTRY: a missing or unknown field', () => {
    expectError(rawFile(withEntry('a', { dtype: 'F32', shape: [2, 3] }), 28), 'INVALID_ENTRY', /has no "data_offsets"/, 'a');
    expectError(
      rawFile(withEntry('a', { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24], strides: [3, 1] }), 28),
      'INVALID_ENTRY',
      /unknown field "strides"/,
      'a',
    );
  });

  it('UNKNOWN_DTYPE', () => {
    expectError(rawFile(withEntry('a', { dtype: 'F8_E4M3', shape: [2, 3], data_offsets: [0, 24] }), 28), 'UNKNOWN_DTYPE', /unknown dtype "F8_E4M3"/, 'a');
  });

  it('INVALID_SHAPE: negative, fractional, not a number, not a list', () => {
    for (const shape of [[-1, 3], [1.5, 4], ['2', 3], 6, [2 ** 53, 1]]) {
      expectError(rawFile(withEntry('a', { dtype: 'F32', shape, data_offsets: [0, 24] }), 28), 'INVALID_SHAPE', /is not a list of non-negative integers/, 'a');
    }
  });

  it('INVALID_OFFSETS: not a pair of integers, or ending before it begins', () => {
    expectError(
      rawFile(withEntry('a', { dtype: 'F32', shape: [2, 3], data_offsets: [0] }), 28),
      'INVALID_OFFSETS',
      /is not a pair of non-negative integers/,
      'a',
    );
    expectError(
      rawFile(withEntry('a', { dtype: 'F32', shape: [2, 3], data_offsets: [-4, 20] }), 28),
      'INVALID_OFFSETS',
      /is not a pair of non-negative integers/,
      'a',
    );
    expectError(rawFile(withEntry('a', { dtype: 'F32', shape: [0], data_offsets: [24, 0] }), 28), 'INVALID_OFFSETS', /ends before it begins/, 'a');
  });

  it('SIZE_MISMATCH: shape × dtype size differs from the byte range', () => {
    expectError(
      rawFile(withEntry('a', { dtype: 'F32', shape: [2, 2], data_offsets: [0, 24] }), 28),
      'SIZE_MISMATCH',
      /shape \[2, 2\] of F32 needs 16 bytes but data_offsets \[0, 24\] hold 24/,
      'a',
    );
    // A shape whose size overflows doubles is still compared exactly (and nothing is allocated).
    expectError(
      rawFile(withEntry('a', { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 24] }), 28),
      'SIZE_MISMATCH',
      /needs 4835703278458516698824704 bytes/,
      'a',
    );
  });

  it('OFFSET_OUT_OF_RANGE: a range past the end of the data', () => {
    expectError(
      rawFile(withEntry('b', { dtype: 'I8', shape: [4], data_offsets: [24, 32] }), 28),
      'OFFSET_OUT_OF_RANGE',
      /data_offsets \[24, 32\] run past the data buffer \(28 bytes\)/,
      'b',
    );
    expectError(
      rawFile(withEntry('b', { dtype: 'U8', shape: [2 ** 50], data_offsets: [24, 24 + 2 ** 50] }), 28),
      'OFFSET_OUT_OF_RANGE',
      /run past the data buffer/,
      'b',
    );
  });

  it('OVERLAPPING_RANGES', () => {
    const header = withEntry('b', { dtype: 'I8', shape: [8], data_offsets: [20, 28] });
    expectError(rawFile(header, 28), 'OVERLAPPING_RANGES', /data_offsets \[20, 28\] overlap those of "a" \[0, 24\]/, 'b');
  });

  it('HOLE_IN_DATA: a gap between ranges, or bytes left at the end', () => {
    const gap = withEntry('b', { dtype: 'I8', shape: [2], data_offsets: [26, 28] });
    expectError(rawFile(gap, 28), 'HOLE_IN_DATA', /bytes \[24, 26\) of the data buffer belong to no tensor/, 'b');
    expectError(rawFile(validHeader(), 30), 'HOLE_IN_DATA', /bytes \[28, 30\) at the end of the data buffer belong to no tensor/);
  });

  it('TENSOR_NOT_FOUND', () => {
    const e = errorOf(rawFile(validHeader(), 28), (f) => f.view('c'));
    expect(e.code).toBe('TENSOR_NOT_FOUND');
    expect(e.message).toMatch(/f\.safetensors, tensor "c": no tensor of that name/);
  });

  it('I64_OUT_OF_RANGE: an I64 value that int32 cannot hold', () => {
    const data = new BigInt64Array([5n, -(2n ** 31n), 2n ** 31n]);
    const bytes = rawFile({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(data.buffer));
    const e = errorOf(bytes, (f) => f.toHost('ids'));
    expect(e.code).toBe('I64_OUT_OF_RANGE');
    expect(e.message).toMatch(/tensor "ids": element 2 is 2147483648, outside the int32 range/);
  });
});
