import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, tensor, type Tensor } from '../../../engine/index.ts';
import { annealedTopK, sparsemax, sparsemaxTopK, straightThroughTopK, TOPK_ESTIMATORS } from '../../../clara/differentiableTopK.ts';
import { gradcheck, randomValues } from '../../helpers/gradcheck.ts';

/** The sparsemax and annealed top-k estimators: hard forward as the official one, their own gradients. */

/** Sparsemax by its definition: sort, find the support size, threshold (Martins & Astudillo 2016, Alg. 1). */
function sparsemaxByDefinition(z: readonly number[]): number[] {
  const sorted = [...z].sort((a, b) => b - a);
  let sum = 0;
  let size = 0;
  let total = 0;
  sorted.forEach((v, i) => {
    sum += v;
    if (1 + (i + 1) * v > sum) {
      size = i + 1;
      total = sum;
    }
  });
  const theta = (total - 1) / size;
  return z.map((v) => Math.max(v - theta, 0));
}

describe('sparsemax', () => {
  it('is the projection onto the simplex (sums to 1, matches the sort-based definition)', async () => {
    const g = new Generator(3);
    for (let trial = 0; trial < 20; trial++) {
      const n = 2 + (trial % 6);
      const values = randomValues(2 * n, g, -2, 2);
      const p = await sparsemax(tensor(values, [2, n], { dtype: 'float64' })).toArray();
      for (let b = 0; b < 2; b++) {
        const expected = sparsemaxByDefinition(Array.from(values.slice(b * n, (b + 1) * n)));
        for (let i = 0; i < n; i++) expect(p[b * n + i]).toBeCloseTo(expected[i]!, 12);
      }
    }
  });

  it('its gradient matches finite differences (float64), away from support changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 0, max: 1e6 }), async (n, seed) => {
        const g = new Generator(seed);
        // Distinct values 0.37 apart: no entry sits within a step of the support's edge.
        const values = Float64Array.from(g.shuffle(Array.from({ length: n }, (_, i) => i * 0.37 + 0.05)));
        const result = await gradcheck((z) => sparsemax(z), [{ values, shape: [1, n] }], seed, 1e-6);
        expect(result.maxError, result.where).toBeLessThan(1e-6);
      }),
      { numRuns: 30 },
    );
  });
});

describe('sparsemax top-k', () => {
  it('chooses as the official estimator does, and W carries the gradient of its sparsemax relaxation (float64)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 0, max: 1e6 }), async (n, seed) => {
        const k = 1 + (seed % n);
        const g = new Generator(seed);
        const values = Float64Array.from(g.shuffle(Array.from({ length: n }, (_, i) => i * 0.3 + 0.05)));
        const options = { k, temperature: 1 };
        const official = straightThroughTopK(tensor(values, [1, n], { dtype: 'float64' }), options);
        const chosen = sparsemaxTopK(tensor(values, [1, n], { dtype: 'float64' }), options);
        expect(Array.from(await chosen.indices.toArray())).toEqual(Array.from(await official.indices.toArray()));
        expect(Array.from(await chosen.weights.toArray())).toEqual(Array.from(await official.weights.toArray()));

        const softForward = (s: Tensor) => sparsemaxTopK(s, options).soft;
        const soft = await gradcheck(softForward, [{ values, shape: [1, n] }], seed, 1e-6);
        expect(soft.maxError, soft.where).toBeLessThan(1e-6);
        const s1 = tensor(values, [1, n], { requiresGrad: true, dtype: 'float64' });
        const s2 = tensor(values, [1, n], { requiresGrad: true, dtype: 'float64' });
        const up = tensor(randomValues(k * n, new Generator(seed + 1)), [1, k, n], { dtype: 'float64' });
        sparsemaxTopK(s1, options).weights.backward(up);
        softForward(s2).backward(up);
        expect(Array.from(await s1.grad!.toArray())).toEqual(Array.from(await s2.grad!.toArray()));
      }),
      { numRuns: 25 },
    );
  });
});

describe('annealed top-k', () => {
  it('is straight-through at 10τ on the first step and τ on the last; its gradient matches finite differences (float64)', async () => {
    const values = Float64Array.from([0.4, -0.3, 1.1, 0.2]);
    const scores = () => tensor(values, [1, 4], { requiresGrad: true, dtype: 'float64' });
    const tau = 0.5;
    for (const [step, temperature] of [
      [0, 10 * tau],
      [9, tau],
    ] as const) {
      const annealed = await annealedTopK(scores(), { k: 2, temperature: tau, step, totalSteps: 10 }).soft.toArray();
      const plain = await straightThroughTopK(scores(), { k: 2, temperature }).soft.toArray();
      expect(Array.from(annealed)).toEqual(Array.from(plain));
    }
    const result = await gradcheck((s) => annealedTopK(s, { k: 2, temperature: tau, step: 3, totalSteps: 10 }).soft, [{ values, shape: [1, 4] }], 5, 1e-6);
    expect(result.maxError, result.where).toBeLessThan(1e-6);
  });

  it('the CLI, the demo and the sweep read both from the table', () => {
    expect(TOPK_ESTIMATORS.sparsemax).toBe(sparsemaxTopK);
    expect(TOPK_ESTIMATORS.annealed).toBe(annealedTopK);
  });
});
