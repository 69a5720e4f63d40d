/**
 * The one error type of engine/io. Every way a safetensors file (or a sharded checkpoint, or a
 * write request) can be wrong has its own `code`, so callers and tests can tell failures apart
 * without matching message text; the message always names the file and, where there is one, the
 * tensor.
 */
export type SafetensorsErrorCode =
  // -- the 8-byte prefix and the header as a whole
  | 'FILE_TOO_SMALL' // fewer than 8 bytes: not even a header length
  | 'HEADER_TOO_LARGE' // header length beyond the sane bound (100 MB, like the Rust crate)
  | 'HEADER_BEYOND_FILE' // header length points past the end of the file
  | 'INVALID_UTF8'
  | 'INVALID_JSON'
  | 'HEADER_NOT_OBJECT' // the header (or one tensor's entry) is not a JSON object
  | 'DUPLICATE_NAME' // the same tensor name twice (JSON.parse would silently keep the last)
  | 'DUPLICATE_KEY' // the same key twice inside one tensor's entry
  | 'INVALID_METADATA' // __metadata__ is not an object of string values
  // -- one tensor's entry
  | 'INVALID_ENTRY' // missing or unknown fields
  | 'UNKNOWN_DTYPE'
  | 'INVALID_SHAPE' // not an array of non-negative safe integers
  | 'INVALID_OFFSETS' // data_offsets not [begin, end] with 0 <= begin <= end, integers
  | 'SIZE_MISMATCH' // shape × dtype size ≠ end − begin
  | 'OFFSET_OUT_OF_RANGE' // end beyond the data buffer
  | 'OVERLAPPING_RANGES'
  | 'HOLE_IN_DATA' // a gap between ranges, or data left over at the end
  // -- using a parsed file
  | 'TENSOR_NOT_FOUND'
  | 'I64_OUT_OF_RANGE' // an I64 value that does not fit the engine's int32
  | 'UNSUPPORTED_PLATFORM' // a big-endian host, where typed arrays cannot view little-endian data
  // -- sharded checkpoints
  | 'INVALID_INDEX'
  | 'SHARD_MISMATCH' // index and shards disagree about which tensor lives where
  // -- writing
  | 'INVALID_INPUT' // a tensor handed to the writer is inconsistent (data length, array type, name)
  | 'IO_ERROR'; // the file system refused (missing file, permissions, disk full)

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';

  constructor(
    readonly code: SafetensorsErrorCode,
    /** The file the error is about (as given by the caller; '<memory>' for a bare buffer). */
    readonly file: string,
    /** What went wrong, without the file and code around it (for an error that wraps this one). */
    readonly reason: string,
    /** The tensor the error is about, when there is one. */
    readonly tensor?: string,
  ) {
    const where = tensor === undefined ? file : `${file}, tensor "${tensor}"`;
    super(`${where}: ${reason} [${code}]`);
  }
}
