/** `node:crypto` for the browser: `randomBytes` (engine/io/files.ts names its temporary files with it). */
export function randomBytes(size: number): { toString(encoding: 'hex'): string } {
  const bytes = crypto.getRandomValues(new Uint8Array(size));
  return { toString: () => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('') };
}
