/**
 * The file-system operations engine/io needs: open for reading, read a range or a whole file in
 * chunks, and write a file atomically; and reading a JSON file, which the library does for every
 * config, settings and state file it loads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SafetensorsError } from './safetensorsError.ts';

/** readFileSync and readSync refuse more than 2 GB at once; checkpoint shards can be bigger, so read in chunks. */
const CHUNK_BYTES = 1 << 30;

/** A descriptor of `file` opened for reading; a failure becomes a SafetensorsError naming the file. */
export function openForReading(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    throw new SafetensorsError('IO_ERROR', file, `cannot open: ${(e as Error).message}`);
  }
}

/** Fills `into` from `position` in the file, in reads of at most CHUNK_BYTES. */
export function readFully(fd: number, into: Uint8Array, position: number, file: string, tensor?: string): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, Math.min(CHUNK_BYTES, into.length - done), position + done);
    if (n === 0) throw new SafetensorsError('IO_ERROR', file, `the file ended early (${done} of ${into.length} bytes read)`, tensor);
    done += n;
  }
}

export function readWholeFile(file: string): Uint8Array {
  const fd = openForReading(file);
  try {
    const bytes = new Uint8Array(fs.fstatSync(fd).size);
    readFully(fd, bytes, 0, file);
    return bytes;
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError('IO_ERROR', file, `cannot read: ${(e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The parsed contents of the JSON file `file`. A failure throws an Error that names the file, what
 * the caller was reading (`what`, e.g. 'the model config') and the problem: no such file, the
 * system's read error, or the parser's message.
 */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const problem = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new Error(`${file}: cannot read ${what} (${problem})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: cannot read ${what} (not valid JSON: ${(e as Error).message})`);
  }
}

/**
 * Writes `chunks` to `file` so that `file` is, at every moment, either its old self or the complete
 * new contents: the bytes go to a temporary file in the same directory (rename is only atomic
 * within one file system), are flushed to disk with fsync, and only then renamed over `file`.
 * If anything throws on the way (including the chunk iterator itself), the temporary file is
 * removed and `file` is untouched.
 */
export function atomicWriteFile(file: string, chunks: Iterable<Uint8Array>): void {
  const dir = path.dirname(file);
  removeOrphanedTempFiles(dir);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = fs.openSync(temp, 'wx'); // 'x': never clobber someone else's file
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(temp, file);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError('IO_ERROR', file, `cannot write: ${(e as Error).message}`);
  }
  syncDirectory(dir);
}

/** `atomicWriteFile`'s temporary names: `.<file>.<pid>.<12 hex digits>.tmp`. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/**
 * A process killed mid-write (SIGKILL, power loss) leaves its temporary file behind, as large as
 * what it had written: ten killed checkpoint saves once left a gigabyte. The next write into the
 * folder removes those of processes that no longer run (a live one may still be writing its own).
 */
function removeOrphanedTempFiles(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // no folder yet: the write itself will say so
  }
  for (const name of names) {
    const pid = TEMP_NAME.exec(name)?.[1];
    if (pid !== undefined && !isRunning(Number(pid))) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** Whether a process with this id exists (owned by anyone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** Makes the rename itself durable. Some platforms (Windows) cannot open a directory; skip there. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // fsync on a directory is not supported everywhere; the data itself is already on disk.
  } finally {
    fs.closeSync(fd);
  }
}
