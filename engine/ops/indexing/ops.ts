import { record, type Rule } from '../../graph.ts';
import { formatShape, normalizeAxis, ShapeError } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { arange } from '../creation.ts';
import { checkSameBackend, checkSameDtype, fullLike, where } from '../elementwise/ops.ts';

/**
 * The indexing family, with PyTorch's semantics. The primitives are `gather` and `scatterAdd`
 * (CPU kernels: cpu.ts), each the other's gradient; `indexSelect` (embedding lookup), `scatter` (splicing vectors into a sequence)
 * and `oneHot` are built from them. Indices are int32 tensors and must be in range: the CPU backend
 * checks and throws; the WebGPU backend cannot check without a read-back and leaves the result of an
 * out-of-range index undefined.
 */

function checkIndex(op: string, x: Tensor, axis: number, index: Tensor): number {
  checkSameBackend(op, x, index);
  if (index.dtype !== 'int32') throw new TypeError(`${op}: Expected dtype int32 for index, got ${index.dtype}`);
  const a = normalizeAxis(op, axis, x.rank);
  if (index.rank !== x.rank)
    throw new ShapeError(
      `${op}: Index tensor must have the same number of dimensions as input tensor (index ${formatShape(index.shape)}, input ${formatShape(x.shape)})`,
    );
  index.shape.forEach((d, i) => {
    if (i !== a && d > x.shape[i]!) {
      throw new ShapeError(
        `${op}: Size does not match at dimension ${i} expected index ${formatShape(index.shape)} to be smaller than self ${formatShape(x.shape)} apart from dimension ${a}`,
      );
    }
  });
  return a;
}

/**
 * out[i][j] = x[index[i][j]][j] (axis 0), and so on: torch.gather. Out has index's shape, and x's
 * dtype, or float32 when x is a frozen 16-bit table (a bfloat16 embedding, engine/dtype.ts), whose
 * elements the kernels widen as they read them.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = checkIndex('gather', x, axis, index);
  const storage = x.backend.gather(x.storage('gather'), x.shape, a, index.storage('gather'), index.shape);
  return record('gather', [x, index], new Tensor(storage, index.shape), { axis: a });
}

/** base with src added at the positions index names along `axis`: torch.scatter_add. */
export function scatterAdd(base: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const a = checkIndex('scatterAdd', base, axis, index);
  checkSameBackend('scatterAdd', base, src);
  checkSameDtype('scatterAdd', base, src);
  if (src.rank !== index.rank || src.shape.some((d, i) => d !== index.shape[i])) {
    throw new ShapeError(`scatterAdd: src ${formatShape(src.shape)} must have the shape of index ${formatShape(index.shape)}`);
  }
  const storage = base.backend.scatterAdd(base.storage('scatterAdd'), base.shape, a, index.storage('scatterAdd'), src.storage('scatterAdd'), index.shape);
  return record('scatterAdd', [base, index, src], new Tensor(storage, base.shape), { axis: a });
}

/**
 * base with the positions index names overwritten by src (torch.scatter, indices unique).
 * Gradients: base receives them where it was not overwritten; src receives the rest.
 */
export function scatter(base: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const written = scatterAdd(fullLike(base, 0), axis, index, fullLike(src, 1)).gt(0);
  return where(written, scatterAdd(fullLike(base, 0), axis, index, src), base);
}

/** Slices of x at positions `index` (1-D int32) along `axis`: torch.index_select (embedding lookup). */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = normalizeAxis('indexSelect', axis, x.rank);
  if (index.rank !== 1) throw new ShapeError(`indexSelect: Index is supposed to be a vector, got shape ${formatShape(index.shape)}`);
  const shape = x.shape.map((d, i) => (i === a ? index.shape[0]! : d));
  const along = x.shape.map((_, i) => (i === a ? index.shape[0]! : 1));
  return gather(x, a, index.reshape(along).expand(shape));
}

/** int32 one-hot rows: out[..., c] = 1 where c = indices[...]. */
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  if (indices.dtype !== 'int32') throw new TypeError(`oneHot: one_hot is only applicable to index tensor (int32), got ${indices.dtype}`);
  const classes = arange(numClasses, { backend: indices.backend });
  return indices.unsqueeze(-1).eq(classes).cast('int32');
}

/** The k largest entries along the last axis, descending (ties: lower index first). No gradient. */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  if (x.rank === 0) throw new ShapeError('topk: expected a tensor with at least one dimension');
  const cols = x.shape[x.rank - 1]!;
  if (!Number.isInteger(k) || k < 0 || k > cols) throw new ShapeError(`topk: selected index k out of range (k=${k}, size ${cols})`);
  const rows = x.size / Math.max(cols, 1);
  const { values, indices } = x.backend.topk(x.storage('topk'), rows, cols, k);
  const shape = [...x.shape.slice(0, -1), k];
  return { values: new Tensor(values, shape), indices: new Tensor(indices, shape) };
}

/** The gradient rules of the family's primitives (engine/gradients.ts gathers every family's). */
export const indexingRules: Record<'gather' | 'scatterAdd', Rule> = {
  gather: (g, { inputs: [x, index], attrs: { axis } }) => [fullLike(x!, 0).scatterAdd(axis, index!, g), null],
  scatterAdd: (g, { inputs: [, index], attrs: { axis } }) => [g, null, g.gather(axis, index!)],
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof indexingRules, Rule> {}
}

declare module '../../tensor.ts' {
  interface Tensor {
    gather(axis: number, index: Tensor): Tensor;
    scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor;
    scatter(axis: number, index: Tensor, src: Tensor): Tensor;
    indexSelect(axis: number, index: Tensor): Tensor;
  }
}

Tensor.prototype.gather = function (this: Tensor, axis: number, index: Tensor) {
  return gather(this, axis, index);
};
Tensor.prototype.scatterAdd = function (this: Tensor, axis: number, index: Tensor, src: Tensor) {
  return scatterAdd(this, axis, index, src);
};
Tensor.prototype.scatter = function (this: Tensor, axis: number, index: Tensor, src: Tensor) {
  return scatter(this, axis, index, src);
};
Tensor.prototype.indexSelect = function (this: Tensor, axis: number, index: Tensor) {
  return indexSelect(this, axis, index);
};
