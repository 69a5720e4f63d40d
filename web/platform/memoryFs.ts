/**
 * `node:fs` for the browser: the part of it that engine/ and clara/ call, over files held in memory.
 * The page's vite.config.ts puts this module in place of `node:fs`, so loading a checkpoint
 * (ClaraModel.load) reads what `mountFiles` put here, e.g. a run folder the user opened, and a
 * library call that writes (metrics.jsonl, a checkpoint) writes here instead of failing.
 * Paths are plain strings: "run/stage1/checkpoint/config.json".
 */
const files = new Map<string, Uint8Array>();
/** Open file descriptors: the path, and the bytes written so far for files opened to write. */
const open = new Map<number, { path: string; written: Uint8Array[] | null }>();
let nextFd = 3;

const normalise = (path: string) => path.replace(/\/+/g, '/').replace(/\/$/, '').replace(/^\.\//, '');

function noEntry(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}' (in the page's memory)`), { code: 'ENOENT' });
}

/** Puts files (path → bytes) into the in-memory file system, replacing any at the same paths. */
export function mountFiles(entries: Iterable<readonly [string, Uint8Array]>): void {
  for (const [path, bytes] of entries) files.set(normalise(path), bytes);
}

function bytesOf(path: string): Uint8Array {
  const bytes = files.get(normalise(path));
  if (bytes === undefined) throw noEntry(path);
  return bytes;
}

function isDirectory(path: string): boolean {
  const prefix = `${normalise(path)}/`;
  for (const name of files.keys()) if (name.startsWith(prefix)) return true;
  return false;
}

export function existsSync(path: string): boolean {
  return files.has(normalise(path)) || isDirectory(path);
}

export function readFileSync(path: string, encoding?: string | { encoding?: string }): string | Uint8Array {
  const bytes = bytesOf(path);
  return encoding === undefined || (typeof encoding === 'object' && encoding.encoding === undefined) ? bytes : new TextDecoder().decode(bytes);
}

/** A folder's entries: their names, or with `withFileTypes` entries that say which are folders. */
export function readdirSync(path: string): string[];
export function readdirSync(path: string, options: { withFileTypes: true }): Array<{ name: string; isDirectory(): boolean; isFile(): boolean }>;
export function readdirSync(path: string, options?: { withFileTypes?: boolean }): unknown[] {
  const prefix = `${normalise(path)}/`;
  const names = new Set<string>();
  for (const name of files.keys()) if (name.startsWith(prefix)) names.add(name.slice(prefix.length).split('/')[0]!);
  const sorted = [...names].sort();
  if (!options?.withFileTypes) return sorted;
  return sorted.map((name) => {
    const folder = isDirectory(`${prefix}${name}`);
    return { name, isDirectory: () => folder, isFile: () => !folder };
  });
}

const encode = (data: string | Uint8Array) => (typeof data === 'string' ? new TextEncoder().encode(data) : data);

export function writeFileSync(path: string, data: string | Uint8Array): void {
  files.set(normalise(path), encode(data).slice());
}

export function appendFileSync(path: string, data: string | Uint8Array): void {
  const before = files.get(normalise(path)) ?? new Uint8Array();
  const added = encode(data);
  const after = new Uint8Array(before.length + added.length);
  after.set(before);
  after.set(added, before.length);
  files.set(normalise(path), after);
}

/** Directories exist as the prefixes of files here: making one does nothing. */
export function mkdirSync(_path: string, _options?: unknown): void {}

export function rmSync(path: string, _options?: unknown): void {
  const prefix = `${normalise(path)}/`;
  files.delete(normalise(path));
  for (const name of [...files.keys()]) if (name.startsWith(prefix)) files.delete(name);
}

/** Moves a file, or a directory with everything under it. */
export function renameSync(from: string, to: string): void {
  const source = normalise(from);
  const target = normalise(to);
  for (const [name, bytes] of [...files]) {
    if (name !== source && !name.startsWith(`${source}/`)) continue;
    files.delete(name);
    files.set(target + name.slice(source.length), bytes);
  }
}

export function openSync(path: string, flags: string): number {
  const writing = flags.startsWith('w');
  if (!writing && !existsSync(path)) throw noEntry(path);
  open.set(nextFd, { path: normalise(path), written: writing ? [] : null });
  return nextFd++;
}

function descriptor(fd: number) {
  const d = open.get(fd);
  if (d === undefined) throw new Error(`EBADF: bad file descriptor ${fd}`);
  return d;
}

/** A file's size, or a folder (any path some file lies under). */
export function statSync(path: string): { size: number; isDirectory(): boolean; isFile(): boolean } {
  const bytes = files.get(normalise(path));
  if (bytes === undefined && !isDirectory(path)) throw noEntry(path);
  return { size: bytes?.length ?? 0, isDirectory: () => bytes === undefined, isFile: () => bytes !== undefined };
}

export function fstatSync(fd: number): { size: number } {
  return { size: files.get(descriptor(fd).path)?.length ?? 0 };
}

export function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
  const bytes = bytesOf(descriptor(fd).path).subarray(position, position + length);
  buffer.set(bytes, offset);
  return bytes.length;
}

export function writeSync(fd: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset): number {
  descriptor(fd).written?.push(buffer.slice(offset, offset + length));
  return length;
}

/** Flushing memory to memory: what was written becomes the file's contents. */
export function fsyncSync(fd: number): void {
  const d = descriptor(fd);
  if (d.written === null) return;
  const size = d.written.reduce((sum, chunk) => sum + chunk.length, 0);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of d.written) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  files.set(d.path, bytes);
}

export function closeSync(fd: number): void {
  fsyncSync(fd);
  open.delete(fd);
}
