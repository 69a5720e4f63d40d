import { describe, expect, it } from 'vitest';
import { halfTable, type HalfDType } from '../../../../engine/dtype.ts';
import { matmulKernel } from '../../../../engine/ops/matmul/cpu.ts';
import { CpuBackend, type CpuStorage } from '../../../../engine/backends/cpu/index.ts';
import { tensor } from '../../../../engine/index.ts';

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

describe('the CPU backend splits a decode product between threads', () => {
  it.each([
    [2, 1, 40, 300],
    [3, 2, 77, 513],
    [4, 3, 130, 256],
  ])('%i threads, m %i, n %i, k %i: bit for bit the one-thread product', async (threads, m, n, k) => {
    const split = new CpuBackend({ threads, minThreadedWork: 0 });
    await split.rowThreads.whenReady();
    const alone = new CpuBackend({ threads: 1 });
    const bits = Uint16Array.from(pseudoRandom(n * k, 5), (v) => 0x3c00 + Math.floor((v + 1) * 2000));
    const x = pseudoRandom(m * k, 6);
    const product = async (backend: CpuBackend) =>
      tensor(x, [m, k], { backend })
        .matmul(tensor(bits, [n, k], { dtype: 'bfloat16', backend }), { transB: true })
        .toArray();
    const want = await product(alone);
    const got = await product(split);
    expect(split.rowThreads.splitProducts).toBe(1);
    expect(alone.rowThreads.splitProducts).toBe(0);
    expect(got).toEqual(want);
    // A second product, wider: the hand-off buffers grow and are reused.
    const wide = Uint16Array.from(pseudoRandom(3 * n * k, 7), (v) => 0x3c00 + Math.floor((v + 1) * 2000));
    const wider = async (backend: CpuBackend) =>
      tensor(x, [m, k], { backend })
        .matmul(tensor(wide, [3 * n, k], { dtype: 'bfloat16', backend }), { transB: true })
        .toArray();
    expect(await wider(split)).toEqual(await wider(alone));
    expect(split.rowThreads.splitProducts).toBe(2);
    await split.rowThreads.close();
  });

  it('keeps a small product on one thread, and 16-bit weights in shared memory only when it has workers', async () => {
    const split = new CpuBackend({ threads: 2 });
    await split.rowThreads.whenReady();
    const bits = new Uint16Array(64 * 64).fill(0x3c00);
    const w = tensor(bits, [64, 64], { dtype: 'bfloat16', backend: split });
    tensor(new Float32Array(64).fill(1), [1, 64], { backend: split }).matmul(w, { transB: true });
    expect(split.rowThreads.splitProducts).toBe(0);
    expect((w.storage('test') as CpuStorage).data.buffer).toBeInstanceOf(SharedArrayBuffer);
    const alone = new CpuBackend({ threads: 1 });
    expect((tensor(bits, [64, 64], { dtype: 'bfloat16', backend: alone }).storage('test') as CpuStorage).data.buffer).toBeInstanceOf(ArrayBuffer);
    expect(() => new CpuBackend({ threads: 0 })).toThrow(/threads must be a positive integer, got 0/);
    await split.rowThreads.close();
  });
});

describe('CpuBackend.setThreads', () => {
  it('changes the thread count before the next product, and refuses a bad one by name', async () => {
    const backend = new CpuBackend({ threads: 1, minThreadedWork: 0 });
    backend.setThreads(2);
    expect(backend.rowThreads.threads).toBe(2);
    await backend.rowThreads.whenReady();
    const bits = new Uint16Array(16 * 8).fill(0x3f80);
    tensor(new Float32Array(8).fill(1), [1, 8], { backend }).matmul(tensor(bits, [16, 8], { dtype: 'bfloat16', backend }), { transB: true });
    expect(backend.rowThreads.splitProducts).toBe(1);
    expect(() => backend.setThreads(1.5)).toThrow(/threads must be a positive integer, got 1.5/);
    await backend.rowThreads.close();
  });
});
