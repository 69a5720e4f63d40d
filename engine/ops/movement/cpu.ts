import type { View } from '../../backend.ts';
import { RowWalker } from '../../backends/cpu/strided.ts';
import type { TypedArray } from '../../dtype.ts';

/** The movement family's CPU kernel: one strided copy serves permute, expand, slice, pad and concat. */
export function copyKernel(shape: readonly number[], src: TypedArray, sv: View, dst: TypedArray, dv: View): void {
  const w = new RowWalker(shape, [sv, dv]);
  const [ss, ds] = w.steps as [number, number];
  for (let r = 0; r < w.rows; r++, w.next()) {
    let is = w.offsets[0]!,
      id = w.offsets[1]!;
    if (ss === 1 && ds === 1 && w.len >= 16) dst.set(src.subarray(is, is + w.len), id);
    else for (let j = 0; j < w.len; j++, is += ss, id += ds) dst[id] = src[is]!;
  }
}
