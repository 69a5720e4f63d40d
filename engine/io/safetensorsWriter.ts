/**
 * Writing safetensors files, laid out like the reference implementation: tensors sorted by element
 * size (largest first), then by name, so that with the header padded (with spaces) to a multiple
 * of 8 bytes every tensor starts aligned for its type and a reader can view it without copying.
 *
 * What each dtype accepts as `data`:
 *   F64 Float64Array · F32 Float32Array · I32 Int32Array · I16 Int16Array · I8 Int8Array · U8 Uint8Array
 *   F16, BF16  Uint16Array of raw bits (kept as they are, so a loaded checkpoint is written back
 *              bit for bit), or Float32Array (rounded to nearest, ties to even)
 *   I64        BigInt64Array, or Int32Array (widened)
 *   BOOL       Uint8Array (any non-zero byte is written as 1)
 */
import type { DType } from '../dtype.ts';
import type { HostTensor } from './safetensorsReader.ts';
import { atomicWriteFile } from './files.ts';
import { float32ToBf16Array, float32ToF16Array } from './halfFloat.ts';
import { SafetensorsError } from './safetensorsError.ts';
import { DTYPE_SIZE, isSafetensorsDType, METADATA_KEY, type SafetensorsDType } from './safetensorsFormat.ts';

export type WritableArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: WritableArray;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The engine's host tensors map one-to-one onto safetensors dtypes (16-bit ones as their bits). */
export function hostToSafetensors(t: Omit<HostTensor, 'dtype'> & { dtype: DType }): TensorToWrite {
  const dtype = ({ float32: 'F32', float64: 'F64', int32: 'I32', bool: 'BOOL', bfloat16: 'BF16', float16: 'F16' } as const)[t.dtype];
  return { dtype, shape: t.shape, data: t.data };
}

/**
 * The file's contents as a list of chunks: the length-prefixed header, then each tensor's bytes
 * (views of the caller's arrays where no conversion is needed, so nothing big is copied).
 * Throws INVALID_INPUT before producing anything if a tensor is inconsistent.
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
  file = '<memory>',
): Uint8Array[] {
  if (!LITTLE_ENDIAN) throw new SafetensorsError('UNSUPPORTED_PLATFORM', file, 'writing needs a little-endian host');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError('INVALID_INPUT', file, `metadata "${k}" is not a string`);
  }
  const encoded = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: encode(name, t, file) }));
  encoded.sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Entries as pairs, then fromEntries: assigning header[name] would misbehave for "__proto__".
  const header: [string, unknown][] = [];
  if (Object.keys(metadata).length > 0) header.push([METADATA_KEY, metadata]);
  let offset = 0;
  for (const t of encoded) {
    header.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] }]);
    offset += t.bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(header)));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const prefix = new Uint8Array(8 + json.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
  prefix.set(json, 8);
  return [prefix, ...encoded.map((t) => t.bytes)];
}

/** The whole file in one buffer (handy for tests and small files). */
export function serializeSafetensorsToBytes(tensors: Readonly<Record<string, TensorToWrite>>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const chunks = serializeSafetensors(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes atomically: `file` is never left half-written (see atomicWriteFile). */
export function writeSafetensorsFile(file: string, tensors: Readonly<Record<string, TensorToWrite>>, metadata: Readonly<Record<string, string>> = {}): void {
  atomicWriteFile(file, serializeSafetensors(tensors, metadata, file));
}

/** The tensor's bytes in the stored format, after checking it against its shape and dtype. */
function encode(name: string, t: TensorToWrite, file: string): Uint8Array {
  const fail = (msg: string) => new SafetensorsError('INVALID_INPUT', file, msg, name);
  if (name === METADATA_KEY) throw fail(`"${METADATA_KEY}" is reserved for the metadata`);
  if (!isSafetensorsDType(t.dtype)) throw fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`shape [${t.shape.join(', ')}] is not a list of non-negative integers`);
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== elements) throw fail(`shape [${t.shape.join(', ')}] needs ${elements} elements but data has ${t.data.length}`);

  const d = t.data;
  const stored = ((): WritableArray | null => {
    switch (t.dtype) {
      case 'F64':
        return d instanceof Float64Array ? d : null;
      case 'F32':
        return d instanceof Float32Array ? d : null;
      case 'F16':
        return d instanceof Uint16Array ? d : d instanceof Float32Array ? float32ToF16Array(d) : null;
      case 'BF16':
        return d instanceof Uint16Array ? d : d instanceof Float32Array ? float32ToBf16Array(d) : null;
      case 'I64':
        return d instanceof BigInt64Array ? d : d instanceof Int32Array ? BigInt64Array.from(d, (v) => BigInt(v)) : null;
      case 'I32':
        return d instanceof Int32Array ? d : null;
      case 'I16':
        return d instanceof Int16Array ? d : null;
      case 'I8':
        return d instanceof Int8Array ? d : null;
      case 'U8':
        return d instanceof Uint8Array ? d : null;
      case 'BOOL':
        return d instanceof Uint8Array ? d.map((b) => (b !== 0 ? 1 : 0)) : null;
    }
  })();
  if (stored === null) throw fail(`a ${d.constructor.name} cannot be written as ${t.dtype}`);
  return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
}
