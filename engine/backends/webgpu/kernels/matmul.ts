import type { MatmulSpec } from '../../../backend.ts';
import { isHalf } from '../../../dtype.ts';
import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { fill } from './elementwise.ts';
import { halfDefines } from './types.ts';

/**
 * Two matmul kernels, one per world:
 * - `blocked` (shaders/matmul_blocked.wgsl): register blocking without shared memory, for CPU
 *   adapters such as llvmpipe, where shared memory and barriers are slow; with it, decode-shaped
 *   products (at most 4 rows against a weight stored [n, k]) go to shaders/matvec.wgsl;
 * - `tiled` (shaders/matmul_tiled.wgsl): shared-memory tiles, for real GPUs.
 * matmulVariant.ts decides which one a device uses.
 */
export type MatmulVariant = 'blocked' | 'tiled';

/**
 * The block each invocation of the blocked kernel computes (fixed in
 * shaders/tools/gen_matmul_blocked.py). Measured on llvmpipe, 2 cores, 1024³: 16 × 16 per
 * invocation beat 16 × 8 and 8 × 16; blockedWgx picks the invocations per workgroup.
 */
const BLOCKED_ROWS = 16;
const BLOCKED_COLS = 16;
const TILE = 64;

/** A store that adds: out = base + scale · product, base float32 shaped as out (a LoRA linear's tail). */
export interface AddScaled {
  base: GpuStorage;
  scale: number;
}

/**
 * a float32, b float32 or 16-bit (a frozen bfloat16 / float16 weight, widened as it is read), as
 * described by `spec`; returns float32 [batch, m, n]: the product, or with `add` base + scale·product.
 */
export function matmul(ctx: GpuContext, a: GpuStorage, b: GpuStorage, spec: MatmulSpec, variant: MatmulVariant, add?: AddScaled): GpuStorage {
  const { batch, m, n, k, transA, transB } = spec;
  if (a.dtype !== 'float32' || (b.dtype !== 'float32' && !isHalf(b.dtype))) {
    throw new Error(`webgpu: matmul needs float32 operands (or a 16-bit second operand), got ${a.dtype} and ${b.dtype}`);
  }
  const bHalf = halfDefines('B_HALF', b.dtype);
  const out = ctx.storage('float32', batch * m * n);
  if (batch * m * n === 0) return out;
  if (k === 0 && !add) {
    fill(ctx, out, 0);
    return out;
  }
  // The epilogue's define, scale (the last word of the uniform block) and base (binding 4).
  const epilogue: Record<string, boolean> = add ? { ADD_SCALED: true } : {};
  const buffers = (first: GpuStorage, second: GpuStorage) => (add ? [first, second, out, add.base] : [first, second, out]);
  const withScale = (p: Params) => (add ? p.setFloat(11, add.scale) : p);
  if (batch > ctx.device.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`webgpu: matmul batch of ${batch} exceeds maxComputeWorkgroupsPerDimension`);
  }
  if (variant === 'tiled') {
    const kernel = { file: 'matmul_tiled.wgsl', defines: { ...bHalf, ...epilogue } };
    ctx.run('matmul', kernel, withScale(params(spec, n, 1)), buffers(a, b), [Math.ceil(n / TILE), Math.ceil(m / TILE), batch]);
    return out;
  }
  if (m <= MATVEC_ROWS && transB && !transA) {
    // Decoding: a few rows against a weight stored [n, k] (shaders/matvec.wgsl).
    const vec8 = k % 8 === 0 && spec.aBatchStride % 4 === 0 && spec.bBatchStride % 8 === 0;
    const cols = matvecCols(n);
    const kernel = { file: 'matvec.wgsl', defines: { VEC8: vec8, ...bHalf, ...epilogue }, constants: { WGX: MATVEC_WGX, ROWS: m, COLS: cols } };
    const p = new Params(5).set(0, n).set(1, k).set(2, spec.aBatchStride).set(3, spec.bBatchStride);
    if (add) p.setFloat(4, add.scale);
    ctx.run('matmul', kernel, p, buffers(a, b), [Math.ceil(n / (MATVEC_WGX * cols)), 1, batch]);
    return out;
  }
  // (Not with a 16-bit B: the swap would make it the A operand, which the kernel reads as f32.)
  if (n <= SKINNY && m >= 4 * BLOCKED_ROWS && !isHalf(b.dtype)) {
    // A skinny product (a LoRA rank of 16): with one invocation per 16 columns, n = 16 would keep
    // one SIMD lane of 8 busy. Compute outᵀ = op(B)ᵀ·op(A)ᵀ instead (rows and columns swapped,
    // written through transposed output strides): the m rows become the lanes' columns.
    const t: MatmulSpec = {
      batch,
      m: n,
      n: m,
      k,
      transA: !transB,
      transB: !transA,
      aBatchStride: spec.bBatchStride,
      bBatchStride: spec.aBatchStride,
    };
    const wgx = m >= 512 ? 8 : 4;
    const kernel = { file: 'matmul_blocked.wgsl', defines: { ...blockedLayouts(t), ...epilogue }, constants: { WGX: wgx } };
    const grid = [Math.ceil(m / (wgx * BLOCKED_COLS)), Math.ceil(n / BLOCKED_ROWS), batch];
    ctx.run('matmul', kernel, withScale(params(t, 1, n)), buffers(b, a), grid);
    return out;
  }
  const wgx = blockedWgx(n, Math.ceil(m / BLOCKED_ROWS) * batch);
  const kernel = { file: 'matmul_blocked.wgsl', defines: { ...blockedLayouts(spec), ...bHalf, ...epilogue }, constants: { WGX: wgx } };
  const grid = [Math.ceil(n / (wgx * BLOCKED_COLS)), Math.ceil(m / BLOCKED_ROWS), batch];
  ctx.run('matmul', kernel, withScale(params(spec, n, 1)), buffers(a, b), grid);
  return out;
}

/** Products of at most this many rows with B stored [n, k] run on shaders/matvec.wgsl (decoding). */
const MATVEC_ROWS = 4;
/**
 * matvec.wgsl's columns of out per invocation (each load of A serves all of them) and invocations
 * per workgroup. Measured on llvmpipe, 2 cores, bf16 4096 → 14336 and 14336 → 4096 (best of
 * repeated runs): 1, 2, 4, 8 columns read 5.2, 6.2, 8.9, 10 GB/s of weights at one row of A, and
 * 4 and 8 columns 4.2 and 5.5 at four rows (the blocked kernel: 1.5 and 1.7). 8 and 16 invocations
 * were within the noise; 8 gives small products (n = 128) more than one workgroup, one per thread.
 */
const MATVEC_COLS = 8;
const MATVEC_WGX = 8;

/**
 * Columns per invocation for an output n wide: MATVEC_COLS, fewer when the first workgroup would
 * otherwise leave SIMD lanes without a column. A LoRA factor's product (x·Aᵀ, n = r = 16) at 8
 * columns keeps 2 of 8 lanes busy, each walking all of k. Measured on llvmpipe, one row, float32 B,
 * best of repeated runs: n 16 with k 4096 and 14336 took 194 and 581 µs at 8 columns, 103 and
 * 249 µs at 2; n 32, k 4096: 210 µs at 8, 146 at 4.
 */
function matvecCols(n: number): number {
  let cols = MATVEC_COLS;
  while (cols > 1 && n < MATVEC_WGX * cols) cols /= 2;
  return cols;
}

/** Products at most this many columns wide run transposed on the blocked kernel (see above). */
const SKINNY = 16;

/** The uniform block of both kernels (the tiled one ignores the output strides); word 11 is ADD_SCALED's scale. */
function params(spec: MatmulSpec, outRowStride: number, outColStride: number): Params {
  const { m, n, k, transA, transB } = spec;
  return new Params(12)
    .set(0, m)
    .set(1, n)
    .set(2, k)
    .set(3, spec.aBatchStride)
    .set(4, spec.bBatchStride)
    .set(5, transA ? 1 : k)
    .set(6, transA ? m : 1)
    .set(7, transB ? 1 : n)
    .set(8, transB ? k : 1)
    .set(9, outRowStride)
    .set(10, outColStride);
}

/**
 * Invocations per workgroup for an output `n` columns wide. Each invocation computes 16 columns
 * whether or not they exist (loads are clamped), and llvmpipe runs 8 invocations per SIMD vector,
 * so a workgroup much wider than n only burns time: measured on the skinny products of a training
 * step (n = 16…512, m ≈ 600), 4 or 8 invocations beat 32 by 2–8×.
 */
function blockedWgx(n: number, rowBlocks: number): number {
  // Also 4 when 8 would leave fewer than 4 workgroups (a product only 16 rows tall, such as a
  // LoRA factor's gradient): llvmpipe runs a workgroup on one thread, so smaller ones spread the
  // work over the cores.
  return n <= 64 || rowBlocks * Math.ceil(n / (8 * BLOCKED_COLS)) < 4 ? 4 : 8;
}

/**
 * How the blocked kernel loads each operand: as vec4 along the contiguous axis when that axis and
 * every batch's start are multiples of 4 (a quarter of the loads), else element by element.
 */
function blockedLayouts(spec: MatmulSpec): Record<string, boolean> {
  const { m, n, k, transA, transB } = spec;
  const aAligned = spec.aBatchStride % 4 === 0;
  const bAligned = spec.bBatchStride % 4 === 0;
  const aK4 = !transA && k % 4 === 0 && aAligned;
  const aM4 = transA && m % 4 === 0 && aAligned;
  const bN4 = !transB && n % 4 === 0 && bAligned;
  const bK4 = transB && k % 4 === 0 && bAligned;
  return {
    A_K4: aK4,
    A_M4: aM4,
    A_VEC4: aK4 || aM4,
    A_SCALAR: !aK4 && !aM4,
    B_N4: bN4,
    B_K4: bK4,
    B_VEC4: bN4 || bK4,
    B_SCALAR: !bN4 && !bK4,
  };
}
