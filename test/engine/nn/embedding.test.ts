import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '../../../engine/index.ts';
import { Embedding } from '../../../engine/nn/index.ts';
import { values } from './gradcheck.ts';

describe('Embedding', () => {
  it('looks up ids of any shape: [...] → [..., dim]', async () => {
    const emb = new Embedding(5, 3, { dtype: 'float64' });
    const table = Array.from({ length: 15 }, (_, i) => i);
    emb.loadStateDict({ weight: tensor(Float64Array.from(table), [5, 3]) });
    const ids = tensor(Int32Array.from([4, 0, 2, 2]), [2, 2]);
    const out = emb.forward(ids);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(await values(out)).toEqual([12, 13, 14, 0, 1, 2, 6, 7, 8, 6, 7, 8]);
    const scalar = emb.forward(tensor(Int32Array.from([1]), []));
    expect(scalar.shape).toEqual([3]);
    expect(await values(scalar)).toEqual([3, 4, 5]);
  });

  it('starts N(0, 1), reproducibly', async () => {
    const a = await values(new Embedding(100, 20, { generator: new Generator(3) }).weight);
    const b = await values(new Embedding(100, 20, { generator: new Generator(3) }).weight);
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(variance - 1)).toBeLessThan(0.1);
  });

  it('accumulates the gradient of repeated ids (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.integer(),
        async (num, dim, rawIds, seed) => {
          const ids = rawIds.map((i) => i % num);
          const emb = new Embedding(num, dim, { dtype: 'float64', generator: new Generator(seed) });
          const g = new Generator(seed + 1);
          const upstream = Array.from({ length: ids.length * dim }, () => g.normal());
          emb
            .forward(tensor(Int32Array.from(ids), [ids.length]))
            .mul(tensor(Float64Array.from(upstream), [ids.length, dim]))
            .sum()
            .backward();
          const expected = new Array<number>(num * dim).fill(0);
          ids.forEach((id, n) => {
            for (let d = 0; d < dim; d++) expected[id * dim + d]! += upstream[n * dim + d]!;
          });
          const got = await values(emb.weight.grad!);
          got.forEach((v, i) => {
            expect(v).toBeCloseTo(expected[i]!, 12);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('rejects non-integer ids and out-of-range ids', () => {
    const emb = new Embedding(3, 2);
    expect(() => emb.forward(tensor([0, 1]))).toThrow(/indices' to have scalar type int32, but got float32/);
    expect(() => emb.forward(tensor(Int32Array.from([3])))).toThrow(/index 3 is out of bounds/);
  });
});
