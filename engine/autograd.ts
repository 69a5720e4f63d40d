import { Tensor } from './tensor.ts';
import { gradientRules, type Primitive } from './gradients.ts';
import { noGrad } from './graph.ts';
import { keep, tidy } from './memory.ts';
import { fullLike } from './ops/elementwise/ops.ts';
import { formatShape, sameShape, ShapeError } from './shape.ts';

/**
 * Reverse-mode automatic differentiation.
 *
 * Every primitive op that has an input requiring gradients records a `GraphNode` on its output
 * (engine/graph.ts): which primitive ran, on which inputs, with which attributes. `backward` walks
 * these nodes from the output back to the leaves in reverse topological order and applies the
 * gradient rule of each primitive, found in the one table in `gradients.ts`. Composite ops
 * (softmax, logsumexp, cross-entropy…) are made of primitives and so never need a rule of their own.
 */

/** Nodes reachable from `root`, ordered so that every node comes after the nodes of its inputs. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative depth-first search: deep graphs (long training sequences) would overflow recursion.
  const stack: Array<{ t: Tensor; expanded: boolean }> = [{ t: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.t);
      continue;
    }
    if (visited.has(top.t)) continue;
    visited.add(top.t);
    stack.push({ t: top.t, expanded: true });
    for (const input of top.t.node?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push({ t: input, expanded: false });
    }
  }
  return order;
}

/**
 * Accumulates d(root)/d(leaf) into `leaf.grad` for every leaf that requires gradients, and into
 * `t.grad` for every intermediate that called `retainGrad()`; calls each tensor's hooks with its
 * gradient on the way. `grad` is d(loss)/d(root); it may be omitted only when root is a scalar
 * (then it is 1).
 * The graph is freed afterwards (as PyTorch does without retain_graph), so intermediate tensors
 * can be reclaimed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) {
    throw new Error('backward: element 0 of tensors does not require grad and does not have a grad_fn');
  }
  if (grad === undefined) {
    if (root.size !== 1) throw new Error(`backward: grad can be implicitly created only for scalar outputs (got shape ${formatShape(root.shape)})`);
    grad = fullLike(root, 1);
  } else if (!sameShape(grad.shape, root.shape)) {
    throw new ShapeError(`backward: upstream gradient has shape ${formatShape(grad.shape)} but the output has shape ${formatShape(root.shape)}`);
  }

  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (g === undefined) continue; // this branch does not influence root
      grads.delete(t);
      for (const hook of [...t.hooks]) hook(g);
      const node = t.node;
      if (node === null) {
        accumulateGrad(t, g, g !== grad);
        continue;
      }
      if (t.retainsGrad) accumulateGrad(t, g.alias(), true);
      const inputGrads = tidy(() => gradientRules[node.op as Primitive](g, node));
      const handedOut = new Set<Tensor>([g]);
      node.inputs.forEach((input, j) => {
        let gi = inputGrads[j];
        if (!input.requiresGrad || gi === null || gi === undefined) return;
        // Each stored gradient is its own tensor object (sharing storage where a rule passed one
        // through), so disposing one never pulls the storage from under another.
        if (handedOut.has(gi)) gi = gi.alias();
        handedOut.add(gi);
        const previous = grads.get(input);
        if (previous === undefined) {
          grads.set(input, gi);
        } else {
          grads.set(input, previous.add(gi)); // the input was used more than once: gradients add up
          previous.dispose();
          gi.dispose();
        }
      });
      if (g !== grad) g.dispose();
      t.node = null; // free the graph behind t
    }
  });
}

/**
 * Adds `g` into `t.grad` (a leaf's, or a retained intermediate's). The gradient outlives any `tidy`
 * around backward: the optimiser reads it later. The sum is a new tensor and the previous gradient
 * is disposed only if no caller read it (copy-on-accumulate, see Tensor.grad). `owned`: `g` is
 * backward's own and may be disposed once added.
 */
function accumulateGrad(t: Tensor, g: Tensor, owned: boolean): void {
  const previous = t.peekGrad();
  if (previous === null) {
    t.replaceGrad(keep(g));
    return;
  }
  t.replaceGrad(keep(previous.add(g)));
  if (owned) g.dispose();
}

declare module './tensor.ts' {
  interface Tensor {
    /** Accumulates d(this)/d(leaf) into `leaf.grad` for every leaf (see `backward` above). */
    backward(grad?: Tensor): void;
  }
}

Tensor.prototype.backward = function (this: Tensor, grad?: Tensor): void {
  backward(this, grad);
};
