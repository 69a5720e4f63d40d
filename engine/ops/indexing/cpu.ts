import { viewOffsets } from '../../backends/cpu/strided.ts';
import type { TypedArray } from '../../dtype.ts';
import { contiguousStrides } from '../../shape.ts';

/**
 * The indexing family's CPU kernels. gather / scatterAdd: for every position of the index tensor,
 * the element of x it addresses is the position itself with its `axis` coordinate replaced by the
 * index value. `slotOffsets` gives
 * that address without the axis term; the index value times the axis stride completes it.
 */
function slotOffsets(indexShape: readonly number[], shape: readonly number[], axis: number): { base: Int32Array | null; axisStride: number } {
  const strides = contiguousStrides(shape);
  const axisStride = strides[axis]!;
  return { base: viewOffsets(indexShape, { offset: 0, strides: strides.map((s, i) => (i === axis ? 0 : s)) }), axisStride };
}

function checkRange(op: string, value: number, axis: number, size: number): void {
  if (value < 0 || value >= size) throw new RangeError(`${op}: index ${value} is out of bounds for dimension ${axis} with size ${size}`);
}

/** With `table`, x holds 16-bit patterns (a bfloat16 / float16 embedding) widened through it. */
export function gatherKernel(
  x: TypedArray,
  shape: readonly number[],
  axis: number,
  index: TypedArray,
  indexShape: readonly number[],
  out: TypedArray,
  table: Float32Array | null = null,
): void {
  const { base, axisStride } = slotOffsets(indexShape, shape, axis);
  for (let i = 0; i < index.length; i++) {
    const v = index[i]!;
    checkRange('gather', v, axis, shape[axis]!);
    const e = x[(base ? base[i]! : i) + v * axisStride]!;
    out[i] = table === null ? e : table[e]!;
  }
}

export function scatterAddKernel(
  out: TypedArray,
  shape: readonly number[],
  axis: number,
  index: TypedArray,
  src: TypedArray,
  indexShape: readonly number[],
): void {
  const { base, axisStride } = slotOffsets(indexShape, shape, axis);
  for (let i = 0; i < index.length; i++) {
    const v = index[i]!;
    checkRange('scatterAdd', v, axis, shape[axis]!);
    out[(base ? base[i]! : i) + v * axisStride]! += src[i]!;
  }
}

/** Per row, the k largest values in descending order; ties keep the lower index first. */
export function topkKernel(x: TypedArray, rows: number, cols: number, k: number, values: TypedArray, indices: TypedArray): void {
  const order = new Array<number>(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) order[c] = c;
    const row = r * cols;
    order.sort((p, q) => {
      const a = x[row + p]!;
      const b = x[row + q]!;
      if (Number.isNaN(a)) return Number.isNaN(b) ? p - q : -1; // NaN ranks highest, as in PyTorch
      if (Number.isNaN(b)) return 1;
      return b - a || p - q;
    });
    for (let j = 0; j < k; j++) {
      values[r * k + j] = x[row + order[j]!]!;
      indices[r * k + j] = order[j]!;
    }
  }
}
