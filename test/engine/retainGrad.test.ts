import { describe, expect, it } from 'vitest';
import { capture, keep, type Tensor, tensor, tidy, withCapture } from '../../engine/index.ts';

/** retainGrad, hooks, named capture and the gradient-validity rule (copy-on-accumulate). */
describe('gradients of intermediates', () => {
  it('retainGrad keeps an intermediate gradient, as PyTorch does', async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true, dtype: 'float64' });
    const y = x.mul(x).retainGrad(); // y = x²
    y.mul(3).sum().backward(); // dL/dy = 3, dL/dx = 6x
    expect(Array.from(await y.grad!.toArray())).toEqual([3, 3, 3]);
    expect(Array.from(await x.grad!.toArray())).toEqual([6, 12, 18]);
  });

  it('refuses retainGrad and hooks on tensors outside the graph', () => {
    const c = tensor([1], [1]);
    expect(() => c.retainGrad()).toThrow('requires_grad=False');
    expect(() => c.registerHook(() => {})).toThrow("doesn't require gradient");
  });

  it('calls a hook with the gradient at that tensor, and can remove it', async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true, dtype: 'float64' });
    const seen: Tensor[] = [];
    const y = x.mul(2);
    const remove = y.registerHook((g) => seen.push(keep(g.alias())));
    y.mul(tensor([5, 7], [2], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(seen.length).toBe(1);
    expect(Array.from(await seen[0]!.toArray())).toEqual([5, 7]);
    remove();
    expect(y.hooks.length).toBe(0);
  });

  it('captures named forward values and their gradients, through tidy', async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true, dtype: 'float64' });
    const { grads, values } = withCapture((cap) => {
      const loss = tidy(() => capture('h', capture('h', x.mul(3)).add(1)).sum());
      loss.backward();
      return { grads: cap.gradients(), values: cap.values };
    });
    expect([...values.keys()]).toEqual(['h', 'h@1']);
    expect(Array.from(await values.get('h')!.toArray())).toEqual([3, 6]);
    expect(Array.from(await grads.get('h')!.toArray())).toEqual([1, 1]);
    expect(capture('outside', x)).toBe(x); // no capture running: nothing kept
  });

  it('keeps a gradient a caller holds valid when a later backward accumulates (copy-on-accumulate)', async () => {
    const x = tensor([2], [1], { requiresGrad: true, dtype: 'float64' });
    x.mul(3).sum().backward();
    const first = x.grad!;
    x.mul(4).sum().backward();
    expect(await first.item()).toBe(3);
    expect(await x.grad!.item()).toBe(7);
    expect(first.isDisposed).toBe(false);
  });

  it('disposes a replaced gradient nobody read', () => {
    const x = tensor([2], [1], { requiresGrad: true, dtype: 'float64' });
    x.mul(3).sum().backward();
    const first = x.peekGrad()!;
    x.mul(4).sum().backward();
    expect(first.isDisposed).toBe(true);
  });
});
