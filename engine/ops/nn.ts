import { noGrad } from '../graph.ts';
import type { Generator } from '../random.ts';
import { formatShape, normalizeAxis, sameShape, ShapeError } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { uniform } from './creation.ts';
import { where } from './elementwise/ops.ts';
import { crossEntropyRows, fusionEnabled, softmaxComposite, softmaxLastAxis } from './fused/ops.ts';

/**
 * Neural-network functions, all composites of primitives: their gradients come from the chain
 * rule over the primitives' rules, with no rule of their own.
 */

/** exp(x) / Σ exp(x) along `axis`, shifted by the (constant) maximum for stability. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis('softmax', axis, x.rank);
  // Along the last axis, a fused kernel when the backend has one (engine/ops/fused/ops.ts).
  return a === x.rank - 1 ? softmaxLastAxis(x) : softmaxComposite(x, a);
}

/** x − logsumexp(x) along `axis`. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const a = normalizeAxis('logSoftmax', axis, x.rank);
  return x.sub(x.logsumexp(a, true));
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (PyTorch's default, −100). */
  ignoreIndex?: number;
}

/**
 * Mean negative log-likelihood of int32 `targets` under `logits`, classes on the last axis:
 * logits [..., C], targets [...]. The mean is over the targets that are not `ignoreIndex`
 * (all ignored gives 0/0 = NaN, as in PyTorch).
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (targets.dtype !== 'int32') throw new TypeError(`crossEntropy: expected int32 targets, got ${targets.dtype}`);
  if (!sameShape(logits.shape.slice(0, -1), targets.shape)) {
    throw new ShapeError(
      `crossEntropy: Expected target of shape ${formatShape(logits.shape.slice(0, -1))} for input of shape ${formatShape(logits.shape)}, got ${formatShape(targets.shape)}`,
    );
  }
  const classes = logits.shape[logits.rank - 1] ?? 0;
  if (fusionEnabled() && logits.backend.fused !== undefined && logits.rank >= 1 && logits.size > 0 && classes > 0) {
    // One fused pass per row for the loss and one for its gradient (engine/ops/fused/ops.ts).
    const rows = logits.size / classes;
    const perRow = crossEntropyRows(logits.reshape([rows, classes]), targets.reshape([rows]), ignoreIndex);
    const [scale, nanIfEmpty] = noGrad(() => {
      const count = targets.ne(ignoreIndex).cast(logits.dtype).sum();
      return [where(count.gt(0), count.maximum(1).pow(-1), 0), where(count.gt(0), count.mul(0), NaN)];
    });
    return perRow.sum().mul(scale).add(nanIfEmpty);
  }
  const kept = targets.ne(ignoreIndex);
  const safeTargets = where(kept, targets, 0).unsqueeze(-1);
  const picked = logits.logSoftmax(-1).gather(-1, safeTargets).squeeze(-1);
  const weight = kept.cast(logits.dtype);
  // Divide by the number of kept targets; with none kept the loss is NaN (0/0) but, as in PyTorch,
  // the gradient is 0, so both constants are made outside the graph.
  const [scale, nanIfEmpty] = noGrad(() => {
    const count = weight.sum();
    return [where(count.gt(0), count.maximum(1).pow(-1), 0), where(count.gt(0), count.mul(0), NaN)];
  });
  return picked.mul(weight).sum().neg().mul(scale).add(nanIfEmpty);
}

/** Mean of (a − b)² over every element. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  const d = a.sub(b);
  return d.mul(d).mean();
}

export interface DropoutOptions {
  training: boolean;
  generator?: Generator;
}

/**
 * In training, zeroes each element with probability p and scales the rest by 1/(1−p), so the
 * expectation is unchanged; in evaluation, the identity. The mask comes from the seeded generator.
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: dropout probability has to be between 0 and 1, but got ${p}`);
  if (!options.training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = uniform(x.shape, { generator: options.generator, backend: x.backend, dtype: x.dtype }).ge(p);
  return where(keep, x.div(1 - p), 0);
}

declare module '../tensor.ts' {
  interface Tensor {
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
  }
}

Tensor.prototype.softmax = function (this: Tensor, axis = -1) {
  return softmax(this, axis);
};
Tensor.prototype.logSoftmax = function (this: Tensor, axis = -1) {
  return logSoftmax(this, axis);
};
