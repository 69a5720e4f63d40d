/**
 * Reading a UTF-8 text file line by line, strictly: a file too large to hold is refused before any
 * of it is read (with its size), a leading byte-order mark is dropped (editors on Windows write one;
 * it is not part of the first field), and a line that is not valid UTF-8 is an error naming
 * `file:line` instead of turning silently into U+FFFD replacement characters.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { DataError } from './dataError.ts';

/**
 * The largest file read whole: 1 GiB. Its lines become JavaScript strings (UTF-16, up to twice the
 * bytes) and then rows, so a bigger file would exhaust the heap minutes later instead of failing now.
 */
export const MAX_TEXT_FILE_BYTES = 1 << 30;

const BOM = [0xef, 0xbb, 0xbf];
const NEWLINE = 0x0a;

/** The lines of `path` (without their `\n` or `\r\n`); `maxBytes` is the size refused. */
export function readTextLines(path: string, maxBytes = MAX_TEXT_FILE_BYTES): string[] {
  const size = statSync(path).size;
  if (size > maxBytes) {
    throw new Error(`${path}: ${formatBytes(size)} is larger than the ${formatBytes(maxBytes)} a data file may have; split it into smaller files`);
  }
  const bytes = new Uint8Array(size);
  const fd = openSync(path, 'r');
  try {
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  let start = BOM.every((b, i) => bytes[i] === b) ? BOM.length : 0;
  while (start <= size) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = size;
    const lineEnd = end > start && bytes[end - 1] === 0x0d ? end - 1 : end;
    try {
      lines.push(decoder.decode(bytes.subarray(start, lineEnd)));
    } catch {
      throw new DataError(path, lines.length + 1, undefined, 'is not valid UTF-8 text');
    }
    start = end + 1;
  }
  return lines;
}

/** Drops a leading byte-order mark (U+FEFF) from text already decoded. */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`;
}
