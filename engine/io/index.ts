/** Checkpoint and fixture I/O: the safetensors format, plain and sharded, and torch.save files. */
export { SafetensorsError, type SafetensorsErrorCode } from './safetensorsError.ts';
export { DTYPE_SIZE, findDuplicateKey, MAX_HEADER_BYTES, type SafetensorsDType } from './safetensorsFormat.ts';
export {
  readSafetensors,
  readSafetensorsFile,
  SafetensorsFile,
  type HostTensor,
  type RawArray,
} from './safetensorsReader.ts';
export {
  hostToSafetensors,
  serializeSafetensors,
  serializeSafetensorsToBytes,
  writeSafetensorsFile,
  type TensorToWrite,
  type WritableArray,
} from './safetensorsWriter.ts';
export {
  INDEX_FILE,
  readShardedCheckpoint,
  ShardedCheckpoint,
  writeShardedCheckpoint,
  type ShardedWriteOptions,
} from './shardedCheckpoint.ts';
export {
  bf16ToFloat32Array,
  f16ToFloat32Array,
  float32ToBf16Array,
  float32ToF16Array,
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
} from './halfFloat.ts';
export { atomicWriteFile, isRunning, readJsonFile } from './files.ts';
export { compareTensorFiles, DEFAULT_ATOL, DEFAULT_RTOL, formatComparison } from './compareTensors.ts';
export { TorchSaveError } from './torchSave/torchSaveError.ts';
export { PickleTuple } from './torchSave/pickle.ts';
export type { ByteSource } from './torchSave/byteSource.ts';
export { isTorchTensor, readTorchSave, readTorchSaveFile, torchTensorToHost, type TorchTensor } from './torchSave/torchSaveReader.ts';
export { serializeTorchSaveToBytes, writeTorchSaveFile, type TorchSaveTree, type TorchTensorToWrite } from './torchSave/torchSaveWriter.ts';
export { SafetensorsStream, TensorStream } from './tensorStream.ts';
