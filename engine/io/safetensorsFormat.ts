/**
 * The safetensors layout, and the strict check of a file's header.
 *
 *   [8 bytes]  N, the header length, a little-endian u64
 *   [N bytes]  a UTF-8 JSON object: { name: {dtype, shape, data_offsets: [begin, end]}, ...,
 *                                     "__metadata__": {key: string value} }  (metadata optional)
 *   [rest]     the data buffer; every tensor's bytes are data[begin, end), row-major, little-endian
 *
 * `parseHeader` validates everything a reader relies on before anyone touches the data: after it
 * returns, every tensor's byte range lies inside the file, has exactly the size its shape and dtype
 * say, and the ranges tile the data buffer with no overlap and no hole. Nothing here allocates in
 * proportion to what the header claims, only to the header's own length (which is itself bounded
 * by the file), so a lying header cannot make the reader allocate beyond the file size.
 */
import { SafetensorsError, type SafetensorsErrorCode } from './safetensorsError.ts';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

/** The Rust crate refuses headers beyond 100 MB; so do we (a real header is kilobytes). */
export const MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range in the data buffer, [begin, end), relative to the start of the data. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Offset in the file where the data buffer starts (8 + N). */
  dataStart: number;
  /** Tensors in the order the header lists them. */
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

/**
 * `bytes` is the whole file, or (a streaming reader, tensorStream.ts) only its first 8 + N bytes,
 * with `fileSize` the whole file's length.
 */
export function parseHeader(bytes: Uint8Array, file: string, fileSize = bytes.length): ParsedHeader {
  const fail = (code: SafetensorsErrorCode, msg: string, tensor?: string) => new SafetensorsError(code, file, msg, tensor);

  if (fileSize < 8) throw fail('FILE_TOO_SMALL', `${fileSize} bytes, fewer than the 8 of the header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw fail('HEADER_TOO_LARGE', `header length ${n} is beyond the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) {
    throw fail('HEADER_BEYOND_FILE', `header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw fail('INVALID_UTF8', 'the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail('INVALID_JSON', `the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw fail('HEADER_NOT_OBJECT', 'the header is not a JSON object');

  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) {
    if (duplicate.depth === 1) throw fail('DUPLICATE_NAME', `the name "${duplicate.key}" appears twice in the header`);
    throw fail('DUPLICATE_KEY', `the key "${duplicate.key}" appears twice inside one entry`, duplicate.owner);
  }

  const metadata = parseMetadata(json[METADATA_KEY], file);
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) continue;
    entries.push(parseEntry(name, value, dataLength, file));
  }
  checkCoverage(entries, dataLength, file);
  return { dataStart, entries, metadata };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  // Absent and null both mean "no metadata" (the Rust crate reads it as an Option).
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new SafetensorsError('INVALID_METADATA', file, `${METADATA_KEY} is not an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError('INVALID_METADATA', file, `${METADATA_KEY}["${k}"] is a ${jsonType(v)}, not a string`);
    }
  }
  // fromEntries defines own properties, so even a key named "__proto__" stays an ordinary key.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

function parseEntry(name: string, value: unknown, dataLength: number, file: string): TensorEntry {
  const fail = (code: SafetensorsErrorCode, msg: string) => new SafetensorsError(code, file, msg, name);

  if (!isPlainObject(value)) throw fail('HEADER_NOT_OBJECT', `the entry is a ${jsonType(value)}, not an object`);
  for (const field of ENTRY_FIELDS) {
    if (!Object.hasOwn(value, field)) throw fail('INVALID_ENTRY', `the entry has no "${field}"`);
  }
  for (const field of Object.keys(value)) {
    if (!ENTRY_FIELDS.includes(field)) throw fail('INVALID_ENTRY', `the entry has an unknown field "${field}"`);
  }

  const dtype = value['dtype'];
  if (!isSafetensorsDType(dtype)) {
    throw fail('UNKNOWN_DTYPE', `unknown dtype ${shown(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }

  const shape = value['shape'];
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    throw fail('INVALID_SHAPE', `shape ${shown(shape)} is not a list of non-negative integers`);
  }

  const offsets = value['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    throw fail('INVALID_OFFSETS', `data_offsets ${shown(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail('INVALID_OFFSETS', `data_offsets [${begin}, ${end}] ends before it begins`);
  if (end > dataLength) {
    throw fail('OFFSET_OUT_OF_RANGE', `data_offsets [${begin}, ${end}] run past the data buffer (${dataLength} bytes)`);
  }

  // BigInt, because a lying shape like [2^40, 2^40] overflows a double's exact integers.
  let elements = 1n;
  for (const d of shape as number[]) elements *= BigInt(d);
  const expected = elements * BigInt(DTYPE_SIZE[dtype]);
  if (expected !== BigInt(end - begin)) {
    throw fail('SIZE_MISMATCH', `shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isNonNegativeSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The data buffer must be tiled exactly: sorted by offset, each range starts where the last ended. */
function checkCoverage(entries: readonly TensorEntry[], dataLength: number, file: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorEntry | null = null;
  for (const e of sorted) {
    if (e.begin < covered) {
      throw new SafetensorsError(
        'OVERLAPPING_RANGES',
        file,
        `data_offsets [${e.begin}, ${e.end}] overlap those of "${previous!.name}" [${previous!.begin}, ${previous!.end}]`,
        e.name,
      );
    }
    if (e.begin > covered) {
      throw new SafetensorsError(
        'HOLE_IN_DATA',
        file,
        `bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor (before data_offsets [${e.begin}, ${e.end}])`,
        e.name,
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    throw new SafetensorsError('HOLE_IN_DATA', file, `bytes [${covered}, ${dataLength}) at the end of the data buffer belong to no tensor`);
  }
}

/**
 * A header value as an error message shows it: at most 80 characters of its JSON. A value nested
 * thousands deep (which JSON.parse accepts) overflows JSON.stringify's recursion, so it is described
 * instead of shown: the error stays a SafetensorsError, not a RangeError from writing the message.
 */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return '(a value nested too deeply to show)';
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * The first key that appears twice within one JSON object, or null. JSON.parse keeps the last of
 * duplicate keys without a word, so a file with two tensors of the same name would silently lose
 * one; this scan finds them. It must only be given text that JSON.parse accepted (so every string
 * is terminated and brackets balance).
 *
 * It walks the text once, keeping a stack with one entry per open object (the keys seen so far) or
 * array (null); a string is a key exactly when it follows `{` or a `,` inside an object.
 */
export function findDuplicateKey(text: string): { key: string; depth: number; owner?: string } | null {
  // `owner` is the top-level key an inner object or array belongs to, for the error message.
  const stack: { keys: Set<string> | null; owner?: string }[] = [];
  let expectKey = false;
  let lastTopKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      if (expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        const top = stack[stack.length - 1]!;
        if (top.keys!.has(key)) return { key, depth: stack.length, owner: top.owner };
        top.keys!.add(key);
        if (stack.length === 1) lastTopKey = key;
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const owner = stack.length === 0 ? undefined : stack.length === 1 ? lastTopKey : stack[stack.length - 1]!.owner;
      stack.push({ keys: c === 0x7b ? new Set() : null, owner });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]!.keys !== null;
    }
  }
  return null;
}
