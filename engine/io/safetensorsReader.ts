/**
 * Reading safetensors files.
 *
 * `readSafetensors(bytes)` validates the header (see safetensorsFormat.ts) and gives access to each
 * tensor in two ways:
 *   - `view(name)`: the stored values in a typed array of the stored type (F16/BF16 as their raw
 *     Uint16 bits, I64 as BigInt64Array). Zero-copy when the data is aligned for its element size,
 *     otherwise a copy, since a typed array cannot start at a misaligned byte.
 *   - `toHost(name)`: a fresh array of one of the engine's host types, ready to upload: F16/BF16
 *     widened to float32 (exact), the small integer types and I64 to int32 (I64 checked for range),
 *     BOOL to 0/1 bytes.
 */
import type { DType, HalfDType, TypedArray } from '../dtype.ts';
import { bf16ToFloat32Array, f16ToFloat32Array } from './halfFloat.ts';
import { readWholeFile } from './files.ts';
import { SafetensorsError } from './safetensorsError.ts';
import { DTYPE_SIZE, parseHeader, type SafetensorsDType, type TensorEntry } from './safetensorsFormat.ts';

/** The typed array that holds each stored dtype without conversion. */
export type RawArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * A tensor in the engine's host types: what `tensor(data, shape, {dtype})` takes. Never 16-bit:
 * `toHost` widens F16/BF16 (checkpoint loaders that keep them 16-bit read them raw, engine/io/tensorStream.ts).
 */
export interface HostTensor {
  dtype: Exclude<DType, HalfDType>;
  shape: number[];
  data: TypedArray;
}

type RawArrayConstructor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): RawArray;
  new (length: number): RawArray;
};

export const RAW_ARRAY: Readonly<Record<SafetensorsDType, RawArrayConstructor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** Typed arrays use the host's byte order; the format is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  private readonly entries = new Map<string, TensorEntry>();
  private readonly dataStart: number;

  /** Use `readSafetensors` or `readSafetensorsFile`, which validate first. */
  constructor(
    readonly file: string,
    private readonly bytes: Uint8Array,
  ) {
    const header = parseHeader(bytes, file);
    this.metadata = header.metadata;
    this.dataStart = header.dataStart;
    for (const e of header.entries) this.entries.set(e.name, e);
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The stored dtype and shape. */
  info(name: string): { dtype: SafetensorsDType; shape: number[] } {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: [...e.shape] };
  }

  /** The tensor's bytes, a view into the file's buffer (no copy). */
  rawBytes(name: string): Uint8Array {
    const e = this.entry(name);
    return this.bytes.subarray(this.dataStart + e.begin, this.dataStart + e.end);
  }

  /** The stored values, zero-copy when aligned (writes through it change the file's buffer). */
  view(name: string): RawArray {
    const e = this.entry(name);
    const size = DTYPE_SIZE[e.dtype];
    if (!LITTLE_ENDIAN && size > 1) {
      throw new SafetensorsError('UNSUPPORTED_PLATFORM', this.file, 'typed-array views need a little-endian host', name);
    }
    const Raw = RAW_ARRAY[e.dtype];
    const length = (e.end - e.begin) / size;
    const byteOffset = this.bytes.byteOffset + this.dataStart + e.begin;
    if (byteOffset % size === 0) return new Raw(this.bytes.buffer, byteOffset, length);
    const copy = new Raw(length);
    new Uint8Array(copy.buffer).set(this.rawBytes(name));
    return copy;
  }

  /** A fresh array in the engine's host types (see the file comment for the conversions). */
  toHost(name: string): HostTensor {
    return rawToHost(this.entry(name).dtype, this.view(name), [...this.entry(name).shape], this.file, name);
  }

  private entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (e === undefined) throw new SafetensorsError('TENSOR_NOT_FOUND', this.file, 'no tensor of that name', name);
    return e;
  }
}

/**
 * Stored values (`raw`, of the array type RAW_ARRAY gives `dtype`) as a fresh array in the engine's
 * host types; shared with the torch.save reader, whose tensors use the same dtype names.
 */
export function rawToHost(dtype: SafetensorsDType, raw: RawArray, shape: number[], file: string, name: string): HostTensor {
  switch (dtype) {
    case 'F64':
      return { dtype: 'float64', shape, data: (raw as Float64Array).slice() };
    case 'F32':
      return { dtype: 'float32', shape, data: (raw as Float32Array).slice() };
    case 'F16':
      return { dtype: 'float32', shape, data: f16ToFloat32Array(raw as Uint16Array) };
    case 'BF16':
      return { dtype: 'float32', shape, data: bf16ToFloat32Array(raw as Uint16Array) };
    case 'I64':
      return { dtype: 'int32', shape, data: int64ToInt32(raw as BigInt64Array, file, name) };
    case 'I32':
      return { dtype: 'int32', shape, data: (raw as Int32Array).slice() };
    case 'I16':
    case 'I8':
    case 'U8':
      return { dtype: 'int32', shape, data: Int32Array.from(raw as Int16Array | Int8Array | Uint8Array) };
    case 'BOOL':
      return { dtype: 'bool', shape, data: (raw as Uint8Array).map((b) => (b !== 0 ? 1 : 0)) };
  }
}

/** The engine indexes with int32; an I64 value beyond it is an error, not a silent wrap. */
function int64ToInt32(values: BigInt64Array, file: string, name: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new SafetensorsError('I64_OUT_OF_RANGE', file, `element ${i} is ${v}, outside the int32 range`, name);
    }
    out[i] = Number(v);
  }
  return out;
}

/** Parses and validates a file already in memory. `file` only names it in error messages. */
export function readSafetensors(bytes: Uint8Array, file = '<memory>'): SafetensorsFile {
  return new SafetensorsFile(file, bytes);
}

export function readSafetensorsFile(file: string): SafetensorsFile {
  return new SafetensorsFile(file, readWholeFile(file));
}
