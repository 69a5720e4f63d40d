import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, tensor, type Tensor } from '../../../engine/index.ts';
import { RMSNorm } from '../../../engine/nn/index.ts';
import { expectClose, numericGrad, values } from './gradcheck.ts';

/** y = x / √(mean(x²) + eps) · w, row by row, in plain JS. */
function reference(x: number[], w: number[], eps: number): number[] {
  const dim = w.length;
  const out: number[] = [];
  for (let r = 0; r < x.length / dim; r++) {
    const row = x.slice(r * dim, (r + 1) * dim);
    const inv = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / dim + eps);
    row.forEach((v, i) => {
      out.push(v * inv * w[i]!);
    });
  }
  return out;
}

const shapeArb = fc.tuple(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 1, max: 5 }));

describe('RMSNorm', () => {
  it('matches the formula (float64, random shapes and weights)', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.integer(), async ([lead, dim], seed) => {
        const g = new Generator(seed);
        const shape = [...lead, dim];
        const x = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => g.normal());
        const w = Array.from({ length: dim }, () => g.normal());
        const norm = new RMSNorm(dim, { eps: 1e-5, dtype: 'float64' });
        norm.loadStateDict({ weight: tensor(Float64Array.from(w)) });
        expectClose(await values(norm.forward(tensor(Float64Array.from(x), shape))), reference(x, w, 1e-5), 1e-12);
      }),
      { numRuns: 30 },
    );
  });

  it('starts with weight = ones', async () => {
    expect(await values(new RMSNorm(3).weight)).toEqual([1, 1, 1]);
  });

  it('has the finite-difference gradient w.r.t. x and w (float64)', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.integer(), async ([lead, dim], seed) => {
        const g = new Generator(seed);
        const shape = [...lead, dim];
        const n = shape.reduce((a, b) => a * b, 1);
        const x0 = Array.from({ length: n }, () => g.normal());
        const w0 = Array.from({ length: dim }, () => g.normal());
        const up = tensor(Float64Array.from(Array.from({ length: n }, () => g.normal())), shape);
        const norm = new RMSNorm(dim, { eps: 1e-3, dtype: 'float64' });
        norm.loadStateDict({ weight: tensor(Float64Array.from(w0)) });
        // Loss = Σ up · RMSNorm(x): a random direction, so every output element matters.
        const x = tensor(Float64Array.from(x0), shape, { requiresGrad: true });
        norm.forward(x).mul(up).sum().backward();
        const fx = (xt: Tensor): Tensor => norm.forward(xt).mul(up).sum();
        expectClose(await values(x.grad!), await numericGrad(fx, x0, shape), 1e-6);
        const fw = (wt: Tensor): Tensor => {
          const probe = new RMSNorm(dim, { eps: 1e-3, dtype: 'float64' });
          probe.loadStateDict({ weight: wt });
          return probe
            .forward(tensor(Float64Array.from(x0), shape))
            .mul(up)
            .sum();
        };
        expectClose(await values(norm.weight.grad!), await numericGrad(fw, w0, [dim]), 1e-6);
      }),
      { numRuns: 25 },
    );
  });

  it('names the expected size when the last axis does not fit', () => {
    expect(() => new RMSNorm(4).forward(tensor([1, 2, 3], [1, 3]))).toThrow('RMSNorm: expected input with last dimension 4, got shape [1, 3]');
  });
});
