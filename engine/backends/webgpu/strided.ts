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
export function mergeDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => {
        outStrides[k][last] = s[d];
      });
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => {
        outStrides[k].push(s[d]);
      });
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
  const merged = mergeDims(
    shape,
    views.map((v) => v.strides),
  );
  if (merged.shape.length > MAX_RANK) {
    throw new Error(
      `webgpu: ${op}: rank ${merged.shape.length} (after merging contiguous dimensions) ` + `exceeds the WebGPU backend's maximum of ${MAX_RANK}`,
    );
  }
  const p = new Params(40).set(0, size).set(1, merged.shape.length);
  views.forEach((v, k) => {
    p.set(2 + k, v.offset);
  });
  p.setArray(8, merged.shape);
  merged.strides.forEach((s, k) => {
    p.setArray(16 + 8 * k, s);
  });
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

/**
 * How an element-wise kernel walks its operands (the `#if` modes of shaders/strided.wgsl):
 * - `flat4`: every operand is contiguous (offset a multiple of 4) or a single broadcast element,
 *   and the size is a multiple of 4: each invocation handles one vec4, no index arithmetic;
 * - `grid`: at most 4 dimensions after merging, spread over the dispatch grid (x the innermost,
 *   y the next, z the outer two), so an invocation finds its element without any division but one;
 * - `strided`: anything else, decoded dimension by dimension (integer divisions: slow on CPUs).
 * `scalar[k]`: operand k is one element broadcast (read once, at its offset).
 */
export interface Walk {
  mode: 'flat4' | 'grid' | 'strided';
  scalar: boolean[];
  params: Params;
  grid: [number, number, number];
  /** `grid` mode: shape, strides and offsets in units of 4 elements (see planWalk's `vec4Grid`). */
  vec4: boolean;
  /** `grid` mode: invocations per workgroup along x (the override GX of shaders/strided.wgsl). */
  gx: number;
}

/**
 * Invocations per workgroup along x in `grid` mode: the innermost dimension rounded up to a power
 * of two within [8, 64]. With 64 always, a transpose of heads (d3 = 32, or 8 vec4s) ran 32 or 8 of
 * its 64 lanes; llvmpipe runs 8 lanes per SIMD vector, so 8 is the least worth having.
 */
function gridX(d3: number): number {
  let gx = 8;
  while (gx < 64 && gx < d3) gx *= 2;
  return gx;
}

/** Which walks the kernel has besides `grid` and `strided`. */
export interface WalkOptions {
  /** `flat4` (default true; false where an operand may not be a broadcast element). */
  flat?: boolean;
  /**
   * `grid` in vec4s (copy.wgsl's VEC4; default false): taken when the innermost dimension is
   * contiguous in every view, a multiple of 4 long, and every other stride and every offset a
   * multiple of 4.
   */
  vec4Grid?: boolean;
}

export function planWalk(
  op: string,
  shape: readonly number[],
  views: readonly View[],
  maxPerDim: number,
  grid1D: (n: number, per?: number) => [number, number],
  { flat: allowFlat = true, vec4Grid = false }: WalkOptions = {},
): Walk {
  const size = shape.reduce((a, b) => a * b, 1);
  const merged = mergeDims(
    shape,
    views.map((v) => v.strides),
  );
  const rank = merged.shape.length;
  const scalar = merged.strides.map((s) => s.every((x) => x === 0));
  const contiguous = merged.strides.map((s) => rank === 0 || (rank === 1 && s[0] === 1));
  if (allowFlat && size % 4 === 0 && views.every((v, k) => scalar[k] || (contiguous[k] && v.offset % 4 === 0))) {
    const p = new Params(40).set(0, size / 4).set(1, 1);
    views.forEach((v, k) => {
      p.set(2 + k, scalar[k] ? v.offset : v.offset / 4);
    });
    const g = grid1D(size / 4);
    return { mode: 'flat4', scalar, params: p, grid: [g[0], g[1], 1], vec4: false, gx: 0 };
  }
  if (rank <= 4) {
    const pad = 4 - rank;
    const last = rank - 1;
    const vec4 =
      vec4Grid &&
      merged.shape[last]! % 4 === 0 &&
      merged.strides.every((s) => s[last] === 1 && s.every((x, d) => d === last || x % 4 === 0)) &&
      views.every((v) => v.offset % 4 === 0);
    const unit = vec4 ? 4 : 1;
    const d = [...new Array<number>(pad).fill(1), ...merged.shape.map((n, i) => (i === last ? n / unit : n))];
    const gxSize = gridX(d[3]);
    const gx = Math.ceil(d[3] / gxSize);
    // Rows per workgroup: about 2048 elements each (workgroups have a fixed cost on CPU adapters).
    const rows = Math.max(1, Math.min(d[2], Math.floor(2048 / (Math.min(d[3], gxSize) * unit))));
    const gy = Math.ceil(d[2] / rows);
    if (gx <= maxPerDim && gy <= maxPerDim && d[0] * d[1] <= maxPerDim) {
      const p = new Params(40)
        .set(0, size / unit)
        .set(1, 4)
        .set(5, rows);
      views.forEach((v, k) => {
        p.set(2 + k, v.offset / unit);
      });
      p.setArray(8, d);
      merged.strides.forEach((s, k) => {
        p.setArray(16 + 8 * k, [...new Array<number>(pad).fill(0), ...s.map((x, i) => (i === last ? x : x / unit))]);
      });
      return { mode: 'grid', scalar: views.map(() => false), params: p, grid: [gx, gy, d[0] * d[1]], vec4, gx: gxSize };
    }
  }
  const g = grid1D(size);
  return { mode: 'strided', scalar: views.map(() => false), params: stridedParams(op, shape, views), grid: [g[0], g[1], 1], vec4: false, gx: 0 };
}
