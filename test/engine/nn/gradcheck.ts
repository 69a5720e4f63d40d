import { tensor, type Tensor } from '../../../engine/index.ts';

/** Host values of a tensor as plain numbers. */
export async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.toArray());
}

/**
 * Central finite differences of the scalar `f` at `x0` (float64, one element at a time), for
 * comparing with what backward computed.
 */
export async function numericGrad(f: (x: Tensor) => Tensor, x0: number[], shape: number[], h = 1e-6): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < x0.length; i++) {
    const plus = [...x0];
    const minus = [...x0];
    plus[i]! += h;
    minus[i]! -= h;
    const fp = await f(tensor(Float64Array.from(plus), shape)).item();
    const fm = await f(tensor(Float64Array.from(minus), shape)).item();
    out.push((fp - fm) / (2 * h));
  }
  return out;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}
