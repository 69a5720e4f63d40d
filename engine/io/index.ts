/** Checkpoint and fixture I/O: the safetensors format, plain and sharded. */
export { SafetensorsError, type SafetensorsErrorCode } from './safetensorsError.ts';
export { DTYPE_SIZE, MAX_HEADER_BYTES, type SafetensorsDType } from './safetensorsFormat.ts';
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
export { atomicWriteFile } from './files.ts';
export { SafetensorsStream, TensorStream } from './tensorStream.ts';
