import type { BinaryOp, UnaryOp, View } from '../../../backend.ts';
import { isHalf, roundToHalf, type DType } from '../../../dtype.ts';
import { isComparison } from '../../../ops/elementwise/ops.ts';
import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { planWalk, type Walk, type WalkOptions } from '../strided.ts';
import { computeType, wgslType } from './types.ts';

/**
 * The WGSL function of an elementwise op: `op_<name>` in shaders/unary.wgsl or shaders/binary.wgsl,
 * passed as the define OP (one pipeline per op). The op's name is the only link to the shader.
 */
export function wgslFunction(op: UnaryOp | BinaryOp): string {
  return `op_${op}`;
}

export function unary(ctx: GpuContext, op: UnaryOp, x: GpuStorage): GpuStorage {
  if (x.dtype === 'bool') throw new Error(`webgpu: unary ${op} is not defined on bool`);
  const out = ctx.storage(x.dtype, x.size);
  if (x.size === 0) return out;
  const type = wgslType(x.dtype);
  const vec4 = x.size % 4 === 0;
  const kernel = { file: 'unary.wgsl', defines: { ELEM: type, CT: type, VEC4: vec4, OP: wgslFunction(op) } };
  const n = vec4 ? x.size / 4 : x.size;
  ctx.run(`unary ${op}`, kernel, new Params(4).set(0, n), [x, out], ctx.grid1D(n));
  return out;
}

/** Output dtype: the inputs' for arithmetic, bool for comparisons. */
export function binary(ctx: GpuContext, op: BinaryOp, shape: readonly number[], a: GpuStorage, av: View, b: GpuStorage, bv: View): GpuStorage {
  if (a.dtype !== b.dtype) throw new Error(`webgpu: binary ${op} on ${a.dtype} and ${b.dtype}`);
  const compare = isComparison(op);
  const outDtype: DType = compare ? 'bool' : a.dtype;
  const size = shape.reduce((p, d) => p * d, 1);
  const out = ctx.storage(outDtype, size);
  if (size === 0) return out;
  const walk = plan(ctx, `binary ${op}`, shape, [av, bv]);
  const ct = computeType(a.dtype);
  const toOut = compare ? 'u32' : a.dtype === 'bool' ? 'to_bool' : ct;
  const kernel = walkKernel('binary.wgsl', walk, ['A', 'B'], {
    ELEM: wgslType(a.dtype),
    CT: ct,
    OUT: wgslType(outDtype),
    TO_OUT: toOut,
    IS_INT: ct === 'i32',
    OP: wgslFunction(op),
    COMPARISON: compare,
  });
  ctx.run(`binary ${op}`, kernel, walk.params, [a, b, out], walk.grid);
  return out;
}

export function where(ctx: GpuContext, shape: readonly number[], cond: GpuStorage, cv: View, a: GpuStorage, av: View, b: GpuStorage, bv: View): GpuStorage {
  if (a.dtype !== b.dtype) throw new Error(`webgpu: where on ${a.dtype} and ${b.dtype}`);
  const size = shape.reduce((p, d) => p * d, 1);
  const out = ctx.storage(a.dtype, size);
  if (size === 0) return out;
  const walk = plan(ctx, 'where', shape, [cv, av, bv]);
  const kernel = walkKernel('where.wgsl', walk, ['C', 'A', 'B'], { COND: wgslType(cond.dtype), ELEM: wgslType(a.dtype) });
  ctx.run('where', kernel, walk.params, [cond, a, b, out], walk.grid);
  return out;
}

export function copy(ctx: GpuContext, shape: readonly number[], src: GpuStorage, sv: View, dst: GpuStorage, dv: View): void {
  const size = shape.reduce((p, d) => p * d, 1);
  if (size === 0) return;
  if (src === dst) {
    // A buffer cannot be bound for reading and writing in one dispatch: go through a copy.
    const tmp = cast(ctx, src, src.dtype);
    copy(ctx, shape, tmp, sv, dst, dv);
    ctx.release(tmp);
    return;
  }
  // The destination is written, so it may not be a broadcast element (FLAT4 with D_SCALAR).
  let walk = plan(ctx, 'copy', shape, [sv, dv], { vec4Grid: true });
  if (walk.mode === 'flat4' && walk.scalar[1]) walk = plan(ctx, 'copy', shape, [sv, dv], { flat: false, vec4Grid: true });
  ctx.run('copy', walkKernel('copy.wgsl', walk, ['S', 'D']), walk.params, [src, dst], walk.grid);
}

export function fill(ctx: GpuContext, s: GpuStorage, value: number): void {
  if (s.size === 0) return;
  if (isHalf(s.dtype)) {
    // Two elements per word: the value's 16-bit pattern twice.
    const h = roundToHalf(s.dtype, Float32Array.of(value))[0]!;
    const words = Math.ceil(s.size / 2);
    ctx.run('fill', { file: 'fill.wgsl' }, new Params(4).set(0, words).set(1, (h | (h << 16)) >>> 0), [s], ctx.grid1D(words));
    return;
  }
  const p = new Params(4).set(0, s.size);
  if (s.dtype === 'float32') p.setFloat(1, value);
  else p.set(1, s.dtype === 'bool' ? Number(value !== 0) : Math.trunc(value));
  ctx.run('fill', { file: 'fill.wgsl' }, p, [s], ctx.grid1D(s.size));
}

export function cast(ctx: GpuContext, x: GpuStorage, dtype: DType): GpuStorage {
  const out = ctx.storage(dtype, x.size);
  if (x.size === 0) return out;
  if (x.dtype === dtype) {
    copy(ctx, [x.size], x, CONTIGUOUS, out, CONTIGUOUS);
    return out;
  }
  const kernel = {
    file: 'cast.wgsl',
    defines: { IN: wgslType(x.dtype), OUT: wgslType(dtype), TO_BOOL: dtype === 'bool' },
  };
  ctx.run(`cast ${x.dtype}→${dtype}`, kernel, new Params(4).set(0, x.size), [x, out], ctx.grid1D(x.size));
  return out;
}

const CONTIGUOUS: View = { offset: 0, strides: [1] };

/** How to walk `views` over `shape` (see planWalk); outputs of binary and where are contiguous. */
function plan(ctx: GpuContext, op: string, shape: readonly number[], views: readonly View[], options: WalkOptions = {}): Walk {
  // A 1-D contiguous view stands for any rank: expand it to the shape's own strides.
  const full = views.map((v) => (v === CONTIGUOUS ? { offset: 0, strides: rowMajor(shape) } : v));
  return planWalk(op, shape, full, ctx.device.limits.maxComputeWorkgroupsPerDimension, (n, per) => ctx.grid1D(n, per), options);
}

function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

/**
 * A kernel reading its operands (named `names` in its #defines) through `walk`: the walk's defines
 * FLAT4 / GRID (and VEC4), <NAME>_SCALAR for broadcast operands in FLAT4, and in grid mode the
 * workgroup width GX.
 */
function walkKernel(file: string, walk: Walk, names: readonly string[], defines: Record<string, string | boolean> = {}) {
  const d: Record<string, string | boolean> = { ...defines, FLAT4: walk.mode === 'flat4', GRID: walk.mode === 'grid' };
  if (walk.vec4) d.VEC4 = true;
  if (walk.mode === 'flat4')
    names.forEach((n, k) => {
      if (walk.scalar[k]) d[`${n}_SCALAR`] = true;
    });
  return { file, defines: d, ...(walk.mode === 'grid' ? { constants: { GX: walk.gx } } : {}) };
}
