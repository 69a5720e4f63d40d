import type { View } from '../../backend.ts';

/**
 * For every index of `shape` in row-major order, the offset into storage read through `view`:
 * offsets[i] = view.offset + Σ_d idx_d(i) · view.strides[d]. Kernels then run one flat loop over i.
 * An odometer walks the indices so each step costs O(1) amortised.
 */
export function viewOffsets(shape: readonly number[], view: View): Int32Array | null {
  const rank = shape.length;
  let size = 1;
  for (const d of shape) size *= d;
  if (isContiguous(shape, view)) return null; // the common case: offsets[i] = i
  const offsets = new Int32Array(size);
  if (size === 0) return offsets;
  const index = new Array<number>(rank).fill(0);
  let offset = view.offset;
  for (let i = 0; i < size; i++) {
    offsets[i] = offset;
    // Advance the odometer: bump the last axis, carry into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      offset += view.strides[d]!;
      if (index[d]! < shape[d]!) break;
      offset -= index[d]! * view.strides[d]!;
      index[d] = 0;
    }
  }
  return offsets;
}

/** Whether reading `shape` through `view` is simply reading elements 0, 1, 2, … in order. */
export function isContiguous(shape: readonly number[], view: View): boolean {
  if (view.offset !== 0) return false;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && view.strides[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}
