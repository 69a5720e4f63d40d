import type { BinaryOp, UnaryOp, View } from '../../backend.ts';
import type { TypedArray } from '../../dtype.ts';
import { RowWalker } from './strided.ts';

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
  // Fast path: each operand either contiguous (step 1) or one repeated element (step 0), the
  // usual case (x + y, x · 0.5): no offset arrays, and the four arithmetic ops written inline.
  const aStep = flatStep(shape, av);
  const bStep = flatStep(shape, bv);
  if (aStep >= 0 && bStep >= 0) {
    const loop = FLAT_LOOPS[op];
    if (loop) loop(a, av.offset, aStep, b, bv.offset, bStep, out, out.length);
    else {
      const f = BINARY[op];
      for (let i = 0, ia = av.offset, ib = bv.offset; i < out.length; i++, ia += aStep, ib += bStep) out[i] = f(a[ia]!, b[ib]!);
    }
    return;
  }
  const f = BINARY[op];
  const w = new RowWalker(shape, [av, bv]);
  const [sa, sb] = w.steps as [number, number];
  for (let r = 0, i = 0; r < w.rows; r++, w.next()) {
    for (let j = 0, ia = w.offsets[0]!, ib = w.offsets[1]!; j < w.len; j++, ia += sa, ib += sb) out[i++] = f(a[ia]!, b[ib]!);
  }
}

/**
 * 1 when reading `shape` through `view` visits offset, offset + 1, … (contiguous from its offset),
 * 0 when it reads one element over and over (a broadcast scalar), −1 otherwise.
 */
function flatStep(shape: readonly number[], view: View): number {
  let scalar = true;
  let contiguous = true;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    const s = view.strides[d];
    if (s !== 0) scalar = false;
    if (s !== expected) contiguous = false;
    expected *= shape[d]!;
  }
  return scalar ? 0 : contiguous ? 1 : -1;
}

type FlatLoop = (a: TypedArray, ia: number, aStep: number, b: TypedArray, ib: number, bStep: number, out: TypedArray, n: number) => void;

/** out[i] = a[ia + i·aStep] ∘ b[ib + i·bStep] for the arithmetic ops (steps 0 or 1). */
const FLAT_LOOPS: Partial<Record<BinaryOp, FlatLoop>> = {
  add: (a, ia, as, b, ib, bs, out, n) => { for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! + b[ib]!; },
  sub: (a, ia, as, b, ib, bs, out, n) => { for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! - b[ib]!; },
  mul: (a, ia, as, b, ib, bs, out, n) => { for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! * b[ib]!; },
  div: (a, ia, as, b, ib, bs, out, n) => { for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! / b[ib]!; },
};

export function whereKernel(shape: readonly number[], c: TypedArray, cv: View, a: TypedArray, av: View, b: TypedArray, bv: View, out: TypedArray): void {
  const w = new RowWalker(shape, [cv, av, bv]);
  const [sc, sa, sb] = w.steps as [number, number, number];
  for (let r = 0, i = 0; r < w.rows; r++, w.next()) {
    let ic = w.offsets[0]!, ia = w.offsets[1]!, ib = w.offsets[2]!;
    for (let j = 0; j < w.len; j++, ic += sc, ia += sa, ib += sb) out[i++] = c[ic] ? a[ia]! : b[ib]!;
  }
}

export function copyKernel(shape: readonly number[], src: TypedArray, sv: View, dst: TypedArray, dv: View): void {
  const w = new RowWalker(shape, [sv, dv]);
  const [ss, ds] = w.steps as [number, number];
  for (let r = 0; r < w.rows; r++, w.next()) {
    let is = w.offsets[0]!, id = w.offsets[1]!;
    if (ss === 1 && ds === 1 && w.len >= 16) dst.set(src.subarray(is, is + w.len), id);
    else for (let j = 0; j < w.len; j++, is += ss, id += ds) dst[id] = src[is]!;
  }
}
