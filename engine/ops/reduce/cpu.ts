import type { ReduceOp } from '../../backend.ts';
import { viewOffsets } from '../../backends/cpu/strided.ts';
import type { TypedArray } from '../../dtype.ts';
import { contiguousStrides } from '../../shape.ts';

/**
 * The reduce family's CPU kernels. Reduction over `axes` of a contiguous x: each input element is
 * sent to its output slot (the output index is the input index with reduced axes set to 0). Sums accumulate in float64 and are
 * rounded once at the end, so long float32 sums stay accurate.
 */
export function reduceKernel(op: ReduceOp, x: TypedArray, shape: readonly number[], axes: readonly number[], out: TypedArray): void {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outStrides = contiguousStrides(outShape).map((s, i) => (axes.includes(i) ? 0 : s));
  const target = viewOffsets(shape, { offset: 0, strides: outStrides });
  const acc = new Float64Array(out.length).fill(op === 'sum' ? 0 : -Infinity);
  if (op === 'sum') {
    for (let i = 0; i < x.length; i++) acc[target ? target[i]! : i] += x[i]!;
  } else {
    for (let i = 0; i < x.length; i++) {
      const o = target ? target[i]! : i;
      const v = x[i]!;
      if (v > acc[o]! || Number.isNaN(v)) acc[o] = Number.isNaN(v) || Number.isNaN(acc[o]) ? NaN : v; // NaN propagates
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i]!;
}

/** Index of the first maximum along `axis` (NaN counts as the maximum, as in PyTorch). */
export function argmaxKernel(x: TypedArray, shape: readonly number[], axis: number, out: TypedArray): void {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = 0;
      let bestValue = x[base]!;
      for (let j = 1; j < n && !Number.isNaN(bestValue); j++) {
        const v = x[base + j * inner]!;
        if (v > bestValue || Number.isNaN(v)) {
          best = j;
          bestValue = v;
        }
      }
      out[o * inner + i] = best;
    }
  }
}
