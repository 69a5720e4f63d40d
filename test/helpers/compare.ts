import { tensor, type Backend, type Tensor } from '../../engine/index.ts';
import type { HostTensor } from '../../engine/io/index.ts';

/** Tolerant comparison of recorded and computed tensors, shared by the golden-state tests. */

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** |actual − expected| ≤ atol + rtol·|expected| everywhere: null, or a description of the worst miss. */
export function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): string | null {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const diff = Math.abs(actual[i]! - e);
    const excess = Number.isFinite(diff) ? diff - (tol.atol + tol.rtol * Math.abs(e)) : Infinity;
    if (excess > 0) {
      bad++;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (bad === 0) return null;
  return `${bad} of ${expected.length} differ (max |diff| ${maxAbsDiff(actual, expected).toExponential(2)}); worst at ${worst}: got ${actual[worst]}, expected ${expected[worst]}`;
}

/** The largest |a − b|; Infinity when the lengths differ or a difference is NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}

/** A host tensor read from a fixture, as a tensor on `backend`. */
export function upload(h: HostTensor, backend: Backend): Tensor {
  return tensor(h.data, h.shape, { dtype: h.dtype, backend });
}
