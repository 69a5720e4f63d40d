import type { BinaryOp, UnaryOp, View } from '../backend.ts';
import { record } from '../autograd.ts';
import { isFloat, type DType } from '../dtype.ts';
import { keep } from '../memory.ts';
import { broadcastShapes, broadcastStrides, numel } from '../shape.ts';
import { Tensor } from '../tensor.ts';

/**
 * Elementwise primitives (unary, binary with NumPy broadcasting, where, cast) and the composites
 * built from them (silu, maskedFill).
 */

const COMPARISONS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** Ops defined on integers too (everything else needs floating point). */
const INTEGER_UNARY: ReadonlySet<UnaryOp> = new Set(['neg', 'abs', 'sign', 'relu']);
const INTEGER_BINARY: ReadonlySet<BinaryOp> = new Set(['add', 'sub', 'mul', 'maximum', 'minimum', 'pow', ...COMPARISONS]);

export function isComparison(op: BinaryOp): boolean {
  return COMPARISONS.has(op);
}

export function checkSameBackend(op: string, a: Tensor, b: Tensor): void {
  if (a.backend !== b.backend) {
    throw new Error(`${op}: Expected all tensors to be on the same backend, but found at least two backends, ${a.backend.name} and ${b.backend.name}`);
  }
}

export function checkSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new TypeError(`${op}: expected both tensors to have the same dtype, but got ${a.dtype} and ${b.dtype}`);
}

function contiguousView(shape: readonly number[], target: readonly number[]): View {
  return { offset: 0, strides: broadcastStrides(shape, target) };
}

/** A one-element tensor of `value` on `like`'s backend and dtype; cached, since loops reuse constants. */
export function scalarLike(like: Tensor, value: number): Tensor {
  const key = `${like.dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let perBackend = scalarCache.get(like.backend);
  if (perBackend === undefined) scalarCache.set(like.backend, (perBackend = new Map()));
  let t = perBackend.get(key);
  if (t === undefined || t.isDisposed) {
    // Entries dropped from the cache are not disposed: a graph awaiting backward may still hold them.
    const storage = like.backend.alloc(like.dtype, 1);
    like.backend.fill(storage, value);
    t = keep(new Tensor(storage, []));
    if (perBackend.size > 512) perBackend.clear(); // bounded: a loop over many distinct constants
    perBackend.set(key, t);
  }
  return t;
}
const scalarCache = new WeakMap<object, Map<string, Tensor>>();

export function fullLike(like: Tensor, value: number, shape: readonly number[] = like.shape): Tensor {
  const storage = like.backend.alloc(like.dtype, numel(shape));
  if (value !== 0) like.backend.fill(storage, value);
  return new Tensor(storage, shape);
}

export function unary(op: UnaryOp, x: Tensor): Tensor {
  if (x.dtype === 'bool' || (!isFloat(x.dtype) && !INTEGER_UNARY.has(op))) {
    throw new TypeError(`${op}: not implemented for ${x.dtype} tensors (cast to float32 first)`);
  }
  return record(op, [x], new Tensor(x.backend.unary(op, x.storage(op)), x.shape));
}

export function binary(op: BinaryOp, a: Tensor, bOrNumber: Tensor | number): Tensor {
  const b = typeof bOrNumber === 'number' ? scalarLike(a, bOrNumber) : bOrNumber;
  checkSameBackend(op, a, b);
  checkSameDtype(op, a, b);
  const comparison = COMPARISONS.has(op);
  if ((a.dtype === 'bool' && !(op === 'eq' || op === 'ne')) || (!isFloat(a.dtype) && !INTEGER_BINARY.has(op))) {
    throw new TypeError(`${op}: not implemented for ${a.dtype} tensors (cast to float32 first)`);
  }
  const shape = broadcastShapes(op, a.shape, b.shape);
  const storage = a.backend.binary(op, shape, a.storage(op), contiguousView(a.shape, shape), b.storage(op), contiguousView(b.shape, shape));
  const out = new Tensor(storage, shape);
  return comparison ? out : record(op as Exclude<BinaryOp, 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'>, [a, b], out);
}

/** cond ? a : b, elementwise with broadcasting of all three; `cond` is a bool tensor. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const like = typeof a === 'number' ? (typeof b === 'number' ? null : b) : a;
  if (like === null) throw new TypeError('where: at least one of a and b must be a tensor');
  const ta = typeof a === 'number' ? scalarLike(like, a) : a;
  const tb = typeof b === 'number' ? scalarLike(like, b) : b;
  if (cond.dtype !== 'bool') throw new TypeError(`where: expected condition to be a bool tensor, but got ${cond.dtype}`);
  checkSameBackend('where', cond, ta);
  checkSameBackend('where', ta, tb);
  checkSameDtype('where', ta, tb);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
  const storage = ta.backend.where(shape, cond.storage('where'), contiguousView(cond.shape, shape),
    ta.storage('where'), contiguousView(ta.shape, shape), tb.storage('where'), contiguousView(tb.shape, shape));
  return record('where', [cond, ta, tb], new Tensor(storage, shape));
}

/** Converts the element type; gradients flow between floating-point types only. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (!x.backend.supports(dtype)) throw new Error(`cast: the ${x.backend.name} backend does not support ${dtype} tensors`);
  const out = new Tensor(x.backend.cast(x.storage('cast'), dtype), x.shape);
  return isFloat(dtype) && isFloat(x.dtype) ? record('cast', [x], out) : out;
}

/** x·sigmoid(x), the activation of the SwiGLU MLP. */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/** x with `value` wherever `mask` (bool, broadcastable to x) is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, scalarLike(x, value), x);
}
