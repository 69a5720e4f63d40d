import { readShaderFile as readFromHost } from './host.ts';

/**
 * Loads kernels from shaders/*.wgsl and runs a deliberately tiny preprocessor over them, because
 * WGSL has no way to vary a storage buffer's element type (f32 / i32 / u32) between pipelines.
 *
 *   #include "name.wgsl"    pastes another file from shaders/ (each file at most once)
 *   #if NAME / #else / #endif   keeps lines when define NAME is truthy (nesting allowed)
 *   NAME                    any whole-word occurrence of a define is replaced by its value
 *
 * Defines are UPPER_CASE by convention so they stand out from WGSL identifiers. Choices that are
 * only numbers (which op, which tile size) use WGSL `override` constants instead, set when the
 * pipeline is created.
 */
export type Defines = Record<string, string | number | boolean>;

const fileCache = new Map<string, string>();

/** `shaders/<name>` as the host supplies it (read from disk in Node, bundled in a browser), read once. */
export function readShaderFile(name: string): string {
  let text = fileCache.get(name);
  if (text === undefined) {
    text = readFromHost(name);
    fileCache.set(name, text);
  }
  return text;
}

/** The WGSL for `shaders/<name>`, with includes pasted, #if blocks resolved and defines replaced. */
export function shaderSource(name: string, defines: Defines = {}): string {
  const lines: string[] = [];
  expand(name, defines, lines, new Set());
  const names = Object.keys(defines);
  if (names.length === 0) return lines.join('\n');
  const word = new RegExp(`\\b(${names.join('|')})\\b`, 'g');
  return lines.join('\n').replace(word, (m) => String(defines[m]));
}

function expand(name: string, defines: Defines, out: string[], included: Set<string>): void {
  if (included.has(name)) return;
  included.add(name);
  // One entry per open #if: whether its lines are kept.
  const keep: boolean[] = [];
  const active = () => keep.every(Boolean);
  const lines = readShaderFile(name).split('\n');
  lines.forEach((line, i) => {
    const directive = line.trim();
    const where = `${name}:${i + 1}`;
    if (directive.startsWith('#if ')) {
      keep.push(Boolean(defines[directive.slice(4).trim()]));
    } else if (directive === '#else') {
      if (keep.length === 0) throw new Error(`${where}: #else without #if`);
      keep.push(!keep.pop());
    } else if (directive === '#endif') {
      if (keep.length === 0) throw new Error(`${where}: #endif without #if`);
      keep.pop();
    } else if (directive.startsWith('#include ')) {
      if (active()) expand(directive.slice(9).trim().replace(/^"|"$/g, ''), defines, out, included);
    } else if (directive.startsWith('#')) {
      throw new Error(`${where}: unknown directive ${directive}`);
    } else if (active()) {
      out.push(line);
    }
  });
  if (keep.length !== 0) throw new Error(`${name}: #if without #endif`);
}
