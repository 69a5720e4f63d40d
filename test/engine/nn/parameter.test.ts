import { describe, expect, it } from 'vitest';
import { tensor, tidy, zeros } from '../../../engine/index.ts';
import { Parameter } from '../../../engine/nn/index.ts';
import { values } from './gradcheck.ts';

describe('Parameter', () => {
  it('is a trainable leaf that survives tidy', async () => {
    const kept = tidy(() => {
      new Parameter(tensor([1, 2, 3]));
      return new Parameter(tensor([4, 5]));
    });
    expect(kept.requiresGrad).toBe(true);
    expect(await values(kept)).toEqual([4, 5]);
    const inner: Parameter[] = [];
    tidy(() => {
      inner.push(new Parameter(tensor([7])));
    });
    expect(inner[0]!.isDisposed).toBe(false);
    expect(await values(inner[0]!)).toEqual([7]);
  });

  it('rejects integer tensors', () => {
    expect(() => new Parameter(tensor(Int32Array.from([1])))).toThrow(/only floating point/);
  });

  it('assign swaps the values; earlier snapshots keep the old ones', async () => {
    const p = new Parameter(tensor([1, 2, 3]), { name: 'w' });
    const before = p.detach();
    const doubled = p.mul(2);
    const y = p.add(0); // an op that read p before the update
    tidy(() => p.assign(p.mul(10)));
    expect(await values(p)).toEqual([10, 20, 30]);
    expect(await values(before)).toEqual([1, 2, 3]);
    expect(await values(doubled)).toEqual([2, 4, 6]);
    expect(await values(y)).toEqual([1, 2, 3]);
    // Assigning the parameter's own storage back is a no-op, not a use-after-free.
    p.assign(p.detach());
    expect(await values(p)).toEqual([10, 20, 30]);
  });

  it('assign checks shape, dtype and disposal', () => {
    const p = new Parameter(zeros([2, 3]), { name: 'layer.weight' });
    expect(() => p.assign(zeros([3, 2]))).toThrow('Parameter.assign (layer.weight): cannot assign a tensor of shape [3, 2] to a parameter of shape [2, 3]');
    expect(() => p.assign(zeros([2, 3], { dtype: 'float64' }))).toThrow(/float64 tensor to a float32 parameter/);
    const gone = zeros([2, 3]);
    gone.dispose();
    expect(() => p.assign(gone)).toThrow(/disposed/);
  });

  it('requiresGrad_(false) freezes: backward leaves no gradient', () => {
    const a = new Parameter(tensor([1, 2]));
    const b = new Parameter(tensor([3, 4])).requiresGrad_(false);
    a.mul(b).sum().backward();
    expect(a.grad).not.toBeNull();
    expect(b.grad).toBeNull();
  });

  it('setTrainableRows masks the gradient rows', async () => {
    const p = new Parameter(zeros([4, 2], { dtype: 'float64' }));
    p.setTrainableRows([2, 0]);
    expect(p.trainableRows).toEqual([0, 2]);
    p.add(1)
      .mul(tensor(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [4, 2]))
      .sum()
      .backward();
    expect(await values(p.maskGrad()!)).toEqual([1, 2, 0, 0, 5, 6, 0, 0]);
    const g = p.grad;
    expect(p.maskGrad()).toBe(g); // idempotent, no second copy
    expect(() => p.setTrainableRows([4])).toThrow(/row 4 is out of bounds for a parameter of shape \[4, 2\]/);
    p.setTrainableRows(null);
    expect(p.rowMask).toBeNull();
  });
});
