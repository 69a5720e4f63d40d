import type { View } from '../../backend.ts';
import { Params } from './params.ts';

/** Highest rank the view-reading kernels accept, after merging dimensions (shaders/strided.wgsl). */
export const MAX_RANK = 8;

/**
 * Merges dimensions so kernels decode as few indices as possible: size-1 dimensions go away, and
 * a dimension merges into the next one when every view steps over the next one exactly
 * (stride[d] = stride[d+1]·shape[d+1]). A contiguous operand on any shape becomes rank 1.
 *
 *   shape [2, 3, 4], strides [[12, 4, 1], [0, 0, 1]] → shape [6, 4], strides [[4, 1], [0, 1]]
 */
export function mergeDims(shape: readonly number[], strides: readonly (readonly number[])[]):
  { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => { outStrides[k][last] = s[d]; });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * The uniform block of shaders/strided.wgsl for up to three views over `shape`; a missing view
 * is read as contiguous. Throws when the merged rank is above MAX_RANK.
 */
export function stridedParams(op: string, shape: readonly number[], views: readonly View[]): Params {
  const size = shape.reduce((a, b) => a * b, 1);
  const merged = mergeDims(shape, views.map((v) => v.strides));
  if (merged.shape.length > MAX_RANK) {
    throw new Error(`webgpu: ${op}: rank ${merged.shape.length} (after merging contiguous dimensions) ` +
      `exceeds the WebGPU backend's maximum of ${MAX_RANK}`);
  }
  const p = new Params(40).set(0, size).set(1, merged.shape.length);
  views.forEach((v, k) => p.set(2 + k, v.offset));
  p.setArray(8, merged.shape);
  merged.strides.forEach((s, k) => p.setArray(16 + 8 * k, s));
  return p;
}

/** Row-major strides of a contiguous `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}
