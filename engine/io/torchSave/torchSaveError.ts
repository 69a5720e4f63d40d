import { SafetensorsError } from '../safetensorsError.ts';

/**
 * The one error type of the torch.save reader and writer. Every way a `.pth` file can be wrong has
 * its own `code`, so callers and tests tell failures apart without matching message text; the
 * message names the file and, where there is one, the archive record or pickle opcode.
 */
export type TorchSaveErrorCode =
  // -- the zip archive
  | 'NOT_A_ZIP' // no end-of-central-directory record: not a zip (an old pre-1.6 torch.save, or not torch at all)
  | 'ZIP_CORRUPT' // the central directory, a local header or a zip64 record is inconsistent or out of range
  | 'ZIP_UNSUPPORTED' // a compression method other than stored or deflate, encryption, several disks
  | 'CRC_MISMATCH' // a record's bytes do not match its CRC-32
  | 'MISSING_RECORD' // data.pkl or a data/N storage the pickle names is not in the archive
  // -- the pickle
  | 'PICKLE_CORRUPT' // truncated, a stack underflow, a value of the wrong kind for an opcode, no STOP
  | 'OPCODE_REFUSED' // an opcode the restricted unpickler does not run
  | 'GLOBAL_REFUSED' // a global outside the allow-list (nothing is ever imported or called)
  | 'TENSOR_INVALID' // a tensor whose storage, offset, size or stride do not fit together
  // -- writing
  | 'INVALID_INPUT'
  | 'IO_ERROR';

export class TorchSaveError extends Error {
  override readonly name = 'TorchSaveError';

  constructor(
    readonly code: TorchSaveErrorCode,
    /** The file the error is about ('<memory>' for a bare buffer). */
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message} [${code}]`);
  }
}

/**
 * What went wrong in an error from the file helpers (engine/io/files.ts), which name the file and
 * their code themselves: the reason alone, to go inside a TorchSaveError that names them once.
 */
export function reasonOf(e: unknown): string {
  return e instanceof SafetensorsError ? e.reason : (e as Error).message;
}
