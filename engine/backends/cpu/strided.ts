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
function isContiguous(shape: readonly number[], view: View): boolean {
  if (view.offset !== 0) return false;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && view.strides[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/**
 * Walks `shape` one row (its last axis) at a time for several views at once, without an offset
 * per element: `offsets[v]` is where view v's current row starts, `steps[v]` its stride along
 * the row. Kernels loop
 *
 *   for (let r = 0; r < w.rows; r++, w.next()) for (let j = 0; j < w.len; j++) …offsets[v] + j·steps[v]…
 */
export class RowWalker {
  readonly rows: number;
  readonly len: number;
  readonly steps: number[];
  readonly offsets: number[];
  private readonly index: number[];

  constructor(
    private readonly shape: readonly number[],
    private readonly views: readonly View[],
  ) {
    const rank = shape.length;
    this.len = rank === 0 ? 1 : shape[rank - 1]!;
    let size = 1;
    for (const d of shape) size *= d;
    this.rows = this.len === 0 ? 0 : size / this.len;
    this.steps = views.map((v) => (rank === 0 ? 0 : v.strides[rank - 1]!));
    this.offsets = views.map((v) => v.offset);
    this.index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  }

  /** Moves every offset to the start of the next row (an odometer over the outer axes). */
  next(): void {
    const { shape, views, offsets, index } = this;
    for (let d = index.length - 1; d >= 0; d--) {
      index[d]!++;
      for (let v = 0; v < views.length; v++) offsets[v]! += views[v]!.strides[d]!;
      if (index[d]! < shape[d]!) return;
      for (let v = 0; v < views.length; v++) offsets[v]! -= index[d]! * views[v]!.strides[d]!;
      index[d] = 0;
    }
  }
}
