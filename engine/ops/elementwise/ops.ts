import type { View } from '../../backend.ts';
import { checkNotHalf, isFloat, type DType } from '../../dtype.ts';
import { record, type Rule } from '../../graph.ts';
import { keep } from '../../memory.ts';
import { broadcastShapes, broadcastStrides, numel } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { unbroadcast } from '../reduce/ops.ts';

/**
 * The elementwise family: unary ops, binary ops with NumPy broadcasting, `where` and `cast` (the
 * primitives), and the composites built from them (silu, maskedFill).
 *
 * The two op lists below are the only place an elementwise op is named. From them come the
 * `UnaryOp` / `BinaryOp` types of the backend interface, the Tensor methods (`x.sigmoid()`,
 * `x.add(y)`), the CPU kernels' arithmetic (`cpu`), the gradient rules (`grad`, gathered in
 * engine/gradients.ts) and the WebGPU kernel: the function `op_<name>` in shaders/unary.wgsl or
 * shaders/binary.wgsl, which the host picks by name.
 */

// ---- unary ops: out[i] = f(x[i]) ------------------------------------------------------------------

export const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'sign'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export interface UnaryOpSpec {
  /** The CPU kernel: out[i] = cpu(x[i]) in float64, rounded to the storage type when stored. */
  cpu: (x: number) => number;
  /** Defined on int32 tensors too (the others need floating point). */
  integer?: boolean;
  /** d(loss)/dx from g = d(loss)/d(out). */
  grad: Rule;
}

export const unaryOps: Record<UnaryOp, UnaryOpSpec> = {
  neg: { cpu: (x) => -x, integer: true, grad: (g) => [g.neg()] },
  exp: { cpu: Math.exp, grad: (g, { output }) => [g.mul(output)] },
  log: { cpu: Math.log, grad: (g, { inputs: [x] }) => [g.div(x!)] },
  sqrt: { cpu: Math.sqrt, grad: (g, { output }) => [g.div(output.mul(2))] },
  rsqrt: { cpu: (x) => 1 / Math.sqrt(x), grad: (g, { output }) => [g.mul(output.mul(output).mul(output)).mul(-0.5)] },
  abs: { cpu: Math.abs, integer: true, grad: (g, { inputs: [x] }) => [g.mul(x!.sign())] },
  sin: { cpu: Math.sin, grad: (g, { inputs: [x] }) => [g.mul(x!.cos())] },
  cos: { cpu: Math.cos, grad: (g, { inputs: [x] }) => [g.mul(x!.sin()).neg()] },
  tanh: { cpu: Math.tanh, grad: (g, { output }) => [g.mul(output.mul(output).neg().add(1))] },
  sigmoid: {
    // Written so that neither branch overflows: exp of a large positive number is never taken.
    cpu: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
    grad: (g, { output }) => [g.mul(output).mul(output.neg().add(1))],
  },
  // biome-ignore lint/complexity/useMathMinMax: Math.max(NaN, 0) is NaN; this kernel maps NaN to 0
  relu: { cpu: (x) => (x > 0 ? x : 0), integer: true, grad: (g, { output }) => [where(output.gt(0), g, 0)] },
  sign: { cpu: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), integer: true, grad: (g) => [g.mul(0)] }, // cpu keeps NaN and ±0
};

// ---- binary ops, with broadcasting ---------------------------------------------------------------

/** Binary ops: arithmetic (output of the inputs' dtype, with a gradient) and comparisons (bool, none). */
const ARITHMETIC_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
const COMPARISON_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export const BINARY_OPS = [...ARITHMETIC_OPS, ...COMPARISON_OPS] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
type ArithmeticOp = (typeof ARITHMETIC_OPS)[number];
type ComparisonOp = (typeof COMPARISON_OPS)[number];

export interface BinaryOpSpec {
  /** The CPU kernel: out = cpu(a, b) in float64 (comparisons give 1 or 0). */
  cpu: (a: number, b: number) => number;
  /** Defined on int32 tensors too (comparisons always are). */
  integer?: boolean;
}

export const binaryOps: Record<ArithmeticOp, BinaryOpSpec & { grad: Rule }> & Record<ComparisonOp, BinaryOpSpec> = {
  add: {
    cpu: (a, b) => a + b,
    integer: true,
    grad: binaryRule(
      (g) => g,
      (g) => g,
    ),
  },
  sub: {
    cpu: (a, b) => a - b,
    integer: true,
    grad: binaryRule(
      (g) => g,
      (g) => g.neg(),
    ),
  },
  mul: {
    cpu: (a, b) => a * b,
    integer: true,
    grad: binaryRule(
      (g, _a, b) => g.mul(b),
      (g, a) => g.mul(a),
    ),
  },
  div: {
    cpu: (a, b) => a / b,
    grad: binaryRule(
      (g, _a, b) => g.div(b),
      (g, a, b) => g.mul(a).div(b.mul(b)).neg(),
    ),
  },
  // As PyTorch: no gradient to the base where the exponent is 0, none to the exponent where the
  // base is 0 and the exponent is non-negative (0^b is flat there); elsewhere the usual formulas.
  pow: {
    cpu: Math.pow,
    integer: true,
    grad: binaryRule(
      (g, a, b) => where(b.eq(0), 0, g.mul(b).mul(a.pow(b.sub(1)))),
      (g, a, b, out) => where(a.eq(0), where(b.ge(0), 0, g.mul(out).mul(a.log())), g.mul(out).mul(a.log())),
    ),
  },
  // NaN wins, as in PyTorch; ties split the gradient half and half, as PyTorch does.
  maximum: {
    // biome-ignore lint/complexity/useMathMinMax: Math.max(0, -0) is 0; this returns b on a tie of signed zeros
    cpu: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
    integer: true,
    grad: binaryRule(
      (g, a, b) => where(a.eq(b), g.div(2), where(a.gt(b), g, 0)),
      (g, a, b) => where(a.eq(b), g.div(2), where(b.gt(a), g, 0)),
    ),
  },
  minimum: {
    // biome-ignore lint/complexity/useMathMinMax: Math.min(-0, 0) is -0; this returns b on a tie of signed zeros
    cpu: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
    integer: true,
    grad: binaryRule(
      (g, a, b) => where(a.eq(b), g.div(2), where(a.lt(b), g, 0)),
      (g, a, b) => where(a.eq(b), g.div(2), where(b.lt(a), g, 0)),
    ),
  },
  eq: { cpu: (a, b) => (a === b ? 1 : 0), integer: true },
  ne: { cpu: (a, b) => (a !== b ? 1 : 0), integer: true },
  lt: { cpu: (a, b) => (a < b ? 1 : 0), integer: true },
  le: { cpu: (a, b) => (a <= b ? 1 : 0), integer: true },
  gt: { cpu: (a, b) => (a > b ? 1 : 0), integer: true },
  ge: { cpu: (a, b) => (a >= b ? 1 : 0), integer: true },
};

/** The names the backend's `unary` and `binary` kernels take (see OpNames in engine/backend.ts). */
declare module '../../backend.ts' {
  interface OpNames {
    unary: (typeof UNARY_OPS)[number];
    binary: (typeof BINARY_OPS)[number];
  }
}

const COMPARISONS: ReadonlySet<BinaryOp> = new Set(COMPARISON_OPS);

/** Whether a binary op is a comparison (its output is bool, and it has no gradient). */
export function isComparison(op: BinaryOp): op is ComparisonOp {
  return COMPARISONS.has(op);
}

/** Gradient rules of a broadcasting binary op: d/da and d/db given as tensors of the output shape. */
function binaryRule(da: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor, db: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor): Rule {
  return (g, { inputs: [a, b], output }) => [
    a!.requiresGrad ? unbroadcast(da(g, a!, b!, output), a!.shape) : null,
    b!.requiresGrad ? unbroadcast(db(g, a!, b!, output), b!.shape) : null,
  ];
}

/** The gradient rules of the family's primitives (engine/gradients.ts gathers every family's). */
export const elementwiseRules: Record<UnaryOp | ArithmeticOp | 'where' | 'cast', Rule> = {
  ...(Object.fromEntries(UNARY_OPS.map((op) => [op, unaryOps[op].grad])) as Record<UnaryOp, Rule>),
  ...(Object.fromEntries(ARITHMETIC_OPS.map((op) => [op, binaryOps[op].grad])) as Record<ArithmeticOp, Rule>),
  where: (g, { inputs: [cond, a, b] }) => [
    null,
    a!.requiresGrad ? unbroadcast(where(cond!, g, 0), a!.shape) : null,
    b!.requiresGrad ? unbroadcast(where(cond!, 0, g), b!.shape) : null,
  ],
  cast: (g, { inputs: [x] }) => [g.cast(x!.dtype)],
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof elementwiseRules, Rule> {}
}

// ---- checks and constants shared by every family -------------------------------------------------

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
function scalarLike(like: Tensor, value: number): Tensor {
  const key = `${like.dtype}:${Object.is(value, -0) ? '-0' : value}`;
  let perBackend = scalarCache.get(like.backend);
  if (perBackend === undefined) {
    perBackend = new Map();
    scalarCache.set(like.backend, perBackend);
  }
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

// ---- the primitives ------------------------------------------------------------------------------

function unary(op: UnaryOp, x: Tensor): Tensor {
  checkNotHalf(op, x.dtype);
  if (x.dtype === 'bool' || (!isFloat(x.dtype) && !unaryOps[op].integer)) {
    throw new TypeError(`${op}: not implemented for ${x.dtype} tensors (cast to float32 first)`);
  }
  return record(op, [x], new Tensor(x.backend.unary(op, x.storage(op)), x.shape));
}

function binary(op: BinaryOp, a: Tensor, bOrNumber: Tensor | number): Tensor {
  const b = typeof bOrNumber === 'number' ? scalarLike(a, bOrNumber) : bOrNumber;
  checkSameBackend(op, a, b);
  checkSameDtype(op, a, b);
  checkNotHalf(op, a.dtype);
  if ((a.dtype === 'bool' && !(op === 'eq' || op === 'ne')) || (!isFloat(a.dtype) && !binaryOps[op].integer)) {
    throw new TypeError(`${op}: not implemented for ${a.dtype} tensors (cast to float32 first)`);
  }
  const shape = broadcastShapes(op, a.shape, b.shape);
  const storage = a.backend.binary(op, shape, a.storage(op), contiguousView(a.shape, shape), b.storage(op), contiguousView(b.shape, shape));
  const out = new Tensor(storage, shape);
  return isComparison(op) ? out : record(op, [a, b], out);
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
  checkNotHalf('where', ta.dtype);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
  const storage = ta.backend.where(
    shape,
    cond.storage('where'),
    contiguousView(cond.shape, shape),
    ta.storage('where'),
    contiguousView(ta.shape, shape),
    tb.storage('where'),
    contiguousView(tb.shape, shape),
  );
  return record('where', [cond, ta, tb], new Tensor(storage, shape));
}

/** Converts the element type; gradients flow between floating-point types only. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (!x.backend.supports(dtype)) throw new Error(`cast: the ${x.backend.name} backend does not support ${dtype} tensors`);
  const out = new Tensor(x.backend.cast(x.storage('cast'), dtype), x.shape);
  return isFloat(dtype) && isFloat(x.dtype) ? record('cast', [x], out) : out;
}

// ---- composites ----------------------------------------------------------------------------------

/** x·sigmoid(x), the activation of the SwiGLU MLP. */
export function silu(x: Tensor): Tensor {
  return x.mul(x.sigmoid());
}

/** x with `value` wherever `mask` (bool, broadcastable to x) is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, scalarLike(x, value), x);
}

// ---- Tensor methods: one per listed op, and the composites ------------------------------------

declare module '../../tensor.ts' {
  interface Tensor extends Record<UnaryOp, () => Tensor>, Record<BinaryOp, (other: Tensor | number) => Tensor> {
    silu(): Tensor;
    square(): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    cast(dtype: DType): Tensor;
  }
}

for (const op of UNARY_OPS)
  Tensor.prototype[op] = function (this: Tensor) {
    return unary(op, this);
  };
for (const op of BINARY_OPS)
  Tensor.prototype[op] = function (this: Tensor, other: Tensor | number) {
    return binary(op, this, other);
  };
Tensor.prototype.silu = function (this: Tensor) {
  return silu(this);
};
Tensor.prototype.square = function (this: Tensor) {
  return this.mul(this);
};
Tensor.prototype.maskedFill = function (this: Tensor, mask: Tensor, value: number) {
  return maskedFill(this, mask, value);
};
Tensor.prototype.cast = function (this: Tensor, dtype: DType) {
  return cast(this, dtype);
};
