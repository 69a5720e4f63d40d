/**
 * Reading a checkpoint one tensor at a time, straight from disk.
 *
 * `readSafetensorsFile` holds a whole file in memory, which a 7B model cannot afford (and Node
 * refuses a Buffer over 4 GB, smaller than one official shard). A stream reads only each file's
 * header when it opens (validated by the same `parseHeader`), then each tensor's byte range on
 * demand, with positioned reads (`fs.readSync`, at most 1 GiB each) into an array of exactly that
 * tensor's size, which the caller uploads and drops. Peak host memory while loading is therefore
 * the largest tensor plus the headers, whatever the size of the files.
 *
 *   const weights = openTensorStream(dir);     // model.safetensors, or the shards of the index
 *   const raw = weights.read('lm_head.weight'); // Uint16Array of bf16 bits, say
 *   weights.close();
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bf16ToFloat32Array, f16ToFloat32Array } from './halfFloat.ts';
import { openForReading, readFully } from './files.ts';
import { SafetensorsError } from './safetensorsError.ts';
import { DTYPE_SIZE, MAX_HEADER_BYTES, parseHeader, type SafetensorsDType, type TensorEntry } from './safetensorsFormat.ts';
import { RAW_ARRAY, type HostTensor, type RawArray } from './safetensorsReader.ts';
import { checkShards, INDEX_FILE, readShardIndex } from './shardedCheckpoint.ts';

export interface StreamedTensorInfo {
  dtype: SafetensorsDType;
  shape: number[];
  /** Bytes on disk (elements × the stored element size). */
  byteLength: number;
}

/** One safetensors file, open for reading tensor by tensor. */
export class SafetensorsStream {
  private readonly entries = new Map<string, TensorEntry>();
  private fd: number | null;

  private constructor(
    readonly file: string,
    fd: number,
    private readonly dataStart: number,
    entries: readonly TensorEntry[],
  ) {
    this.fd = fd;
    for (const e of entries) this.entries.set(e.name, e);
  }

  /** Opens `file` and validates its header (no tensor data is read). */
  static open(file: string): SafetensorsStream {
    const fd = openForReading(file);
    try {
      const size = fs.fstatSync(fd).size;
      const prefix = new Uint8Array(Math.min(8, size));
      readFully(fd, prefix, 0, file);
      // parseHeader checks the length against the file before anything is trusted.
      const n = prefix.length === 8 ? Number(new DataView(prefix.buffer).getBigUint64(0, true)) : 0;
      const header = new Uint8Array(Math.min(8 + Math.min(n, MAX_HEADER_BYTES + 1), size));
      readFully(fd, header, 0, file);
      const parsed = parseHeader(header, file, size);
      return new SafetensorsStream(file, fd, parsed.dataStart, parsed.entries);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): StreamedTensorInfo {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: [...e.shape], byteLength: e.end - e.begin };
  }

  /** The stored values in a fresh array of the stored type (F16/BF16 as their raw Uint16 bits). */
  read(name: string): RawArray {
    const e = this.entry(name);
    const out = new RAW_ARRAY[e.dtype]((e.end - e.begin) / DTYPE_SIZE[e.dtype]);
    readFully(this.openFd(), new Uint8Array(out.buffer), this.dataStart + e.begin, this.file, name);
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new SafetensorsError('IO_ERROR', this.file, 'the stream was closed');
    return this.fd;
  }

  private entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (e === undefined) throw new SafetensorsError('TENSOR_NOT_FOUND', this.file, 'no tensor of that name', name);
    return e;
  }
}

/** A checkpoint directory's weights: `model.safetensors`, or the shards its index lists. */
export class TensorStream {
  private constructor(
    private readonly where: ReadonlyMap<string, SafetensorsStream>,
    private readonly files: readonly SafetensorsStream[],
  ) {}

  /** Opens `dir`'s weights (headers only), checking a sharded index against its shards. */
  static open(dir: string): TensorStream {
    const single = path.join(dir, 'model.safetensors');
    if (fs.existsSync(single)) {
      const file = SafetensorsStream.open(single);
      return new TensorStream(new Map(file.names().map((n) => [n, file])), [file]);
    }
    const indexFile = path.join(dir, INDEX_FILE);
    if (!fs.existsSync(indexFile)) throw new Error(`${dir}: no model.safetensors or ${INDEX_FILE} found`);
    const { weightMap } = readShardIndex(indexFile);
    const shards = new Map<string, SafetensorsStream>();
    try {
      for (const shard of new Set(weightMap.values())) shards.set(shard, SafetensorsStream.open(path.join(dir, shard)));
      checkShards(indexFile, weightMap, shards);
    } catch (e) {
      for (const s of shards.values()) s.close();
      throw e;
    }
    return new TensorStream(new Map([...weightMap].map(([name, shard]) => [name, shards.get(shard)!])), [...shards.values()]);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): StreamedTensorInfo {
    return this.file(name).info(name);
  }

  /** The stored values (see SafetensorsStream.read). */
  read(name: string): RawArray {
    return this.file(name).read(name);
  }

  /** The values in the engine's float32 host type: F16/BF16 widened (exact). Floating-point tensors only. */
  readFloat32(name: string): HostTensor {
    const { dtype, shape } = this.info(name);
    const raw = this.read(name);
    if (dtype === 'BF16') return { dtype: 'float32', shape, data: bf16ToFloat32Array(raw as Uint16Array) };
    if (dtype === 'F16') return { dtype: 'float32', shape, data: f16ToFloat32Array(raw as Uint16Array) };
    if (dtype === 'F32') return { dtype: 'float32', shape, data: raw as Float32Array };
    if (dtype === 'F64') return { dtype: 'float64', shape, data: raw as Float64Array };
    throw new Error(`${this.file(name).file}: ${name}: expected a floating-point tensor, found ${dtype}`);
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  private file(name: string): SafetensorsStream {
    const f = this.where.get(name);
    if (f === undefined) throw new SafetensorsError('TENSOR_NOT_FOUND', this.files[0]?.file ?? '', 'no tensor of that name', name);
    return f;
  }
}
