import type { View } from '../../backend.ts';
import { RowWalker } from '../../backends/cpu/strided.ts';
import type { TypedArray } from '../../dtype.ts';
import { binaryOps, unaryOps, type BinaryOp, type UnaryOp } from './ops.ts';

/**
 * The elementwise family's CPU kernels: one flat loop each, reading operands through their views;
 * the arithmetic of each op is its `cpu` entry in the op lists (ops.ts).
 */

export function unaryKernel(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  const f = unaryOps[op].cpu;
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
      const f = binaryOps[op].cpu;
      for (let i = 0, ia = av.offset, ib = bv.offset; i < out.length; i++, ia += aStep, ib += bStep) out[i] = f(a[ia]!, b[ib]!);
    }
    return;
  }
  const f = binaryOps[op].cpu;
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
  add: (a, ia, as, b, ib, bs, out, n) => {
    for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! + b[ib]!;
  },
  sub: (a, ia, as, b, ib, bs, out, n) => {
    for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! - b[ib]!;
  },
  mul: (a, ia, as, b, ib, bs, out, n) => {
    for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! * b[ib]!;
  },
  div: (a, ia, as, b, ib, bs, out, n) => {
    for (let i = 0; i < n; i++, ia += as, ib += bs) out[i] = a[ia]! / b[ib]!;
  },
};

export function whereKernel(shape: readonly number[], c: TypedArray, cv: View, a: TypedArray, av: View, b: TypedArray, bv: View, out: TypedArray): void {
  const w = new RowWalker(shape, [cv, av, bv]);
  const [sc, sa, sb] = w.steps as [number, number, number];
  for (let r = 0, i = 0; r < w.rows; r++, w.next()) {
    let ic = w.offsets[0]!,
      ia = w.offsets[1]!,
      ib = w.offsets[2]!;
    for (let j = 0; j < w.len; j++, ic += sc, ia += sa, ib += sb) out[i++] = c[ic] ? a[ia]! : b[ib]!;
  }
}
