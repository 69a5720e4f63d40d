/**
 * Writing `torch.save`-compatible files: what `torch.save({name: {key: tensor}})` writes, readable by
 * `torch.load(..., weights_only=True)` and by torchSaveReader.ts.
 *
 * The object is a tree of plain dicts whose leaves are tensors; each tensor gets its own storage
 * record `archive/data/<i>` (its values, little-endian) and is pickled (protocol 2) as
 * `_rebuild_tensor_v2(('storage', torch.<Type>Storage, '<i>', 'cpu', numel), 0, size, stride,
 * False, OrderedDict())`, exactly as torch pickles a contiguous CPU tensor.
 */
import { atomicWriteFile } from '../files.ts';
import type { SafetensorsDType } from '../safetensorsFormat.ts';
import type { RawArray } from '../safetensorsReader.ts';
import { PickleWriter } from './pickle.ts';
import { STORAGE_DTYPES } from './torchSaveReader.ts';
import { TorchSaveError } from './torchSaveError.ts';
import { serializeZip, type ZipRecord } from './zipArchive.ts';

/** A tensor to write: its dtype, shape and values row-major, in the stored type (16-bit floats as their bits). */
export interface TorchTensorToWrite {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: RawArray;
}

/** A dict of tensors, or of such dicts (an adapters.pth: adapter name → state dict). */
export interface TorchSaveTree {
  [key: string]: TorchTensorToWrite | TorchSaveTree;
}

const STORAGE_CLASS = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([name, dtype]) => [dtype, name])) as Record<SafetensorsDType, string>;

/** The archive's folder name: what torch.save uses when writing to a buffer. */
const ARCHIVE = 'archive';

/** The file's bytes, in chunks (tensor data is not copied). */
function serializeTorchSave(tree: TorchSaveTree): Uint8Array[] {
  const pickle = new PickleWriter();
  const storages: ZipRecord[] = [];
  const writeTree = (node: TorchSaveTree, path: string): void => {
    pickle.emptyDict().mark();
    for (const [key, value] of Object.entries(node)) {
      pickle.string(key);
      if (isTree(value)) writeTree(value, `${path}${key}.`);
      else writeTensor(value, `${path}${key}`);
    }
    pickle.setItems();
  };
  const writeTensor = (t: TorchTensorToWrite, name: string): void => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((n) => Number.isSafeInteger(n) && n >= 0) || t.data.length !== numel)
      throw new TorchSaveError('INVALID_INPUT', '<memory>', `tensor "${name}": shape [${t.shape.join(', ')}] does not match its ${t.data.length} values`);
    const key = String(storages.length);
    storages.push({ name: `${ARCHIVE}/data/${key}`, data: [new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)] });
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    pickle.global('torch._utils', '_rebuild_tensor_v2').mark();
    pickle.mark().string('storage').global('torch', STORAGE_CLASS[t.dtype]).string(key).string('cpu').int(numel).tuple().persistentId();
    pickle.int(0);
    pickle.mark();
    for (const n of t.shape) pickle.int(n);
    pickle.tuple().mark();
    for (const s of strides) pickle.int(s);
    pickle.tuple().bool(false);
    pickle.global('collections', 'OrderedDict').emptyTuple().reduce();
    pickle.tuple().reduce();
  };
  writeTree(tree, '');
  const encoder = new TextEncoder();
  return serializeZip([
    { name: `${ARCHIVE}/data.pkl`, data: [pickle.stop()] },
    { name: `${ARCHIVE}/byteorder`, data: [encoder.encode('little')] },
    ...storages,
    { name: `${ARCHIVE}/version`, data: [encoder.encode('3\n')] },
  ]);
}

export function serializeTorchSaveToBytes(tree: TorchSaveTree): Uint8Array {
  const chunks = serializeTorchSave(tree);
  const out = new Uint8Array(chunks.reduce((total, c) => total + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes the file atomically (see files.ts). */
export function writeTorchSaveFile(file: string, tree: TorchSaveTree): void {
  atomicWriteFile(file, serializeTorchSave(tree));
}

function isTree(value: TorchTensorToWrite | TorchSaveTree): value is TorchSaveTree {
  return !('data' in value && 'shape' in value && 'dtype' in value && ArrayBuffer.isView(value.data));
}
