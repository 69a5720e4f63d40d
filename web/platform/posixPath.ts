/** `node:path` for the browser: the POSIX `join`, `dirname` and `basename` that clara/ and engine/ call. */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== '').join('/');
  const out: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return (joined.startsWith('/') ? '/' : '') + (out.join('/') || (joined.startsWith('/') ? '' : '.'));
}

export function dirname(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.replace(/\/+$/, '').split('/').pop() ?? '';
}
