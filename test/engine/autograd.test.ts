import { describe, expect, it } from 'vitest';
import { noGrad, tensor, tidy, keep, ones } from '../../engine/index.ts';

/** How the graph is recorded and walked: accumulation, no-grad scopes, detach, disposal. */

describe('autograd', () => {
  it('accumulates gradients where a tensor is used twice', async () => {
    const x = tensor([3], [1], { requiresGrad: true, dtype: 'float64' });
    x.mul(x).add(x).sum().backward(); // d/dx (x² + x) = 2x + 1
    expect(await x.grad!.item()).toBe(7);
  });

  it('accumulates into .grad across backward calls, as PyTorch does', async () => {
    const x = tensor([2], [1], { requiresGrad: true, dtype: 'float64' });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(await x.grad!.item()).toBe(6);
  });

  it('records nothing inside noGrad and nothing through detach', async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    const z = x.detach().mul(2).add(x).sum();
    z.backward();
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 1]);
  });

  it('only leaves that require gradients receive them', async () => {
    const w = tensor([1, 2], [2], { requiresGrad: true });
    const frozen = tensor([3, 4], [2]);
    w.mul(frozen).sum().backward();
    expect(frozen.grad).toBeNull();
    expect(Array.from(await w.grad!.toArray())).toEqual([3, 4]);
  });

  it('refuses backward without a gradient for a non-scalar, and on tensors without a graph', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow('grad can be implicitly created only for scalar outputs');
    expect(() => tensor([1], [1]).backward()).toThrow('does not require grad');
    expect(() => x.mul(2).backward(ones([3]))).toThrow('upstream gradient has shape [3] but the output has shape [2]');
  });

  it('a gradient passed through unchanged to several inputs stays valid', async () => {
    const a = tensor([1], [1], { requiresGrad: true });
    const b = tensor([2], [1], { requiresGrad: true });
    a.add(b).sum().backward();
    expect(await a.grad!.item()).toBe(1);
    expect(await b.grad!.item()).toBe(1);
  });
});

describe('memory', () => {
  it('using a disposed tensor throws, naming the op', async () => {
    const x = tensor([1, 2], [2]);
    x.dispose();
    expect(() => x.add(1)).toThrow('add: Tensor was disposed');
    await expect(x.toArray()).rejects.toThrow('toArray: Tensor was disposed');
  });

  it('a reshape shares storage: disposing one keeps the other usable', async () => {
    const x = tensor([1, 2, 3, 4], [4]);
    const y = x.reshape([2, 2]);
    x.dispose();
    expect(Array.from(await y.toArray())).toEqual([1, 2, 3, 4]);
  });

  it('a permute that moves only size-1 axes is a reshape: it shares storage, and its gradient flows back', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 1, 3], { requiresGrad: true, dtype: 'float64' });
    const y = x.permute([1, 0, 2]); // [1, 2, 3]: the elements stay where they are
    expect(y.shape).toEqual([1, 2, 3]);
    expect(y.storage('test')).toBe(x.storage('test'));
    expect(y.node?.op).toBe('reshape');
    y.mul(tensor([1, 2, 3, 4, 5, 6], [1, 2, 3], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(Array.from(await x.grad!.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    const z = x.permute([2, 1, 0]); // [3, 1, 2]: a real transpose still copies
    expect(z.storage('test')).not.toBe(x.storage('test'));
    expect(Array.from(await z.toArray())).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('tidy disposes temporaries but keeps results, kept tensors and what the graph needs', async () => {
    const w = keep(tensor([1, 2], [2], { requiresGrad: true }));
    let temp = null as ReturnType<typeof tensor> | null;
    const loss = tidy(() => {
      temp = w.mul(2);
      return temp.mul(w).sum();
    });
    expect(temp!.isDisposed).toBe(false); // the graph of `loss` still needs it
    loss.backward();
    expect(Array.from(await w.grad!.toArray())).toEqual([4, 8]);
    let scratch = null as ReturnType<typeof tensor> | null;
    const value = tidy(() => {
      scratch = w.add(1);
      return 5;
    });
    expect(value).toBe(5);
    expect(scratch!.isDisposed).toBe(true);
    expect(w.isDisposed).toBe(false);
  });
});
