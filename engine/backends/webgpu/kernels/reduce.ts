import type { ReduceOp } from '../../../backend.ts';
import type { DType } from '../../../dtype.ts';
import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { contiguousStrides, MAX_RANK, mergeDims } from '../strided.ts';
import { lowest, wgslType } from './types.ts';

/** Below this many outputs, a long reduction is split into chunks (see shaders/reduce.wgsl). */
const FEW_OUTPUTS = 4096;

/**
 * x is contiguous `shape`; the result keeps reduced axes as size 1 ([...shape] with 1 at `axes`).
 * sum of bool/int32 gives int32, max keeps the dtype.
 */
export function reduce(ctx: GpuContext, op: ReduceOp, x: GpuStorage, shape: readonly number[], axes: readonly number[]): GpuStorage {
  const outDtype: DType = op === 'sum' && x.dtype !== 'float32' ? 'int32' : x.dtype;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + shape.length : a)));
  const strides = contiguousStrides(shape);
  const pick = (keep: boolean) => {
    const dims = shape.map((_, d) => d).filter((d) => reduced.has(d) !== keep);
    return mergeDims(
      dims.map((d) => shape[d]),
      [dims.map((d) => strides[d])],
    );
  };
  const kept = pick(true);
  const red = pick(false);
  const outputs = kept.shape.reduce((a, b) => a * b, 1);
  const count = red.shape.reduce((a, b) => a * b, 1);
  const out = ctx.storage(outDtype, outputs);
  if (outputs === 0) return out;
  if (kept.shape.length > MAX_RANK || red.shape.length > MAX_RANK) {
    throw new Error(`webgpu: reduce: rank above ${MAX_RANK} after merging dimensions`);
  }

  let chunks = 1;
  if (outputs < FEW_OUTPUTS && count >= 1024) {
    chunks = Math.min(Math.ceil(count / 256), Math.ceil(FEW_OUTPUTS / outputs));
  }
  const chunkLen = Math.ceil(count / chunks);
  chunks = Math.ceil(count / chunkLen);

  const acc = wgslType(outDtype);
  const pass = (
    input: GpuStorage,
    target: GpuStorage,
    keptShape: number[],
    keptStride: number[],
    redShape: number[],
    redStride: number[],
    nChunks: number,
    len: number,
  ) => {
    const inner = redShape.length - 1;
    const p = new Params(40)
      .set(0, outputs * nChunks)
      .set(1, nChunks)
      .set(2, len)
      .set(
        3,
        redShape.reduce((a, b) => a * b, 1),
      )
      .set(4, inner >= 0 ? redShape[inner] : 1)
      .set(5, inner >= 0 ? redStride[inner] : 0)
      .set(6, keptShape.length)
      .set(7, Math.max(inner, 0))
      .setArray(8, keptShape)
      .setArray(16, keptStride)
      .setArray(24, redShape.slice(0, Math.max(inner, 0)))
      .setArray(32, redStride.slice(0, Math.max(inner, 0)));
    const kernel = {
      file: 'reduce.wgsl',
      defines: { ELEM: wgslType(input.dtype), ACC: acc, LOWEST: lowest(acc), OP: `op_${op}`, START: `start_${op}` },
    };
    ctx.run(`reduce ${op}`, kernel, p, [input, target], ctx.grid1D(outputs * nChunks));
  };

  if (chunks === 1) {
    pass(x, out, kept.shape, kept.strides[0], red.shape, red.strides[0], 1, Math.max(count, 1));
  } else {
    // Pass 1: partial results as [outputs, chunks]; pass 2 reduces each row of partials.
    const partial = ctx.storage(outDtype, outputs * chunks);
    pass(x, partial, kept.shape, kept.strides[0], red.shape, red.strides[0], chunks, chunkLen);
    pass(partial, out, [outputs], [chunks], [chunks], [1], 1, chunks);
    ctx.release(partial);
  }
  return out;
}
