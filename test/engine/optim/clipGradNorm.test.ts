import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../../engine/index.ts';
import { Parameter } from '../../../engine/nn/index.ts';
import { clipGradNorm } from '../../../engine/optim/index.ts';
import { values } from '../nn/gradcheck.ts';

const gradsArb = fc.array(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 });

/** Parameters whose gradient is exactly `grads[i]` (d/dp Σ p·g = g). */
function withGrads(grads: number[][]): Parameter[] {
  return grads.map((g) => {
    const p = new Parameter(tensor(new Float64Array(g.length)));
    p.mul(tensor(Float64Array.from(g)))
      .sum()
      .backward();
    return p;
  });
}

describe('clipGradNorm', () => {
  it('returns the global norm and bounds it by maxNorm, keeping the direction (property)', async () => {
    await fc.assert(
      fc.asyncProperty(gradsArb, fc.double({ min: 0.01, max: 200, noNaN: true }), async (grads, maxNorm) => {
        const params = withGrads(grads);
        const norm = Math.sqrt(grads.flat().reduce((s, v) => s + v * v, 0));
        const returned = await clipGradNorm(params, maxNorm).item();
        expect(Math.abs(returned - norm)).toBeLessThanOrEqual(1e-12 * Math.max(1, norm));
        const after = await Promise.all(params.map(async (p) => values(p.grad!)));
        const newNorm = Math.sqrt(after.flat().reduce((s, v) => s + v * v, 0));
        expect(newNorm).toBeLessThanOrEqual(maxNorm * (1 + 1e-12));
        const factor = Math.min(1, maxNorm / (norm + 1e-6));
        after.forEach((g, i) => {
          g.forEach((v, j) => {
            expect(Math.abs(v - grads[i]![j]! * factor)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v)));
          });
        });
        if (norm + 1e-6 <= maxNorm) expect(after).toEqual(grads); // within bounds: untouched, bit for bit
      }),
      { numRuns: 100 },
    );
  });

  it('skips parameters without a gradient and counts only trainable rows', async () => {
    const noGrad = new Parameter(tensor([1, 2]));
    const table = new Parameter(tensor(new Float64Array(4), [2, 2]));
    table.setTrainableRows([1]);
    table
      .mul(tensor(Float64Array.from([30, 40, 3, 4]), [2, 2]))
      .sum()
      .backward();
    // Row 0's gradient (norm 50) is masked out: the norm is that of [3, 4].
    expect(await clipGradNorm([noGrad, table], 1).item()).toBeCloseTo(5, 12);
    expect(noGrad.grad).toBeNull();
    const g = await values(table.grad!);
    expect(g[0]).toBe(0);
    expect(g[1]).toBe(0);
    expect(g[2]).toBeCloseTo(0.6, 6);
    expect(g[3]).toBeCloseTo(0.8, 6);
  });

  it('returns 0 when nothing has a gradient, and rejects a negative maxNorm', async () => {
    expect(await clipGradNorm([new Parameter(tensor([1]))], 1).item()).toBe(0);
    expect(() => clipGradNorm([], -1)).toThrow(/max_norm must be non-negative/);
  });
});
