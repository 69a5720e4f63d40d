import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crossEntropy, dropout, Generator, normal, softmax, tensor, uniform, kaimingUniform, topk, oneHot, arange } from '../../engine/index.ts';

/** Invariants of the nn functions and the random generator, on random shapes and values. */

const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 });

describe('softmax', () => {
  it('rows sum to 1 and are positive, even for large logits', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 1, max: 1e4, noNaN: true }), async (shape, seed, scale) => {
        const x = normal(shape, { generator: new Generator(seed), std: scale });
        const p = softmax(x, -1);
        const values = await p.toArray();
        const sums = await p.sum(-1).toArray();
        expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
        for (const s of sums) expect(s).toBeCloseTo(1, 5);
      }),
      { numRuns: 30 },
    );
  });
});

describe('crossEntropy', () => {
  it('ignores −100 targets: the loss equals the loss over the kept rows alone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 1e6 }), async (rows, classes, seed) => {
        const g = new Generator(seed);
        const logits = normal([rows, classes], { generator: g, dtype: 'float64' });
        const targets = Array.from({ length: rows }, (_, i) => (i % 2 === 1 ? -100 : g.int(classes)));
        const all = await crossEntropy(logits, tensor(targets, [rows], { dtype: 'int32' })).item();
        const keptRows = targets.map((t, i) => [t, i] as const).filter(([t]) => t !== -100);
        const kept = logits.indexSelect(
          0,
          tensor(
            keptRows.map(([, i]) => i),
            [keptRows.length],
            { dtype: 'int32' },
          ),
        );
        const only = await crossEntropy(
          kept,
          tensor(
            keptRows.map(([t]) => t),
            [keptRows.length],
            { dtype: 'int32' },
          ),
        ).item();
        expect(all).toBeCloseTo(only, 12);
      }),
      { numRuns: 30 },
    );
  });

  it('ignored rows receive zero gradient; all-ignored gives NaN like PyTorch', async () => {
    const logits = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true, dtype: 'float64' });
    crossEntropy(logits, tensor([2, -100], [2], { dtype: 'int32' })).backward();
    expect(Array.from(await logits.grad!.toArray()).slice(3)).toEqual([0, 0, 0]);
    expect(await crossEntropy(logits, tensor([-100, -100], [2], { dtype: 'int32' })).item()).toBeNaN();
  });

  it('matches the closed form −log softmax(x)[t]', async () => {
    const x = [0.5, -1, 2];
    const lse = Math.log(x.reduce((s, v) => s + Math.exp(v), 0));
    const loss = await crossEntropy(tensor(x, [1, 3], { dtype: 'float64' }), tensor([1], [1], { dtype: 'int32' })).item();
    expect(loss).toBeCloseTo(lse - x[1]!, 14);
  });
});

describe('dropout', () => {
  it('is the identity in eval mode', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.double({ min: 0, max: 1, noNaN: true }), async (shape, p) => {
        const x = normal(shape);
        expect(dropout(x, p, { training: false })).toBe(x);
      }),
      { numRuns: 20 },
    );
  });

  it('in training zeroes about p of the elements, scales the rest by 1/(1−p), and is reproducible', async () => {
    const x = tensor(new Float32Array(20000).fill(1), [20000]);
    const a = await dropout(x, 0.25, { training: true, generator: new Generator(7) }).toArray();
    const b = await dropout(x, 0.25, { training: true, generator: new Generator(7) }).toArray();
    expect(a).toEqual(b);
    const zeros = a.filter((v) => v === 0).length / a.length;
    expect(zeros).toBeGreaterThan(0.23);
    expect(zeros).toBeLessThan(0.27);
    expect(a.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
  });
});

describe('seeded generator and random tensors', () => {
  it('the same seed gives bit-identical tensors; state can be saved and restored', async () => {
    const a = await normal([100], { generator: new Generator(42) }).toArray();
    const b = await normal([100], { generator: new Generator(42) }).toArray();
    expect(a).toEqual(b);
    const g = new Generator(3);
    g.normal();
    const saved = g.state();
    const next = [g.normal(), g.random(), g.nextUint32()];
    g.setState(saved);
    expect([g.normal(), g.random(), g.nextUint32()]).toEqual(next);
  });

  it('uniform and kaiming-uniform stay within their bounds', async () => {
    const u = await uniform([1000], { low: -2, high: 3, generator: new Generator(1) }).toArray();
    expect(u.every((v) => v >= -2 && v < 3)).toBe(true);
    const bound = Math.sqrt(2 / (1 + 5)) * Math.sqrt(3 / 64);
    const w = await kaimingUniform([32, 64], { generator: new Generator(2) }).toArray();
    expect(w.every((v) => Math.abs(v) <= bound + 1e-7)).toBe(true);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.9);
  });

  it('normal has the requested mean and spread', async () => {
    const v = Array.from(await normal([20000], { mean: 1, std: 2, generator: new Generator(9), dtype: 'float64' }).toArray());
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length;
    expect(mean).toBeCloseTo(1, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(2, 1);
  });
});

describe('topk and oneHot', () => {
  it('topk returns the k largest in descending order with their indices', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1e6 }), async (rows, cols, seed) => {
        const x = normal([rows, cols], { generator: new Generator(seed) });
        const k = 1 + (seed % cols);
        const { values, indices } = topk(x, k);
        const xv = await x.toArray();
        const vv = await values.toArray();
        const iv = await indices.toArray();
        for (let r = 0; r < rows; r++) {
          const sorted = Array.from(xv.slice(r * cols, (r + 1) * cols)).sort((a, b) => b - a);
          for (let j = 0; j < k; j++) {
            expect(vv[r * k + j]).toBe(sorted[j]);
            expect(xv[r * cols + iv[r * k + j]!]).toBe(vv[r * k + j]);
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it('oneHot marks exactly the index', async () => {
    const h = oneHot(tensor([2, 0], [2], { dtype: 'int32' }), 3);
    expect(h.dtype).toBe('int32');
    expect(Array.from(await h.toArray())).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(await arange(2, 8, 2).toArray())).toEqual([2, 4, 6]);
  });
});
