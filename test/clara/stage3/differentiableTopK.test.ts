import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, normal, tensor, type Tensor } from '../../../engine/index.ts';
import { gumbelTopK, softTopK, straightThroughTopK } from '../../../clara/differentiableTopK.ts';
import { gradcheck, randomValues } from '../../helpers/gradcheck.ts';

/** The differentiable top-k of docs/clara.md §6: exact hard forward, soft gradient. */

describe('straight-through top-k', () => {
  it('forward is exactly the hard selection in descending score order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.constantFrom(0.02, 1.0),
        async (batch, n, seed, temperature) => {
          const k = 1 + (seed % n);
          const scores = normal([batch, n], { generator: new Generator(seed), dtype: 'float32' });
          const { weights, indices } = straightThroughTopK(scores, { k, temperature });
          const w = await weights.toArray();
          const idx = await indices.toArray();
          const s = await scores.toArray();
          for (let b = 0; b < batch; b++) {
            const order = Array.from(s.slice(b * n, (b + 1) * n))
              .map((v, i) => [v, i] as const)
              .sort((x, y) => y[0] - x[0] || x[1] - y[1]);
            for (let j = 0; j < k; j++) {
              expect(idx[b * k + j]).toBe(order[j]![1]);
              for (let i = 0; i < n; i++) expect(w[(b * k + j) * n + i]).toBe(i === order[j]![1] ? 1 : 0); // exactly 0 and 1
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('its gradient matches finite differences of the soft relaxation (float64)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(0.5, 1.0), async (n, seed, temperature) => {
        const k = 1 + (seed % n);
        const g = new Generator(seed);
        // Scores far apart, so a tiny step never changes which candidates are chosen.
        const values = Float64Array.from(g.shuffle(Array.from({ length: n }, (_, i) => i * 0.3)));
        const hardForward = (s: Tensor) => straightThroughTopK(s, { k, temperature }).weights;
        const softForward = (s: Tensor) => straightThroughTopK(s, { k, temperature }).soft;
        // The hard forward is piecewise constant, so finite differences are taken of the soft
        // relaxation P; its analytic gradient must match them, and W must carry exactly that gradient.
        const soft = await gradcheck(softForward, [{ values, shape: [1, n] }], seed, 1e-6);
        expect(soft.maxError, soft.where).toBeLessThan(1e-6);
        const s1 = tensor(values, [1, n], { requiresGrad: true, dtype: 'float64' });
        const s2 = tensor(values, [1, n], { requiresGrad: true, dtype: 'float64' });
        const up = tensor(randomValues(k * n, new Generator(seed + 1)), [1, k, n], { dtype: 'float64' });
        hardForward(s1).backward(up);
        softForward(s2).backward(up);
        expect(Array.from(await s1.grad!.toArray())).toEqual(Array.from(await s2.grad!.toArray()));
      }),
      { numRuns: 25 },
    );
  });

  it('an already-taken candidate gets ln(1e-8) added to its logit, not −∞', async () => {
    const scores = tensor([0.3, 0.1, 0.2], [1, 3], { dtype: 'float64' });
    const { soft } = straightThroughTopK(scores, { k: 2, temperature: 1 });
    const p = await soft.toArray();
    // Row 1: candidate 0 was taken; its logit is 0.3 + ln(1e-8).
    const logits = [0.3 + Math.log(1e-8), 0.1, 0.2];
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    for (let i = 0; i < 3; i++) expect(p[3 + i]).toBeCloseTo(Math.exp(logits[i]!) / z, 14);
    expect(p[3]).toBeGreaterThan(0);
  });
});

describe('alternative estimators', () => {
  it('soft top-k passes the relaxation forward; gumbel is seeded and picks k distinct candidates', async () => {
    const scores = normal([2, 7], { generator: new Generator(1) });
    const soft = softTopK(scores, { k: 3, temperature: 1 });
    const sums = await soft.weights.sum(-1).toArray();
    for (const v of sums) expect(v).toBeCloseTo(1, 5);
    const a = await gumbelTopK(scores, { k: 3, temperature: 1, rng: new Generator(9) }).indices.toArray();
    const b = await gumbelTopK(scores, { k: 3, temperature: 1, rng: new Generator(9) }).indices.toArray();
    expect(a).toEqual(b);
    for (let r = 0; r < 2; r++) expect(new Set(a.slice(r * 3, r * 3 + 3)).size).toBe(3);
  });
});
