import type { GraphNode } from './autograd.ts';
import { sameShape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { fullLike, where } from './ops/elementwise.ts';
import { fusedRules } from './ops/fused.ts';

/**
 * THE table of gradient rules: one entry per primitive, nothing else in the engine knows how to
 * differentiate. A rule receives `g` = d(loss)/d(output) and the node (inputs, output, attrs) and
 * returns d(loss)/d(input) for each input, in order (null for inputs with no gradient, such as
 * indices and conditions). Rules are ordinary tensor code, run with gradient recording off.
 *
 * Every op that is not in this table is a composite of these primitives.
 */
export type Primitive =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'relu' | 'sign'
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'where' | 'cast'
  | 'sum' | 'max' | 'matmul'
  | 'reshape' | 'permute' | 'expand' | 'slice' | 'pad' | 'concat'
  | 'gather' | 'scatterAdd'
  // fused (engine/ops/fused.ts): each has a fused backward kernel
  | 'softmax' | 'rmsNorm' | 'rotary' | 'siluMul' | 'crossEntropyRows' | 'attention';

type Rule = (g: Tensor, node: GraphNode) => Array<Tensor | null>;

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

/** Gradient rules of a broadcasting binary op: d/da and d/db given as tensors of the output shape. */
function binaryRule(da: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor, db: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor): Rule {
  return (g, { inputs: [a, b], output }) => [
    a!.requiresGrad ? unbroadcast(da(g, a!, b!, output), a!.shape) : null,
    b!.requiresGrad ? unbroadcast(db(g, a!, b!, output), b!.shape) : null,
  ];
}

/** Axes of a reduction's input that the (keepdim) gradient must be expanded over. */
function expandReduced(g: Tensor, node: GraphNode): Tensor {
  const input = node.inputs[0]!;
  const keptShape = input.shape.map((d, i) => (node.attrs.axes.includes(i) ? 1 : d));
  return g.reshape(keptShape).expand(input.shape);
}

export const gradientRules: Record<Primitive, Rule> = {
  // ---- unary: d/dx f(x) -----------------------------------------------------------------------
  neg: (g) => [g.neg()],
  exp: (g, { output }) => [g.mul(output)],
  log: (g, { inputs: [x] }) => [g.div(x!)],
  sqrt: (g, { output }) => [g.div(output.mul(2))],
  rsqrt: (g, { output }) => [g.mul(output.mul(output).mul(output)).mul(-0.5)],
  abs: (g, { inputs: [x] }) => [g.mul(x!.sign())],
  sin: (g, { inputs: [x] }) => [g.mul(x!.cos())],
  cos: (g, { inputs: [x] }) => [g.mul(x!.sin()).neg()],
  tanh: (g, { output }) => [g.mul(output.mul(output).neg().add(1))],
  sigmoid: (g, { output }) => [g.mul(output).mul(output.neg().add(1))],
  relu: (g, { output }) => [where(output.gt(0), g, 0)],
  sign: (g) => [g.mul(0)],

  // ---- binary, with broadcasting -------------------------------------------------------------
  add: binaryRule((g) => g, (g) => g),
  sub: binaryRule((g) => g, (g) => g.neg()),
  mul: binaryRule((g, _a, b) => g.mul(b), (g, a) => g.mul(a)),
  div: binaryRule((g, _a, b) => g.div(b), (g, a, b) => g.mul(a).div(b.mul(b)).neg()),
  // As PyTorch: no gradient to the base where the exponent is 0, none to the exponent where the
  // base is 0 and the exponent is non-negative (0^b is flat there); elsewhere the usual formulas.
  pow: binaryRule(
    (g, a, b) => where(b.eq(0), 0, g.mul(b).mul(a.pow(b.sub(1)))),
    (g, a, b, out) => where(a.eq(0), where(b.ge(0), 0, g.mul(out).mul(a.log())), g.mul(out).mul(a.log())),
  ),
  // Ties split the gradient half and half, as PyTorch does.
  maximum: binaryRule(
    (g, a, b) => where(a.eq(b), g.div(2), where(a.gt(b), g, 0)),
    (g, a, b) => where(a.eq(b), g.div(2), where(b.gt(a), g, 0)),
  ),
  minimum: binaryRule(
    (g, a, b) => where(a.eq(b), g.div(2), where(a.lt(b), g, 0)),
    (g, a, b) => where(a.eq(b), g.div(2), where(b.lt(a), g, 0)),
  ),
  where: (g, { inputs: [cond, a, b] }) => [
    null,
    a!.requiresGrad ? unbroadcast(where(cond!, g, 0), a!.shape) : null,
    b!.requiresGrad ? unbroadcast(where(cond!, 0, g), b!.shape) : null,
  ],
  cast: (g, { inputs: [x] }) => [g.cast(x!.dtype)],

  // ---- reductions ----------------------------------------------------------------------------
  sum: (g, node) => [expandReduced(g, node)],
  // amax: the gradient is shared equally among the elements equal to the maximum.
  max: (g, node) => {
    const x = node.inputs[0]!;
    const winners = x.eq(expandReduced(node.output, node)).cast(x.dtype);
    const count = winners.sum(node.attrs.axes, true);
    return [winners.mul(expandReduced(g, node)).div(count.expand(x.shape))];
  },

  // ---- matmul: C = op(A)·op(B) ---------------------------------------------------------------
  matmul: (g, { inputs: [a, b], attrs: { transA, transB } }) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a!.requiresGrad) {
      da = transA ? b!.matmul(g, { transA: transB, transB: true }) : g.matmul(b!, { transB: !transB });
      da = unbroadcast(da, a!.shape);
    }
    if (b!.requiresGrad) {
      db = transB ? g.matmul(a!, { transA: true, transB: transA }) : a!.matmul(g, { transA: !transA });
      db = unbroadcast(db, b!.shape);
    }
    return [da, db];
  },

  // ---- layout --------------------------------------------------------------------------------
  reshape: (g, { inputs: [x] }) => [g.reshape(x!.shape)],
  permute: (g, { attrs: { perm } }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p: number, i: number) => (inverse[p] = i));
    return [g.permute(inverse)];
  },
  expand: (g, { inputs: [x] }) => [unbroadcast(g, x!.shape)],
  slice: (g, { inputs: [x], attrs: { axis, start } }) => [
    g.pad(x!.shape.map((d, i) => (i === axis ? [start, d - start - g.shape[i]!] as const : [0, 0] as const))),
  ],
  pad: (g, { inputs: [x], attrs: { pads } }) => {
    let out = g;
    x!.shape.forEach((d, i) => (out = out.slice(i, pads[i][0], pads[i][0] + d)));
    return [out];
  },
  concat: (g, { inputs, attrs: { axis, sizes } }) => {
    let start = 0;
    return inputs.map((t, i) => {
      const piece = t.requiresGrad ? g.slice(axis, start, start + sizes[i]) : null;
      start += sizes[i];
      return piece;
    });
  },

  // ---- indexing ------------------------------------------------------------------------------
  gather: (g, { inputs: [x, index], attrs: { axis } }) => [fullLike(x!, 0).scatterAdd(axis, index!, g), null],
  scatterAdd: (g, { inputs: [, index], attrs: { axis } }) => [g, null, g.gather(axis, index!)],

  // ---- fused ops: one backward kernel each (the statistic a kernel saved is an extra input) ----
  // Their rules sit next to their kernels in ops/fused.ts; the arrows defer the lookup because
  // fused.ts imports autograd.ts, which imports this file (a cycle of modules).
  softmax: (g, node) => fusedRules.softmax(g, node),
  rmsNorm: (g, node) => fusedRules.rmsNorm(g, node),
  rotary: (g, node) => fusedRules.rotary(g, node),
  siluMul: (g, node) => fusedRules.siluMul(g, node),
  crossEntropyRows: (g, node) => fusedRules.crossEntropyRows(g, node),
  attention: (g, node) => fusedRules.attention(g, node),
};
