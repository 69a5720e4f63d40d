/**
 * Where a torch.save archive's bytes come from: a buffer already in memory, or a file read by
 * positioned ranges. The zip reader (zipArchive.ts) asks only for the ranges it needs, so over a
 * file it holds the directory and one record at a time, never the whole file.
 */
import * as fs from 'node:fs';
import { openForReading, readFully } from '../files.ts';

export interface ByteSource {
  /** Bytes in all. */
  readonly size: number;
  /** Fills `into` with the bytes from `position` on; throws if the source ends first. */
  readInto(into: Uint8Array, position: number): void;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    readInto: (into, position) => {
      if (position < 0 || position + into.length > bytes.length)
        throw new RangeError(`bytes ${position}–${position + into.length} lie past the end (${bytes.length})`);
      into.set(bytes.subarray(position, position + into.length));
    },
  };
}

/**
 * `file`, opened for each read and closed after it: the tensors a reader hands out read their
 * values later, at a time the reader does not know, and a descriptor held until then would leak
 * whenever one is never read. Its size is taken once; a file that shrinks afterwards fails the read.
 */
export function fileSource(file: string): ByteSource {
  return {
    size: withFile(file, (fd) => fs.fstatSync(fd).size),
    readInto: (into, position) => withFile(file, (fd) => readFully(fd, into, position, file)),
  };
}

function withFile<T>(file: string, use: (fd: number) => T): T {
  const fd = openForReading(file);
  try {
    return use(fd);
  } finally {
    fs.closeSync(fd);
  }
}
