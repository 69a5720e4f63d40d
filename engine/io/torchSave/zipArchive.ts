/**
 * The zip archive inside every `torch.save` file since PyTorch 1.6.
 *
 * torch.save writes an uncompressed ("stored") zip: `<prefix>/data.pkl`, `<prefix>/data/<key>` (one
 * record per storage, its raw little-endian bytes), `<prefix>/version` and, in newer versions,
 * `<prefix>/byteorder`. Each record's data starts on a 64-byte boundary (the local header's extra
 * field is padded with an `FB` block), so a reader can map it. Archives over 4 GB use zip64.
 *
 * The reader trusts nothing: the central directory is the table of contents, every local header
 * must agree with it, records may not overlap, and each record's CRC-32 is checked when it is read.
 * Deflated records (a zip re-packed by another tool) are inflated with node:zlib, never past the size
 * the directory declares.
 *
 * The bytes come from a ByteSource (byteSource.ts), by ranges: over a file, opening the archive reads
 * its end, its central directory and the local headers, and a record is read only when asked for.
 */
import * as zlib from 'node:zlib';
import type { ByteSource } from './byteSource.ts';
import { reasonOf, TorchSaveError } from './torchSaveError.ts';

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
/** A field that holds this value defers to the zip64 extra field. */
const ZIP64_MARK = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;
/** torch's padding block in the local extra field ("FB"), which aligns the data. */
const PADDING_EXTRA_ID = 0x4246;
const ALIGNMENT = 64;
const STORED = 0;
const DEFLATE = 8;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localStart: number;
  dataStart: number;
}

/** Fresh bytes `position`..`position + length` of the archive; `what` names them if the read fails. */
type ReadAt = (position: number, length: number, what: string) => Uint8Array;

/**
 * A validated archive: record names, their sizes, and their bytes (read from the source when asked,
 * checked against the CRC on every read). Opening one reads only the end of the file, the central
 * directory and each record's local header.
 */
export class ZipArchive {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly source: ByteSource,
    readonly file: string,
  ) {
    for (const entry of readCentralDirectory(this.readAt, source.size, file)) this.entries.set(entry.name, entry);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The record's uncompressed size, as the central directory declares it (read() holds it to that). */
  size(name: string): number {
    return this.entry(name).size;
  }

  /** The record's uncompressed bytes, in an array of their own (read from the source on each call). */
  read(name: string): Uint8Array {
    const entry = this.entry(name);
    const raw = this.readAt(entry.dataStart, entry.compressedSize, `record "${name}"`);
    let data: Uint8Array;
    if (entry.method === STORED) data = raw;
    else {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (e) {
        throw new TorchSaveError('ZIP_CORRUPT', this.file, `record "${name}" does not inflate: ${(e as Error).message}`);
      }
      if (data.length !== entry.size)
        throw new TorchSaveError('ZIP_CORRUPT', this.file, `record "${name}" inflates to ${data.length} bytes, not ${entry.size}`);
    }
    if (crc32(data) !== entry.crc) throw new TorchSaveError('CRC_MISMATCH', this.file, `record "${name}" does not match its CRC-32`);
    return data;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new TorchSaveError('MISSING_RECORD', this.file, `the archive has no record "${name}"`);
    return entry;
  }

  private readonly readAt: ReadAt = (position, length, what) => {
    const bytes = new Uint8Array(length);
    try {
      this.source.readInto(bytes, position);
    } catch (e) {
      throw new TorchSaveError('IO_ERROR', this.file, `cannot read ${what}: ${reasonOf(e)}`);
    }
    return bytes;
  };
}

function corrupt(file: string, message: string): TorchSaveError {
  return new TorchSaveError('ZIP_CORRUPT', file, message);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A 64-bit little-endian field as a Number; sizes past 2^53 cannot be real. */
function u64(view: DataView, at: number, file: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(file, `a 64-bit size or offset (${value}) is beyond any real file`);
  return Number(value);
}

/** The end-of-central-directory record's offset, and its 22 bytes. */
function findEndOfCentralDirectory(readAt: ReadAt, size: number, file: string): { eocd: number; view: DataView } {
  // The record is 22 bytes plus a comment of up to 65535; search the tail backwards for its signature.
  const tailStart = Math.max(0, size - EOCD_BYTES - 0xffff);
  const tail = readAt(tailStart, size - tailStart, 'the end of the file');
  const view = viewOf(tail);
  for (let at = tail.length - EOCD_BYTES; at >= 0; at--) {
    if (view.getUint32(at, true) === EOCD_SIGNATURE && at + EOCD_BYTES + view.getUint16(at + 20, true) === tail.length)
      return { eocd: tailStart + at, view: new DataView(tail.buffer, at, EOCD_BYTES) };
  }
  throw new TorchSaveError('NOT_A_ZIP', file, 'not a zip archive (no end-of-central-directory record); torch.save files before PyTorch 1.6 are not supported');
}

function readCentralDirectory(readAt: ReadAt, size: number, file: string): Entry[] {
  const { eocd, view: end } = findEndOfCentralDirectory(readAt, size, file);
  if (end.getUint16(4, true) !== 0 || end.getUint16(6, true) !== 0) throw new TorchSaveError('ZIP_UNSUPPORTED', file, 'multi-disk archives are not supported');
  let count = end.getUint16(10, true);
  let directorySize = end.getUint32(12, true);
  let directoryStart = end.getUint32(16, true);
  // A zip64 archive puts a locator right before the classic record, pointing at the 64-bit one.
  const locator = eocd - ZIP64_LOCATOR_BYTES;
  const locatorView = locator >= 0 ? viewOf(readAt(locator, ZIP64_LOCATOR_BYTES, 'the zip64 locator')) : null;
  const isZip64 = locatorView !== null && locatorView.getUint32(0, true) === ZIP64_LOCATOR_SIGNATURE;
  if (isZip64) {
    const record = u64(locatorView, 8, file);
    const missing = () => corrupt(file, 'the zip64 end-of-central-directory record is missing');
    if (record + ZIP64_EOCD_BYTES > locator) throw missing();
    const zip64 = viewOf(readAt(record, ZIP64_EOCD_BYTES, 'the zip64 end-of-central-directory record'));
    if (zip64.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw missing();
    count = u64(zip64, 32, file);
    directorySize = u64(zip64, 40, file);
    directoryStart = u64(zip64, 48, file);
  }
  if (directoryStart + directorySize > (isZip64 ? locator : eocd)) throw corrupt(file, 'the central directory lies outside the file');
  const directory = readAt(directoryStart, directorySize, 'the central directory');
  const view = viewOf(directory);
  const entries: Entry[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_BYTES > directorySize || view.getUint32(at, true) !== CENTRAL_SIGNATURE) throw corrupt(file, `central directory entry ${i} is damaged`);
    const length = CENTRAL_BYTES + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    if (at + length > directorySize) throw corrupt(file, `central directory entry ${i} runs past the directory`);
    const entry = readCentralEntry(directory.subarray(at, at + length), directoryStart, readAt, file);
    if (seen.has(entry.name)) throw corrupt(file, `the record "${entry.name}" appears twice`);
    seen.add(entry.name);
    entries.push(entry);
    at += length;
  }
  if (at !== directorySize) throw corrupt(file, 'the central directory size does not match its entries');
  // Records may not share bytes: each must end before the next local header starts.
  const byStart = [...entries].sort((a, b) => a.dataStart - b.dataStart);
  for (let i = 1; i < byStart.length; i++) {
    if (byStart[i - 1]!.dataStart + byStart[i - 1]!.compressedSize > byStart[i]!.localStart)
      throw corrupt(file, `records "${byStart[i - 1]!.name}" and "${byStart[i]!.name}" overlap`);
  }
  return entries;
}

/** One central directory entry (`central`, its own bytes), checked against its local header. */
function readCentralEntry(central: Uint8Array, directoryStart: number, readAt: ReadAt, file: string): Entry {
  const view = viewOf(central);
  const flags = view.getUint16(8, true);
  const method = view.getUint16(10, true);
  const crc = view.getUint32(16, true);
  let compressedSize = view.getUint32(20, true);
  let size = view.getUint32(24, true);
  const nameLength = view.getUint16(28, true);
  const extraLength = view.getUint16(30, true);
  let localStart = view.getUint32(42, true);
  const nameBytes = central.subarray(CENTRAL_BYTES, CENTRAL_BYTES + nameLength);
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(nameBytes);
  } catch {
    throw corrupt(file, 'a record name is not UTF-8');
  }
  if (flags & FLAG_ENCRYPTED) throw new TorchSaveError('ZIP_UNSUPPORTED', file, `record "${name}" is encrypted`);
  if (method !== STORED && method !== DEFLATE)
    throw new TorchSaveError('ZIP_UNSUPPORTED', file, `record "${name}" uses compression method ${method} (only stored and deflate are read)`);
  // The zip64 extra field holds, in this order, each 32-bit field that was set to 0xffffffff.
  const extraStart = CENTRAL_BYTES + nameLength;
  for (let e = extraStart; e + 4 <= extraStart + extraLength; ) {
    const id = view.getUint16(e, true);
    const length = view.getUint16(e + 2, true);
    if (e + 4 + length > extraStart + extraLength) throw corrupt(file, `record "${name}" has a damaged extra field`);
    if (id === ZIP64_EXTRA_ID) {
      let field = e + 4;
      const take = (): number => {
        if (field + 8 > e + 4 + length) throw corrupt(file, `record "${name}" has a short zip64 field`);
        const value = u64(view, field, file);
        field += 8;
        return value;
      };
      if (size === ZIP64_MARK) size = take();
      if (compressedSize === ZIP64_MARK) compressedSize = take();
      if (localStart === ZIP64_MARK) localStart = take();
    }
    e += 4 + length;
  }
  if (method === STORED && compressedSize !== size) throw corrupt(file, `stored record "${name}" has different compressed and uncompressed sizes`);
  if (localStart + LOCAL_BYTES + nameLength > directoryStart) throw corrupt(file, `record "${name}" has no local header`);
  const local = readAt(localStart, LOCAL_BYTES + nameLength, `the local header of record "${name}"`);
  const lv = viewOf(local);
  if (lv.getUint32(0, true) !== LOCAL_SIGNATURE) throw corrupt(file, `record "${name}" has no local header`);
  const localNameLength = lv.getUint16(26, true);
  const localExtraLength = lv.getUint16(28, true);
  if (localNameLength !== nameLength || !local.subarray(LOCAL_BYTES).every((b, i) => b === nameBytes[i]))
    throw corrupt(file, `record "${name}": the local header names another record`);
  if (lv.getUint16(8, true) !== method) throw corrupt(file, `record "${name}": the local header disagrees on the compression method`);
  // Without a data descriptor the local header repeats CRC and sizes (or defers to zip64); they must agree.
  if (!(lv.getUint16(6, true) & FLAG_DATA_DESCRIPTOR)) {
    const localCompressed = lv.getUint32(18, true);
    const localSize = lv.getUint32(22, true);
    if (
      lv.getUint32(14, true) !== crc ||
      (localCompressed !== ZIP64_MARK && localCompressed !== compressedSize) ||
      (localSize !== ZIP64_MARK && localSize !== size)
    )
      throw corrupt(file, `record "${name}": the local header disagrees with the central directory`);
  }
  const dataStart = localStart + LOCAL_BYTES + localNameLength + localExtraLength;
  if (dataStart + compressedSize > directoryStart) throw corrupt(file, `record "${name}" runs past the start of the central directory`);
  return { name, method, crc, compressedSize, size, localStart, dataStart };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array): number {
  return crc32Pieces([data]);
}

/** One record to write: its name and its bytes, possibly in several pieces. */
export interface ZipRecord {
  name: string;
  data: readonly Uint8Array[];
}

/**
 * The archive as torch.save writes it: stored records whose data starts on a 64-byte boundary,
 * zip64 fields where a size or offset does not fit 32 bits. Returned as chunks (the records' own
 * buffers among them), so a large tensor is not copied.
 */
export function serializeZip(records: readonly ZipRecord[]): Uint8Array[] {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  let needsZip64 = records.length > 0xffff;
  for (const record of records) {
    const name = encoder.encode(record.name);
    const size = record.data.reduce((total, piece) => total + piece.length, 0);
    const crc = crc32Pieces(record.data);
    const big = size >= ZIP64_MARK || offset >= ZIP64_MARK;
    needsZip64 ||= big;
    // The local zip64 extra (both sizes) when big; then an FB block that pads the data to 64 bytes.
    const zip64Local = big ? 20 : 0;
    const unpadded = offset + LOCAL_BYTES + name.length + zip64Local + 4;
    const padding = (ALIGNMENT - (unpadded % ALIGNMENT)) % ALIGNMENT;
    const local = new Uint8Array(LOCAL_BYTES + name.length + zip64Local + 4 + padding);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL_SIGNATURE, true);
    lv.setUint16(4, big ? 45 : 20, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, big ? ZIP64_MARK : size, true);
    lv.setUint32(22, big ? ZIP64_MARK : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, zip64Local + 4 + padding, true);
    local.set(name, LOCAL_BYTES);
    let e = LOCAL_BYTES + name.length;
    if (big) {
      lv.setUint16(e, ZIP64_EXTRA_ID, true);
      lv.setUint16(e + 2, 16, true);
      lv.setBigUint64(e + 4, BigInt(size), true);
      lv.setBigUint64(e + 12, BigInt(size), true);
      e += 20;
    }
    lv.setUint16(e, PADDING_EXTRA_ID, true);
    lv.setUint16(e + 2, padding, true);
    chunks.push(local, ...record.data);

    const zip64Central = big ? 28 : 0;
    const entry = new Uint8Array(CENTRAL_BYTES + name.length + zip64Central);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, CENTRAL_SIGNATURE, true);
    cv.setUint16(4, big ? 45 : 20, true);
    cv.setUint16(6, big ? 45 : 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, big ? ZIP64_MARK : size, true);
    cv.setUint32(24, big ? ZIP64_MARK : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, zip64Central, true);
    cv.setUint32(42, big ? ZIP64_MARK : offset, true);
    entry.set(name, CENTRAL_BYTES);
    if (big) {
      const z = CENTRAL_BYTES + name.length;
      cv.setUint16(z, ZIP64_EXTRA_ID, true);
      cv.setUint16(z + 2, 24, true);
      cv.setBigUint64(z + 4, BigInt(size), true);
      cv.setBigUint64(z + 12, BigInt(size), true);
      cv.setBigUint64(z + 20, BigInt(offset), true);
    }
    central.push(entry);
    offset += local.length + size;
  }
  const directoryStart = offset;
  const directorySize = central.reduce((total, entry) => total + entry.length, 0);
  chunks.push(...central);
  needsZip64 ||= directoryStart + directorySize >= ZIP64_MARK;
  if (needsZip64) {
    const record = new Uint8Array(ZIP64_EOCD_BYTES + ZIP64_LOCATOR_BYTES);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, ZIP64_EOCD_SIGNATURE, true);
    rv.setBigUint64(4, BigInt(ZIP64_EOCD_BYTES - 12), true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(records.length), true);
    rv.setBigUint64(32, BigInt(records.length), true);
    rv.setBigUint64(40, BigInt(directorySize), true);
    rv.setBigUint64(48, BigInt(directoryStart), true);
    rv.setUint32(ZIP64_EOCD_BYTES, ZIP64_LOCATOR_SIGNATURE, true);
    rv.setBigUint64(ZIP64_EOCD_BYTES + 8, BigInt(directoryStart + directorySize), true);
    rv.setUint32(ZIP64_EOCD_BYTES + 16, 1, true);
    chunks.push(record);
  }
  const end = new Uint8Array(EOCD_BYTES);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD_SIGNATURE, true);
  ev.setUint16(8, needsZip64 ? 0xffff : records.length, true);
  ev.setUint16(10, needsZip64 ? 0xffff : records.length, true);
  ev.setUint32(12, needsZip64 ? ZIP64_MARK : directorySize, true);
  ev.setUint32(16, needsZip64 ? ZIP64_MARK : directoryStart, true);
  chunks.push(end);
  return chunks;
}

/** node:zlib's CRC-32 (Node ≥ 20.15), several times faster than the table loop below. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (the zip polynomial) of the pieces one after another, as an unsigned 32-bit number. */
function crc32Pieces(pieces: readonly Uint8Array[]): number {
  if (nativeCrc32 !== undefined) return pieces.reduce((c, piece) => nativeCrc32(piece, c), 0) >>> 0;
  let c = 0xffffffff;
  for (const data of pieces) for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
