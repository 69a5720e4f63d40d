import type { View } from '../../backend.ts';
import { checkNotHalf } from '../../dtype.ts';
import { record, type Rule } from '../../graph.ts';
import { broadcastStrides, contiguousStrides, formatShape, normalizeAxis, numel, sameShape, ShapeError } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { checkSameBackend, checkSameDtype, fullLike } from '../elementwise/ops.ts';
import { unbroadcast } from '../reduce/ops.ts';

/** A tensor of `shape` whose contents are undefined (no zero fill): only for outputs written in full. */
function emptyLike(like: Tensor, shape: readonly number[]): Tensor {
  // Every copying primitive allocates its output here: 16-bit storage is moved by no kernel.
  checkNotHalf('copy', like.dtype);
  const b = like.backend;
  const n = numel(shape);
  return new Tensor(b.allocEmpty ? b.allocEmpty(like.dtype, n) : b.alloc(like.dtype, n), shape);
}

/**
 * The movement family: layout ops. `reshape` shares storage; `permute`, `expand`, `slice`, `pad`
 * and `concat` are each one strided copy on the backend (`Backend.copy`; CPU: cpu.ts), and are the
 * recorded primitives. `transpose`, `unsqueeze`, `squeeze`, `split` and `stack` are built from them.
 */

const CONTIGUOUS = (shape: readonly number[]): View => ({ offset: 0, strides: contiguousStrides(shape) });

/** Copies x read through `view` into a fresh contiguous tensor of `shape`. */
function stridedCopy(x: Tensor, shape: readonly number[], view: View, op: string): Tensor {
  const out = emptyLike(x, shape); // the copy writes every element
  x.backend.copy(shape, x.storage(op), view, out.storage(op), CONTIGUOUS(shape));
  return out;
}

export function reshape(x: Tensor, shapeArg: readonly number[]): Tensor {
  const inferred = shapeArg.indexOf(-1);
  const shape = [...shapeArg];
  if (inferred >= 0) {
    const known = numel(shape.filter((_, i) => i !== inferred));
    if (shape.indexOf(-1, inferred + 1) >= 0 || known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: shape '${formatShape(shapeArg)}' is invalid for input of size ${x.size}`);
    }
    shape[inferred] = x.size / known;
  }
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || numel(shape) !== x.size) {
    throw new ShapeError(`reshape: shape '${formatShape(shapeArg)}' is invalid for input of size ${x.size}`);
  }
  if (sameShape(shape, x.shape)) return x;
  return record('reshape', [x], x.withShape(shape));
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) return x;
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) {
    throw new ShapeError(
      `permute: number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = ${x.rank} is not equal to len(dims) = ${dims.length}`,
    );
  }
  const perm = dims.map((d) => normalizeAxis('permute', d, x.rank));
  if (new Set(perm).size !== perm.length) throw new ShapeError(`permute: repeated dim in [${dims.join(', ')}]`);
  if (perm.every((d, i) => d === i)) return x;
  const shape = perm.map((d) => x.shape[d]!);
  // Moving only size-1 axes (e.g. [B, 1, H, D] → [B, H, 1, D] in a decode step) leaves every element
  // where it was: a reshape, which shares storage, instead of a copy.
  const moved = perm.filter((d) => x.shape[d] !== 1);
  if (moved.every((d, i) => i === 0 || moved[i - 1]! < d)) return reshape(x, shape);
  const strides = contiguousStrides(x.shape);
  const out = stridedCopy(x, shape, { offset: 0, strides: perm.map((d) => strides[d]!) }, 'permute');
  return record('permute', [x], out, { perm });
}

export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const a = normalizeAxis('transpose', d0, x.rank);
  const b = normalizeAxis('transpose', d1, x.rank);
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Repeats size-1 axes (and adds leading axes) to reach `shape`; −1 keeps a size. */
export function expand(x: Tensor, shapeArg: readonly number[]): Tensor {
  if (shapeArg.length < x.rank) {
    throw new ShapeError(
      `expand: the number of sizes provided (${shapeArg.length}) must be greater or equal to the number of dimensions in the tensor (${x.rank})`,
    );
  }
  const lead = shapeArg.length - x.rank;
  const shape = shapeArg.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  x.shape.forEach((d, i) => {
    const target = shape[i + lead]!;
    if (d !== target && d !== 1) {
      throw new ShapeError(
        `expand: The expanded size of the tensor (${target}) must match the existing size (${d}) at non-singleton dimension ${i + lead}.  Target sizes: ${formatShape(shapeArg)}.  Tensor sizes: ${formatShape(x.shape)}`,
      );
    }
  });
  if (sameShape(shape, x.shape)) return x;
  const out = stridedCopy(x, shape, { offset: 0, strides: broadcastStrides(x.shape, shape) }, 'expand');
  return record('expand', [x], out);
}

/** Elements start ≤ i < end along `axis` (negative values count from the end; clamped like Python). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normalizeAxis('slice', axis, x.rank);
  const size = x.shape[a]!;
  const clamp = (i: number): number => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clamp(start);
  const e = Math.max(s, clamp(end ?? size));
  if (s === 0 && e === size) return x;
  const shape = x.shape.map((d, i) => (i === a ? e - s : d));
  const strides = contiguousStrides(x.shape);
  const out = stridedCopy(x, shape, { offset: s * strides[a]!, strides }, 'slice');
  return record('slice', [x], out, { axis: a, start: s });
}

/** Splits into pieces of `sizes` along `axis` (a number: equal pieces of that size, the last smaller). */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis('split', axis, x.rank);
  const total = x.shape[a]!;
  let list: number[];
  if (typeof sizes === 'number') {
    if (sizes <= 0) throw new ShapeError(`split: split_size can only be 0 if dimension size is 0, but got split_size=${sizes}`);
    list = [];
    for (let i = 0; i < total; i += sizes) list.push(Math.min(sizes, total - i));
  } else {
    list = [...sizes];
    const sum = list.reduce((s, v) => s + v, 0);
    if (sum !== total)
      throw new ShapeError(
        `split: split_with_sizes expects split_sizes to sum exactly to ${total} (input tensor's size at dimension ${a}), but got split_sizes=[${list.join(', ')}]`,
      );
  }
  let start = 0;
  return list.map((n) => {
    const piece = slice(x, a, start, start + n);
    start += n;
    return piece;
  });
}

/** Pads with `value`; `pads` holds one [before, after] pair per axis, from the first axis. */
export function pad(x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor {
  if (pads.length !== x.rank) throw new ShapeError(`pad: expected one [before, after] pair per dimension (${x.rank}), got ${pads.length}`);
  if (pads.some(([b, e]) => !Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0)) {
    throw new ShapeError(`pad: padding sizes must be non-negative integers, got ${JSON.stringify(pads)}`);
  }
  if (pads.every(([b, e]) => b === 0 && e === 0)) return x;
  const shape = x.shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
  const out = fullLike(x, value, shape);
  const outStrides = contiguousStrides(shape);
  const offset = pads.reduce((o, [before], i) => o + before * outStrides[i]!, 0);
  x.backend.copy(x.shape, x.storage('pad'), CONTIGUOUS(x.shape), out.storage('pad'), { offset, strides: outStrides });
  return record('pad', [x], out, { pads });
}

/** Joins tensors of equal shape except along `axis`. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('concat: expected a non-empty list of Tensors');
  const first = tensors[0]!;
  const a = normalizeAxis('concat', axis, first.rank);
  tensors.forEach((t, i) => {
    checkSameBackend('concat', first, t);
    checkSameDtype('concat', first, t);
    const mismatch = t.rank !== first.rank ? 0 : t.shape.findIndex((d, j) => j !== a && d !== first.shape[j]);
    if (t.rank !== first.rank || mismatch >= 0) {
      throw new ShapeError(
        `concat: Sizes of tensors must match except in dimension ${a}. Expected ${formatShape(first.shape)} but got ${formatShape(t.shape)} for tensor number ${i} in the list`,
      );
    }
  });
  if (tensors.length === 1) return first;
  const shape = first.shape.map((d, j) => (j === a ? tensors.reduce((s, t) => s + t.shape[a]!, 0) : d));
  const out = emptyLike(first, shape); // the pieces cover every element
  const outStrides = contiguousStrides(shape);
  let start = 0;
  for (const t of tensors) {
    t.backend.copy(t.shape, t.storage('concat'), CONTIGUOUS(t.shape), out.storage('concat'), { offset: start * outStrides[a]!, strides: outStrides });
    start += t.shape[a]!;
  }
  return record('concat', [...tensors], out, { axis: a, sizes: tensors.map((t) => t.shape[a]!) });
}

/** Joins tensors of equal shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ShapeError('stack: expects a non-empty TensorList');
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    if (!sameShape(t.shape, first.shape))
      throw new ShapeError(
        `stack: expects each tensor to be equal size, but got ${formatShape(first.shape)} at entry 0 and ${formatShape(t.shape)} at entry ${i}`,
      );
  });
  const a = normalizeAxis('stack', axis, first.rank + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** The gradient rules of the family's primitives (engine/gradients.ts gathers every family's). */
export const movementRules: Record<'reshape' | 'permute' | 'expand' | 'slice' | 'pad' | 'concat', Rule> = {
  reshape: (g, { inputs: [x] }) => [g.reshape(x!.shape)],
  permute: (g, { attrs: { perm } }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p: number, i: number) => {
      inverse[p] = i;
    });
    return [g.permute(inverse)];
  },
  expand: (g, { inputs: [x] }) => [unbroadcast(g, x!.shape)],
  slice: (g, { inputs: [x], attrs: { axis, start } }) => [
    g.pad(x!.shape.map((d, i) => (i === axis ? ([start, d - start - g.shape[i]!] as const) : ([0, 0] as const)))),
  ],
  pad: (g, { inputs: [x], attrs: { pads } }) => {
    let out = g;
    x!.shape.forEach((d, i) => {
      out = out.slice(i, pads[i][0], pads[i][0] + d);
    });
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
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof movementRules, Rule> {}
}

declare module '../../tensor.ts' {
  interface Tensor {
    reshape(shape: readonly number[]): Tensor;
    flatten(): Tensor;
    unsqueeze(axis: number): Tensor;
    squeeze(axis: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(d0: number, d1: number): Tensor;
    expand(shape: readonly number[]): Tensor;
    slice(axis: number, start: number, end?: number): Tensor;
    split(sizes: number | number[], axis?: number): Tensor[];
    pad(pads: ReadonlyArray<readonly [number, number]>, value?: number): Tensor;
  }
}

Tensor.prototype.reshape = function (this: Tensor, shape: readonly number[]) {
  return reshape(this, shape);
};
Tensor.prototype.flatten = function (this: Tensor) {
  return reshape(this, [this.size]);
};
Tensor.prototype.unsqueeze = function (this: Tensor, axis: number) {
  return unsqueeze(this, axis);
};
Tensor.prototype.squeeze = function (this: Tensor, axis: number) {
  return squeeze(this, axis);
};
Tensor.prototype.permute = function (this: Tensor, dims: readonly number[]) {
  return permute(this, dims);
};
Tensor.prototype.transpose = function (this: Tensor, d0: number, d1: number) {
  return transpose(this, d0, d1);
};
Tensor.prototype.expand = function (this: Tensor, shape: readonly number[]) {
  return expand(this, shape);
};
Tensor.prototype.slice = function (this: Tensor, axis: number, start: number, end?: number) {
  return slice(this, axis, start, end);
};
Tensor.prototype.split = function (this: Tensor, sizes: number | number[], axis = 0) {
  return split(this, sizes, axis);
};
Tensor.prototype.pad = function (this: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0) {
  return pad(this, pads, value);
};
