import type { SafetensorsFile } from './safetensorsReader.ts';

/**
 * Comparing two sets of named tensors, such as two traces of one computation (this engine's and
 * PyTorch's), to find where they first diverge (what PaDiff does for PyTorch and Paddle).
 *
 * Tensors are compared in the order of the first set, which a trace writes in the order the
 * computation produced them (its metadata "order", a JSON list of names; else header order), so
 * the first tensor past tolerance is where the computation first goes wrong: everything after it
 * may only inherit the error.
 *
 * Per tensor: the largest absolute error max|a − b|, the largest relative error max|a − b| / |b|
 * over the elements where b ≠ 0, and whether every element passes PyTorch's allclose test
 * |a − b| ≤ atol + rtol·|b| (NaN equals NaN, an infinity only the same infinity).
 */
interface CompareOptions {
  /** Relative tolerance (default 1e-4: float32 computations in a different order). */
  rtol?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Names left out of the comparison; `*` matches any run of characters ("grad.*"). */
  mask?: readonly string[];
}

type ComparisonStatus = 'ok' | 'diverged' | 'shape' | 'missing' | 'masked';

interface TensorComparison {
  name: string;
  shape: number[];
  status: ComparisonStatus;
  /** max|a − b| (null when not compared). */
  maxAbs: number | null;
  /** max|a − b| / |b| over b ≠ 0 (null when not compared). */
  maxRel: number | null;
  /** Elements failing |a − b| ≤ atol + rtol·|b|. */
  mismatched: number;
}

interface ComparisonReport {
  rtol: number;
  atol: number;
  tensors: TensorComparison[];
  /** The first tensor, in the first set's order, that diverges or is missing or misshapen; null when none. */
  firstDivergence: string | null;
  /** Names only the second set has (not compared). */
  onlyInB: string[];
}

export const DEFAULT_RTOL = 1e-4;
export const DEFAULT_ATOL = 1e-5;

/** The names of a set in the order it was produced (metadata "order" when present). */
function producedOrder(file: SafetensorsFile): string[] {
  const order = file.metadata.order;
  if (order === undefined) return file.names();
  const listed = (JSON.parse(order) as string[]).filter((n) => file.has(n));
  const rest = file.names().filter((n) => !listed.includes(n));
  return [...listed, ...rest];
}

function matcher(patterns: readonly string[]): (name: string) => boolean {
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`));
  return (name) => regexes.some((r) => r.test(name));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** Compares `a` against `b` (b is the reference whose magnitudes set the relative errors). */
export function compareTensorFiles(a: SafetensorsFile, b: SafetensorsFile, options: CompareOptions = {}): ComparisonReport {
  const rtol = options.rtol ?? DEFAULT_RTOL;
  const atol = options.atol ?? DEFAULT_ATOL;
  const masked = matcher(options.mask ?? []);
  const tensors: TensorComparison[] = [];
  for (const name of producedOrder(a)) {
    const shape = a.info(name).shape;
    const row: TensorComparison = { name, shape, status: 'ok', maxAbs: null, maxRel: null, mismatched: 0 };
    tensors.push(row);
    if (masked(name)) row.status = 'masked';
    else if (!b.has(name)) row.status = 'missing';
    else if (b.info(name).shape.join() !== shape.join()) row.status = 'shape';
    else Object.assign(row, compareValues(toNumbers(a, name), toNumbers(b, name), rtol, atol));
  }
  const firstDivergence = tensors.find((t) => t.status === 'diverged' || t.status === 'missing' || t.status === 'shape')?.name ?? null;
  const onlyInB = b.names().filter((n) => !a.has(n) && !masked(n));
  return { rtol, atol, tensors, firstDivergence, onlyInB };
}

function toNumbers(file: SafetensorsFile, name: string): ArrayLike<number> {
  const data = file.toHost(name).data;
  return data instanceof BigInt64Array ? Array.from(data, Number) : data;
}

function compareValues(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  rtol: number,
  atol: number,
): Pick<TensorComparison, 'status' | 'maxAbs' | 'maxRel' | 'mismatched'> {
  let maxAbs = 0;
  let maxRel = 0;
  let mismatched = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue; // also equal infinities, whose difference is NaN
    const diff = Math.abs(x - y);
    const err = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
    maxAbs = Math.max(maxAbs, err);
    if (y !== 0) maxRel = Math.max(maxRel, err / Math.abs(y));
    if (!(err <= atol + rtol * Math.abs(y))) mismatched++;
  }
  return { status: mismatched > 0 ? 'diverged' : 'ok', maxAbs, maxRel, mismatched };
}

/** The report as a table, one line per tensor, and the verdict. */
export function formatComparison(report: ComparisonReport): string {
  const fmt = (x: number | null) => (x === null ? '-' : x === 0 ? '0' : x.toExponential(2));
  const width = Math.max(4, ...report.tensors.map((t) => t.name.length));
  const lines = [`${'name'.padEnd(width)}  ${'shape'.padEnd(16)}  ${'max abs'.padStart(9)}  ${'max rel'.padStart(9)}  status`];
  for (const t of report.tensors) {
    const mark = t.name === report.firstDivergence ? '  <- first divergence' : '';
    const status = t.status === 'diverged' ? `diverged (${t.mismatched} elements)` : t.status === 'shape' ? 'shape differs' : t.status;
    lines.push(
      `${t.name.padEnd(width)}  ${`[${t.shape.join(', ')}]`.padEnd(16)}  ${fmt(t.maxAbs).padStart(9)}  ${fmt(t.maxRel).padStart(9)}  ${status}${mark}`,
    );
  }
  if (report.onlyInB.length > 0) lines.push(`only in the second file (not compared): ${report.onlyInB.join(', ')}`);
  const compared = report.tensors.filter((t) => t.status !== 'masked').length;
  lines.push(
    report.firstDivergence === null
      ? `all ${compared} tensors agree (rtol ${report.rtol}, atol ${report.atol})`
      : `first divergence: ${report.firstDivergence} (rtol ${report.rtol}, atol ${report.atol})`,
  );
  return lines.join('\n');
}
