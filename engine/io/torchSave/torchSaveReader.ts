/**
 * Reading `torch.save` files (`.pth`, `.pt`, `.bin` written by PyTorch ≥ 1.6) without Python.
 *
 * The file is a zip (zipArchive.ts): `<prefix>/data.pkl` pickles the saved object; each tensor in it
 * is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`, where
 * `storage` is a persistent id `('storage', torch.BFloat16Storage, key, location, numel)` naming the
 * record `<prefix>/data/<key>` that holds the storage's raw little-endian values.
 *
 * The unpickler (pickle.ts) runs only what the allow-list below names: the tensor and parameter
 * rebuild functions, the storage classes and `collections.OrderedDict`. Any other global is refused
 * with an error that names it, before anything is built. The result is plain data: dicts as `Map`,
 * lists as arrays, tuples as `PickleTuple`, tensors as `TorchTensor` (contiguous, in their stored
 * dtype: bf16 stays bf16 bits, so a file can be written back bit for bit).
 *
 * Only data.pkl is read up front. A tensor's values stay in the archive until `read()` (or
 * torchTensorToHost) asks for them, and are then read, CRC-checked and handed over without being
 * kept: loading a checkpoint from a file holds the largest tensor at a time, not the file (the
 * released decoder_first_last_layers.pth is 0.8 GB). A damaged storage record is therefore
 * reported when its tensor is read, naming the file and the record.
 */
import type { SafetensorsDType } from '../safetensorsFormat.ts';
import { DTYPE_SIZE } from '../safetensorsFormat.ts';
import { RAW_ARRAY, rawToHost, type HostTensor, type RawArray } from '../safetensorsReader.ts';
import { type ByteSource, fileSource, memorySource } from './byteSource.ts';
import { PickleTuple, unpickle } from './pickle.ts';
import { reasonOf, TorchSaveError } from './torchSaveError.ts';
import { ZipArchive } from './zipArchive.ts';

/** A tensor of a torch.save file: its stored dtype (safetensors' names) and shape; its values stay in the file. */
export interface TorchTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** Bytes of its values (elements × the stored element size). */
  byteLength: number;
  /** Its values, row-major, in a fresh array of the stored type: read from the archive on each call, not kept. */
  read(): RawArray;
}

/** torch's storage classes and the dtype each holds. */
export const STORAGE_DTYPES: Readonly<Record<string, SafetensorsDType>> = {
  BFloat16Storage: 'BF16',
  HalfStorage: 'F16',
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** The allowed globals, as the values GLOBAL pushes. */
class StorageClass {
  constructor(readonly dtype: SafetensorsDType) {}
}
class RebuildFunction {
  constructor(readonly name: 'tensor' | 'parameter' | 'parameterWithState' | 'orderedDict') {}
}

const FUNCTIONS: Readonly<Record<string, RebuildFunction>> = {
  'torch._utils._rebuild_tensor_v2': new RebuildFunction('tensor'),
  'torch._utils._rebuild_parameter': new RebuildFunction('parameter'),
  'torch._utils._rebuild_parameter_with_state': new RebuildFunction('parameterWithState'),
  'collections.OrderedDict': new RebuildFunction('orderedDict'),
};

/** A storage the pickle named: its record is read only when a tensor on it is. */
class Storage {
  constructor(
    readonly dtype: SafetensorsDType,
    readonly numel: number,
    readonly record: string,
  ) {}
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses a torch.save file already in memory (or behind another ByteSource). `file` only names it in
 * error messages.
 */
export function readTorchSave(bytes: Uint8Array | ByteSource, file = '<memory>'): unknown {
  const archive = new ZipArchive(bytes instanceof Uint8Array ? memorySource(bytes) : bytes, file);
  const pickles = archive.names().filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) throw new TorchSaveError('MISSING_RECORD', file, `expected one <prefix>/data.pkl record, found ${pickles.length}`);
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const byteorder = `${prefix}byteorder`;
  if (archive.has(byteorder) && new TextDecoder().decode(archive.read(byteorder)) !== 'little')
    throw new TorchSaveError('ZIP_UNSUPPORTED', file, 'the storages are big-endian (only little-endian files are read)');
  if (!LITTLE_ENDIAN) throw new TorchSaveError('ZIP_UNSUPPORTED', file, 'reading needs a little-endian host');

  const storages = new Map<string, Storage>();
  const invalid = (message: string) => new TorchSaveError('TENSOR_INVALID', file, message);

  const loadStorage = (pid: unknown): Storage => {
    if (!(pid instanceof PickleTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage')
      throw invalid("a persistent id that is not ('storage', class, key, location, numel)");
    const [, storageClass, key, , numel] = pid.items;
    if (!(storageClass instanceof StorageClass) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
      throw invalid('a malformed storage persistent id');
    const cached = storages.get(key);
    if (cached !== undefined) {
      if (cached.dtype !== storageClass.dtype || cached.numel !== numel) throw invalid(`storage ${key} is named with two different types or sizes`);
      return cached;
    }
    const record = `${prefix}data/${key}`;
    const bytes = archive.size(record);
    const size = DTYPE_SIZE[storageClass.dtype];
    if (bytes !== numel * size) throw invalid(`storage ${key} holds ${bytes} bytes, not ${numel} × ${size}`);
    const storage = new Storage(storageClass.dtype, numel, record);
    storages.set(key, storage);
    return storage;
  };

  /** The storage's values, in an array of this read's own. */
  const readStorage = (storage: Storage): RawArray => {
    const bytes = archive.read(storage.record);
    const Raw = RAW_ARRAY[storage.dtype];
    // The archive reads each record into a buffer of its own, viewed as it is (no second copy of a
    // large table); an inflated record may be a slice of zlib's buffer, and is copied out.
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return new Raw(bytes.buffer, 0, storage.numel);
    const data = new Raw(storage.numel);
    new Uint8Array(data.buffer).set(bytes);
    return data;
  };

  const rebuildTensor = (args: readonly unknown[]): TorchTensor => {
    if (args.length < 6 || args.length > 7) throw invalid(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
    const [storage, offset, size, stride, requiresGrad, hooks] = args;
    if (!(storage instanceof Storage)) throw invalid('_rebuild_tensor_v2 without a storage');
    const { dtype, numel: stored } = storage;
    const shape = intTuple(size, 'size');
    const strides = intTuple(stride, 'stride');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw invalid('a tensor offset that is not a non-negative integer');
    if (strides.length !== shape.length) throw invalid(`a tensor with ${shape.length} sizes but ${strides.length} strides`);
    if (typeof requiresGrad !== 'boolean') throw invalid('requires_grad is not a boolean');
    if (!(hooks instanceof Map) || hooks.size !== 0) throw invalid('a tensor with backward hooks');
    // A state dict's tensor never holds more elements than its storage; refusing more also bounds
    // what a lying size can make us allocate.
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel > stored) throw invalid(`a tensor of ${numel} elements on a storage of ${stored}`);
    if (numel > 0) {
      const last = shape.reduce((end, n, i) => end + (n - 1) * strides[i]!, offset);
      if (last >= stored) throw invalid('a tensor reaches past the end of its storage');
    }
    return { dtype, shape, byteLength: numel * DTYPE_SIZE[dtype], read: () => gather(readStorage(storage), offset, shape, strides) };
  };

  const intTuple = (value: unknown, what: string): number[] => {
    if (!(value instanceof PickleTuple) || !value.items.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0))
      throw invalid(`a tensor ${what} that is not a tuple of non-negative integers`);
    return value.items as number[];
  };

  const pickle = archive.read(pickles[0]!);
  return unpickle(
    pickle,
    {
      global: (module, name) => {
        if (module === 'torch' && name in STORAGE_DTYPES) return new StorageClass(STORAGE_DTYPES[name]!);
        return FUNCTIONS[`${module}.${name}`];
      },
      reduce: (callable, args) => {
        if (!(callable instanceof RebuildFunction)) throw new TorchSaveError('PICKLE_CORRUPT', file, 'REDUCE on something that is not an allowed function');
        switch (callable.name) {
          case 'orderedDict':
            if (args.length !== 0) throw new TorchSaveError('PICKLE_CORRUPT', file, 'OrderedDict with arguments');
            return new Map();
          case 'tensor':
            return rebuildTensor(args);
          case 'parameter':
          case 'parameterWithState': {
            const tensor = args[0];
            if (args.length !== (callable.name === 'parameter' ? 3 : 4) || !isTorchTensor(tensor)) throw invalid('a parameter without its tensor');
            return tensor;
          }
        }
      },
      persistentLoad: loadStorage,
    },
    file,
  );
}

/**
 * Parses a torch.save file by ranges: data.pkl now, each tensor's storage when the tensor is read
 * (the file is opened for each read, so nothing stays open however many tensors are never read).
 */
export function readTorchSaveFile(file: string): unknown {
  let source: ByteSource;
  try {
    source = fileSource(file);
  } catch (e) {
    throw new TorchSaveError('IO_ERROR', file, reasonOf(e));
  }
  return readTorchSave(source, file);
}

export function isTorchTensor(value: unknown): value is TorchTensor {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'read' in value;
}

/** The tensor's values, read now, in the engine's host types (16-bit floats widened to float32, exactly). */
export function torchTensorToHost(tensor: TorchTensor, name: string): HostTensor {
  return rawToHost(tensor.dtype, tensor.read(), [...tensor.shape], '<torch.save>', name);
}

/** The elements of a strided view, row-major: `data` itself when the view is all of it, else a copy. */
function gather(data: RawArray, offset: number, shape: number[], strides: number[]): RawArray {
  const numel = shape.reduce((a, b) => a * b, 1);
  let contiguous = true;
  for (let i = shape.length - 1, expected = 1; i >= 0; i--) {
    if (shape[i]! !== 1 && strides[i]! !== expected) contiguous = false;
    expected *= shape[i]!;
  }
  if (contiguous) return offset === 0 && numel === data.length ? data : data.slice(offset, offset + numel);
  const out = new (data.constructor as new (n: number) => RawArray)(numel);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < numel; k++) {
    let at = offset;
    for (let i = 0; i < shape.length; i++) at += index[i]! * strides[i]!;
    (out as Float32Array)[k] = (data as Float32Array)[at]!;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i]! < shape[i]!) break;
      index[i] = 0;
    }
  }
  return out;
}
