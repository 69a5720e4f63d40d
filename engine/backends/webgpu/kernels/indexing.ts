import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { contiguousStrides, MAX_RANK, stridedParams } from '../strided.ts';
import { isHalf } from '../../../dtype.ts';
import { halfDefines, lowest, wgslType } from './types.ts';

/** Kernels that pick elements by position: argmax, topk, gather, scatterAdd. */

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function checkRank(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_RANK) {
    throw new Error(`webgpu: ${op}: rank ${shape.length} exceeds the WebGPU backend's maximum of ${MAX_RANK}`);
  }
}

/** x contiguous `shape` → int32 index of the first maximum along `axis`, `axis` kept as size 1. */
export function argmax(ctx: GpuContext, x: GpuStorage, shape: readonly number[], axis: number): GpuStorage {
  const outer = product(shape.slice(0, axis));
  const len = shape[axis];
  const inner = product(shape.slice(axis + 1));
  const out = ctx.storage('int32', outer * inner);
  if (outer * inner === 0 || len === 0) return out;
  const kernel = { file: 'argmax.wgsl', defines: { ELEM: wgslType(x.dtype) } };
  const p = new Params(4)
    .set(0, outer * inner)
    .set(1, len)
    .set(2, inner);
  ctx.run('argmax', kernel, p, [x, out], ctx.grid1D(outer * inner));
  return out;
}

/** x [rows, cols] → values [rows, k] (descending, ties lower index first) and int32 indices. */
export function topk(ctx: GpuContext, x: GpuStorage, rows: number, cols: number, k: number): { values: GpuStorage; indices: GpuStorage } {
  const values = ctx.storage(x.dtype, rows * k);
  const indices = ctx.storage('int32', rows * k);
  if (rows * k === 0) return { values, indices };
  const type = wgslType(x.dtype);
  const kernel = { file: 'topk.wgsl', defines: { ELEM: type, LOWEST: lowest(type) } };
  ctx.run('topk', kernel, new Params(4).set(0, rows).set(1, cols).set(2, k), [x, values, indices], ctx.grid1D(rows));
  return { values, indices };
}

/** torch.gather; out has `indexShape` and x's dtype (float32 for a 16-bit x, widened as it is read). */
export function gather(ctx: GpuContext, x: GpuStorage, shape: readonly number[], axis: number, index: GpuStorage, indexShape: readonly number[]): GpuStorage {
  checkRank('gather', indexShape);
  const size = product(indexShape);
  const out = ctx.storage(isHalf(x.dtype) ? 'float32' : x.dtype, size);
  if (size === 0) return out;
  const xStrides = contiguousStrides(shape);
  const p = new Params(24)
    .set(0, size)
    .set(1, indexShape.length)
    .set(2, xStrides[axis])
    .setArray(8, indexShape)
    .setArray(
      16,
      xStrides.map((s, d) => (d === axis ? 0 : s)),
    );
  ctx.run('gather', { file: 'gather.wgsl', defines: halfDefines('X_HALF', x.dtype) }, p, [x, index, out], ctx.grid1D(size));
  return out;
}

/** torch.scatter_add into a copy of base (`shape`); index and src are contiguous `indexShape`. */
export function scatterAdd(
  ctx: GpuContext,
  base: GpuStorage,
  shape: readonly number[],
  axis: number,
  index: GpuStorage,
  src: GpuStorage,
  indexShape: readonly number[],
): GpuStorage {
  if (base.dtype === 'bool') throw new Error('webgpu: scatterAdd is not defined on bool');
  checkRank('scatterAdd', indexShape);
  const out = ctx.storage(base.dtype, base.size);
  if (base.size === 0) return out;
  const whole = { offset: 0, strides: [1] };
  // The copy of base and the scatter are recorded in order, so the scatter sees the copy.
  const copyParams = stridedParams('scatterAdd', [base.size], [whole, whole]);
  ctx.run('scatterAdd (copy base)', { file: 'copy.wgsl' }, copyParams, [base, out], ctx.grid1D(base.size));

  const len = indexShape[axis];
  const columns = len === 0 ? 0 : product(indexShape) / len;
  if (columns === 0) return out;
  const indexStrides = contiguousStrides(indexShape);
  const outStrides = contiguousStrides(shape);
  const p = new Params(32)
    .set(0, columns)
    .set(1, indexShape.length)
    .set(2, len)
    .set(3, indexStrides[axis])
    .set(4, outStrides[axis])
    .setArray(
      8,
      indexShape.map((n, d) => (d === axis ? 1 : n)),
    )
    .setArray(16, indexStrides)
    .setArray(24, outStrides);
  const kernel = { file: 'scatter_add.wgsl', defines: { ELEM: wgslType(base.dtype) } };
  ctx.run('scatterAdd', kernel, p, [index, src, out], ctx.grid1D(columns));
  return out;
}
