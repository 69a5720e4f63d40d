import type { ReduceOp } from '../../backend.ts';
import { checkNotHalf, isFloat } from '../../dtype.ts';
import { noGrad, record, type Rule } from '../../graph.ts';
import { normalizeAxes, normalizeAxis, sameShape } from '../../shape.ts';
import { Tensor, type GraphNode } from '../../tensor.ts';

/**
 * The reduce family: reductions over any set of axes. The primitives are `sum` and `max`
 * (PyTorch's amax: the gradient is shared equally among tied maxima), each one `Backend.reduce`
 * kernel (CPU: cpu.ts); `mean` and `logsumexp` are built from them, and `argmax` (no gradient)
 * has a kernel of its own.
 */

/** The shape with `axes` set to 1 (keepdim) or removed. */
function reducedShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  if (keepdim) return shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return shape.filter((_, i) => !axes.includes(i));
}

function reducePrimitive(op: ReduceOp, x: Tensor, axesArg: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  checkNotHalf(op, x.dtype);
  const axes = normalizeAxes(op, axesArg, x.rank);
  if (op === 'max' && axes.some((a) => x.shape[a] === 0)) {
    throw new Error(`max: Expected reduction dim ${axes.find((a) => x.shape[a] === 0)} to have non-zero size (shape [${x.shape.join(', ')}])`);
  }
  const storage = x.backend.reduce(op, x.storage(op), x.shape, axes);
  const kept = new Tensor(storage, reducedShape(x.shape, axes, true));
  const out = keepdim ? kept : kept.withShape(reducedShape(x.shape, axes, false));
  if (!keepdim) kept.dispose();
  // Integer sums are counts; they take no part in differentiation.
  return isFloat(out.dtype) ? record(op, [x], out, { axes, keepdim }) : out;
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return reducePrimitive('sum', x, axes, keepdim);
}

export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return reducePrimitive('max', x, axes, keepdim);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  if (!isFloat(x.dtype))
    throw new TypeError(`mean: could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: ${x.dtype}`);
  const count = normalizeAxes('mean', axes, x.rank).reduce((n, a) => n * x.shape[a]!, 1);
  return sum(x, axes, keepdim).div(count);
}

/** Index of the first maximum along `axis` (int32, no gradient). */
export function argmax(x: Tensor, axis: number, keepdim = false): Tensor {
  const a = normalizeAxis('argmax', axis, x.rank);
  if (x.shape[a] === 0) throw new Error(`argmax: Expected reduction dim ${a} to have non-zero size`);
  const kept = new Tensor(x.backend.argmax(x.storage('argmax'), x.shape, a), reducedShape(x.shape, [a], true));
  if (keepdim) return kept;
  const out = kept.withShape(reducedShape(x.shape, [a], false));
  kept.dispose();
  return out;
}

/**
 * log Σ exp(x) over `axes`, computed as m + log Σ exp(x − m) with m the (constant) maximum so that
 * large values do not overflow. m is detached: the result does not depend on it mathematically,
 * so its gradient would be zero anyway.
 */
export function logsumexp(x: Tensor, axes: number | readonly number[], keepdim = false): Tensor {
  const m = noGrad(() => {
    const raw = max(x, axes, true);
    // An all −∞ slice would give −∞ − (−∞) = NaN; shifting by 0 there gives log(0) = −∞ as it should.
    return raw.maskedFill(raw.abs().eq(Infinity), 0);
  });
  const shifted = x.sub(m).exp().sum(axes, true).log().add(m);
  return keepdim ? shifted : shifted.reshape(reducedShape(x.shape, normalizeAxes('logsumexp', axes, x.rank), false));
}

/**
 * Sums a broadcast gradient back to the shape of the operand that was broadcast:
 * over the leading axes it lacked and over its size-1 axes.
 */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return g.sum(axes, true).reshape(shape);
}

/** A reduction's (keepdim) gradient expanded back over the axes it reduced. */
function expandReduced(g: Tensor, node: GraphNode): Tensor {
  const input = node.inputs[0]!;
  const keptShape = input.shape.map((d, i) => (node.attrs.axes.includes(i) ? 1 : d));
  return g.reshape(keptShape).expand(input.shape);
}

/** The gradient rules of the family's primitives (engine/gradients.ts gathers every family's). */
export const reduceRules: Record<ReduceOp, Rule> = {
  sum: (g, node) => [expandReduced(g, node)],
  // amax: the gradient is shared equally among the elements equal to the maximum.
  max: (g, node) => {
    const x = node.inputs[0]!;
    const winners = x.eq(expandReduced(node.output, node)).cast(x.dtype);
    const count = winners.sum(node.attrs.axes, true);
    return [winners.mul(expandReduced(g, node)).div(count.expand(x.shape))];
  },
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof reduceRules, Rule> {}
}

declare module '../../tensor.ts' {
  interface Tensor {
    sum(axes?: number | readonly number[], keepdim?: boolean): Tensor;
    mean(axes?: number | readonly number[], keepdim?: boolean): Tensor;
    max(axes?: number | readonly number[], keepdim?: boolean): Tensor;
    argmax(axis: number, keepdim?: boolean): Tensor;
    logsumexp(axes: number | readonly number[], keepdim?: boolean): Tensor;
  }
}

Tensor.prototype.sum = function (this: Tensor, axes?: number | readonly number[], keepdim = false) {
  return sum(this, axes, keepdim);
};
Tensor.prototype.mean = function (this: Tensor, axes?: number | readonly number[], keepdim = false) {
  return mean(this, axes, keepdim);
};
Tensor.prototype.max = function (this: Tensor, axes?: number | readonly number[], keepdim = false) {
  return max(this, axes, keepdim);
};
Tensor.prototype.argmax = function (this: Tensor, axis: number, keepdim = false) {
  return argmax(this, axis, keepdim);
};
Tensor.prototype.logsumexp = function (this: Tensor, axes: number | readonly number[], keepdim = false) {
  return logsumexp(this, axes, keepdim);
};
