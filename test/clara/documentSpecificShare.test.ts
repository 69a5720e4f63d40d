import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../engine/index.ts';
import { documentSpecificShare } from '../../clara/eval/documentSpecificShare.ts';

describe('documentSpecificShare', () => {
  it('is Σ(x − x̄)² / Σx² on a hand case, 0 for identical documents', async () => {
    // docs 1 and 3: mean 2, spread 1 + 1 = 2, energy 1 + 9 = 10.
    expect(await documentSpecificShare(tensor([1, 3], [2, 1, 1]))).toBeCloseTo(0.2, 7);
    expect(await documentSpecificShare(tensor([1, 2, 1, 2, 1, 2], [3, 1, 2]))).toBe(0);
    await expect(documentSpecificShare(tensor([1, 2], [1, 1, 2]))).rejects.toThrow('expected a bank [docs ≥ 2, n, d], got [1, 1, 2]');
  });

  it('lies in [0, 1], ignores a common scale, and falls when every document gains the same component (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 1e6 }),
        async (docs, n, d, seed) => {
          let s = seed;
          const next = () => {
            s = (s * 1103515245 + 12345) % 2147483648;
            return (s / 2147483648) * 2 - 1;
          };
          const values = Float64Array.from({ length: docs * n * d }, next);
          const bank = tensor(values, [docs, n, d]);
          const share = await documentSpecificShare(bank);
          expect(share).toBeGreaterThanOrEqual(0);
          expect(share).toBeLessThanOrEqual(1 + 1e-12);
          expect(await documentSpecificShare(bank.mul(7))).toBeCloseTo(share, 10);
          const common = tensor(
            Float64Array.from({ length: n * d }, () => 10),
            [1, n, d],
          );
          expect(await documentSpecificShare(bank.add(common))).toBeLessThan(share);
        },
      ),
      { numRuns: 30 },
    );
  });
});
