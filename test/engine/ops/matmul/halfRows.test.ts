import { describe, expect, it } from 'vitest';
import { halfTable, type HalfDType } from '../../../../engine/dtype.ts';
import { matmulKernel } from '../../../../engine/ops/matmul/cpu.ts';

/**
 * The CPU kernel's decode path (a few rows of A against a 16-bit B read transposed: one token
 * through a frozen weight) reads B where it lies instead of packing it. Its sums are the packed
 * path's in the packed path's order, so it must agree with the same product over B widened to
 * float32 bit for bit, at sizes that leave partial blocks (k not a multiple of 256, n not of 8).
 */
function pseudoRandom(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe.each(['bfloat16', 'float16'] as HalfDType[])('the %s decode path of the CPU matmul', (dtype) => {
  it.each([
    [1, 7, 600, 1],
    [2, 16, 256, 1],
    [3, 9, 513, 2],
    [1, 21, 300, 1],
  ])('m %i, n %i, k %i, batch %i: bit for bit the packed product', (m, n, k, batch) => {
    const table = halfTable(dtype);
    const bits = Uint16Array.from(pseudoRandom(batch * n * k, 3), (v) => (dtype === 'bfloat16' ? 0x3c00 : 0x3000) + Math.floor((v + 1) * 2000));
    const wide = Float32Array.from(bits, (h) => table[h]!);
    const a = pseudoRandom(batch * m * k, 4);
    const spec = { batch, m, n, k, transA: false, transB: true, aBatchStride: m * k, bBatchStride: batch > 1 ? n * k : 0 };
    const fast = new Float32Array(batch * m * n);
    const packed = new Float32Array(batch * m * n);
    matmulKernel(a, bits, spec, fast, table);
    matmulKernel(a, wide, spec, packed);
    expect(fast).toEqual(packed);
    expect(fast.some((v) => v !== 0)).toBe(true);
  });
});
