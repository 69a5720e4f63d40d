import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '../../../engine/index.ts';
import { Linear } from '../../../engine/nn/index.ts';
import { expectClose, values } from './gradcheck.ts';

describe('Linear', () => {
  it('computes y = x Wᵀ + b by hand', async () => {
    const lin = new Linear(3, 2, { dtype: 'float64' });
    lin.loadStateDict({
      weight: tensor(Float64Array.from([1, 2, 3, -1, 0.5, 4]), [2, 3]),
      bias: tensor(Float64Array.from([0.25, -2])),
    });
    // x [2, 2, 3]: a batch of sequences; the weight is applied to the last axis.
    const x = tensor(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3]), [2, 2, 3]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(await values(y)).toEqual([
      1.25,
      -3, // x = e0: W[:,0] + b
      2.25,
      -1.5, // e1
      3.25,
      2, // e2
      1 + 4 + 9 + 0.25,
      -1 + 1 + 12 - 2, // [1, 2, 3]
    ]);
  });

  it('without bias is a plain product, and its weight gradient is gᵀx', async () => {
    const lin = new Linear(2, 2, { bias: false, dtype: 'float64' });
    lin.loadStateDict({ weight: tensor(Float64Array.from([1, 2, 3, 4]), [2, 2]) });
    const x = tensor(Float64Array.from([1, -1, 2, 0.5]), [2, 2]);
    const y = lin.forward(x);
    expect(await values(y)).toEqual([-1, -1, 3, 8]);
    y.sum().backward();
    // d(sum y)/dW[o, i] = Σ_n x[n, i]
    expect(await values(lin.weight.grad!)).toEqual([3, -0.5, 3, -0.5]);
  });

  it('initialises like PyTorch: W and b in ±1/√in, W drawn first, reproducible', async () => {
    const a = new Linear(16, 8, { generator: new Generator(7) });
    const b = new Linear(16, 8, { generator: new Generator(7) });
    expect(a.weight.shape).toEqual([8, 16]);
    expect(a.bias!.shape).toEqual([8]);
    expect(await values(a.weight)).toEqual(await values(b.weight));
    const bound = 1 / Math.sqrt(16); // kaiming-uniform with a = √5 gives exactly this
    for (const v of [...(await values(a.weight)), ...(await values(a.bias!))]) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    // The first 128 draws are the weight's; the bias comes from the next 8.
    const g = new Generator(7);
    const w: number[] = [];
    for (let i = 0; i < 128; i++) w.push(g.uniform(-bound, bound));
    const bias: number[] = [];
    for (let i = 0; i < 8; i++) bias.push(g.uniform(-bound, bound));
    expectClose(await values(a.weight), w, 1e-6);
    expectClose(await values(a.bias!), bias, 1e-6);
  });

  it('names the shapes when the input does not fit', () => {
    const lin = new Linear(3, 2);
    expect(() => lin.forward(tensor([1, 2, 3, 4], [1, 4]))).toThrow(/mat1 and mat2 shapes cannot be multiplied \(1x4 and 3x2\)/);
  });
});
