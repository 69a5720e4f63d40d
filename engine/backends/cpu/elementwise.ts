import type { BinaryOp, UnaryOp, View } from '../../backend.ts';
import type { TypedArray } from '../../dtype.ts';
import { viewOffsets } from './strided.ts';

/** Elementwise kernels: one flat loop each, reading operands through their views. */

export const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  // Written so that neither branch overflows: exp of a large positive number is never taken.
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  relu: (x) => (x > 0 ? x : 0),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), // keeps NaN and ±0
};

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  // NaN wins, as in PyTorch.
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

export function unaryKernel(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  const f = UNARY[op];
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!);
}

export function binaryKernel(op: BinaryOp, shape: readonly number[], a: TypedArray, av: View, b: TypedArray, bv: View, out: TypedArray): void {
  const f = BINARY[op];
  const oa = viewOffsets(shape, av);
  const ob = viewOffsets(shape, bv);
  for (let i = 0; i < out.length; i++) out[i] = f(a[oa ? oa[i]! : i]!, b[ob ? ob[i]! : i]!);
}

export function whereKernel(shape: readonly number[], c: TypedArray, cv: View, a: TypedArray, av: View, b: TypedArray, bv: View, out: TypedArray): void {
  const oc = viewOffsets(shape, cv);
  const oa = viewOffsets(shape, av);
  const ob = viewOffsets(shape, bv);
  for (let i = 0; i < out.length; i++) out[i] = c[oc ? oc[i]! : i] ? a[oa ? oa[i]! : i]! : b[ob ? ob[i]! : i]!;
}

export function copyKernel(shape: readonly number[], src: TypedArray, sv: View, dst: TypedArray, dv: View): void {
  const os = viewOffsets(shape, sv);
  const od = viewOffsets(shape, dv);
  let n = 1;
  for (const d of shape) n *= d;
  for (let i = 0; i < n; i++) dst[od ? od[i]! : i] = src[os ? os[i]! : i]!;
}
