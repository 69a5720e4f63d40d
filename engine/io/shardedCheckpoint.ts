/**
 * Sharded checkpoints, the Hugging Face way: a directory with several safetensors files and an
 * index, `model.safetensors.index.json`:
 *
 *   { "metadata": { "total_size": 123, ... }, "weight_map": { "tensor name": "shard file name" } }
 *
 * Reading checks that the index and the shards agree exactly: every tensor the index names is in
 * the shard it names, and every tensor of every shard is listed under that shard (so no name is
 * ambiguous). Writing packs tensors into shards of at most `maxShardBytes` of data each (a tensor
 * bigger than that gets a shard of its own), writes every shard atomically, and the index last, so
 * the index never points at a shard that was not completely written.
 */
import * as path from 'node:path';
import { atomicWriteFile, readWholeFile } from './files.ts';
import { SafetensorsError } from './safetensorsError.ts';
import { DTYPE_SIZE, findDuplicateKey, type SafetensorsDType } from './safetensorsFormat.ts';
import { readSafetensorsFile, type HostTensor, type RawArray, type SafetensorsFile } from './safetensorsReader.ts';
import { serializeSafetensors, type TensorToWrite } from './safetensorsWriter.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

export class ShardedCheckpoint {
  constructor(
    readonly indexFile: string,
    /** The index's "metadata" object as written (values need not be strings: total_size is a number). */
    readonly metadata: Readonly<Record<string, unknown>>,
    private readonly weightMap: ReadonlyMap<string, string>,
    private readonly shards: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  /** Tensor names in index order. */
  names(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard file (name relative to the index's directory) that holds `name`. */
  shardOf(name: string): string {
    const shard = this.weightMap.get(name);
    if (shard === undefined) throw new SafetensorsError('TENSOR_NOT_FOUND', this.indexFile, 'no tensor of that name in the index', name);
    return shard;
  }

  info(name: string): { dtype: SafetensorsDType; shape: number[] } {
    return this.file(name).info(name);
  }

  view(name: string): RawArray {
    return this.file(name).view(name);
  }

  toHost(name: string): HostTensor {
    return this.file(name).toHost(name);
  }

  private file(name: string): SafetensorsFile {
    return this.shards.get(this.shardOf(name))!;
  }
}

export function readShardedCheckpoint(indexFile: string): ShardedCheckpoint {
  const { metadata, weightMap } = readShardIndex(indexFile);
  const dir = path.dirname(indexFile);
  const shards = new Map<string, SafetensorsFile>();
  for (const shard of new Set(weightMap.values())) shards.set(shard, readSafetensorsFile(path.join(dir, shard)));
  checkShards(indexFile, weightMap, shards);
  return new ShardedCheckpoint(indexFile, metadata, weightMap, shards);
}

/** The index file, validated: its metadata, and which shard (a plain file name beside it) holds each tensor. */
export function readShardIndex(indexFile: string): { metadata: Record<string, unknown>; weightMap: Map<string, string> } {
  const fail = (msg: string) => new SafetensorsError('INVALID_INDEX', indexFile, msg);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readWholeFile(indexFile));
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw fail('the index is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`the index is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw fail('the index is not a JSON object');
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) throw fail(`the key "${duplicate.key}" appears twice`);
  const metadata = json['metadata'] ?? {};
  if (!isPlainObject(metadata)) throw fail('"metadata" is not an object');
  const map = json['weight_map'];
  if (!isPlainObject(map)) throw fail('"weight_map" is missing or not an object');

  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    // Shards live beside the index; a path could point anywhere on the disk.
    if (typeof shard !== 'string' || shard === '' || shard === '.' || shard === '..' || /[/\\]/.test(shard)) {
      throw new SafetensorsError('INVALID_INDEX', indexFile, `the shard ${JSON.stringify(shard)} is not a plain file name`, name);
    }
    weightMap.set(name, shard);
  }
  return { metadata, weightMap };
}

/**
 * Checks that the index and the opened shards agree exactly: every tensor the index names is in the
 * shard it names, and every tensor of every shard is listed under that shard.
 */
export function checkShards(
  indexFile: string,
  weightMap: ReadonlyMap<string, string>,
  shards: ReadonlyMap<string, { names(): string[]; has(name: string): boolean }>,
): void {
  for (const [name, shard] of weightMap) {
    if (!shards.get(shard)!.has(name)) {
      throw new SafetensorsError('SHARD_MISMATCH', indexFile, `the index puts it in ${shard}, which does not hold it`, name);
    }
  }
  for (const [shard, file] of shards) {
    for (const name of file.names()) {
      if (weightMap.get(name) !== shard) {
        throw new SafetensorsError(
          'SHARD_MISMATCH',
          indexFile,
          `${shard} holds it but the index ${weightMap.has(name) ? `puts it in ${weightMap.get(name)}` : 'does not list it'}`,
          name,
        );
      }
    }
  }
}

export interface ShardedWriteOptions {
  /** Most data bytes per shard (headers not counted), like `max_shard_size` in transformers. */
  maxShardBytes: number;
  /** Copied into every shard's __metadata__ and into the index's "metadata". */
  metadata?: Readonly<Record<string, string>>;
}

/** Writes `tensors` (packed in the given order) into `dir`; returns the index file's path. */
export function writeShardedCheckpoint(dir: string, tensors: Readonly<Record<string, TensorToWrite>>, options: ShardedWriteOptions): string {
  const indexFile = path.join(dir, INDEX_FILE);
  if (!(options.maxShardBytes > 0)) throw new SafetensorsError('INVALID_INPUT', indexFile, 'maxShardBytes must be positive');
  const metadata = options.metadata ?? {};

  // Groups as pair lists (turned into objects with fromEntries, which is safe for any name).
  const groups: [string, TensorToWrite][][] = [];
  let current: [string, TensorToWrite][] = [];
  let currentBytes = 0;
  let totalBytes = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * (DTYPE_SIZE[t.dtype] ?? 0);
    if (currentBytes > 0 && currentBytes + bytes > options.maxShardBytes) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push([name, t]);
    currentBytes += bytes;
    totalBytes += bytes;
  }
  if (current.length > 0 || groups.length === 0) groups.push(current);

  // Serialise every shard before writing any, so invalid input fails before the disk is touched.
  const width = 5;
  const count = String(groups.length).padStart(width, '0');
  const shards = groups.map((group, i) => {
    const shard = `model-${String(i + 1).padStart(width, '0')}-of-${count}.safetensors`;
    return { shard, group, chunks: serializeSafetensors(Object.fromEntries(group), metadata, path.join(dir, shard)) };
  });
  const weightMap: [string, string][] = [];
  for (const { shard, group, chunks } of shards) {
    atomicWriteFile(path.join(dir, shard), chunks);
    for (const [name] of group) weightMap.push([name, shard]);
  }
  const index = { metadata: { ...metadata, total_size: totalBytes }, weight_map: Object.fromEntries(weightMap) };
  atomicWriteFile(indexFile, [new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`)]);
  return indexFile;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
