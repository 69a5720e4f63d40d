import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MatmulSpec } from '../../../../engine/backend.ts';
import { matmulKernel } from '../../../../engine/ops/matmul/cpu.ts';

/**
 * The blocked CPU matmul against the textbook triple loop: every combination of transposes,
 * batch broadcasting, and sizes on both sides of the block and micro-kernel edges (NC = 128
 * columns, KC = 256 steps, 4×4 blocks).
 */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, s: MatmulSpec): Float64Array {
  const out = new Float64Array(s.batch * s.m * s.n);
  for (let t = 0; t < s.batch; t++) {
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let sum = 0;
        for (let p = 0; p < s.k; p++) {
          const av = a[t * s.aBatchStride + (s.transA ? p * s.m + i : i * s.k + p)]!;
          const bv = b[t * s.bBatchStride + (s.transB ? j * s.k + p : p * s.n + j)]!;
          sum += av * bv;
        }
        out[(t * s.m + i) * s.n + j] = sum;
      }
    }
  }
  return out;
}

function random(n: number, seed: number): Float64Array {
  let x = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 31 - 1;
  });
}

function check(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  batch: number,
  broadcast: 'none' | 'a' | 'b',
  dtype: 'float32' | 'float64',
  seed: number,
): void {
  const spec: MatmulSpec = {
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aBatchStride: broadcast === 'a' ? 0 : m * k,
    bBatchStride: broadcast === 'b' ? 0 : n * k,
  };
  const Type = dtype === 'float32' ? Float32Array : Float64Array;
  const a = Type.from(random((broadcast === 'a' ? 1 : batch) * m * k, seed));
  const b = Type.from(random((broadcast === 'b' ? 1 : batch) * n * k, seed + 1));
  const out = new Type(batch * m * n);
  matmulKernel(a, b, spec, out);
  const want = reference(a, b, spec);
  for (let i = 0; i < want.length; i++) {
    // Both sum in float64 (in different orders); float32 results are that sum rounded once.
    const tol = dtype === 'float32' ? 2 ** -23 * Math.abs(want[i]!) + 1e-30 : 1e-13 * k;
    if (!(Math.abs(out[i]! - want[i]!) <= tol)) {
      expect.fail(`${JSON.stringify(spec)} ${dtype}: element ${i} is ${out[i]}, want ${want[i]}`);
    }
  }
}

describe('CPU matmul (blocked, packed)', () => {
  it('matches the triple loop at block and micro-kernel edges, every transpose', () => {
    for (const [m, n, k] of [
      [1, 1, 1],
      [3, 5, 7],
      [4, 4, 4],
      [5, 129, 257],
      [17, 130, 300],
      [64, 16, 512],
      [9, 256, 3],
    ]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          check(m!, n!, k!, transA, transB, 1, 'none', 'float64', m! * 1000 + n! + k!);
          check(m!, n!, k!, transA, transB, 1, 'none', 'float32', m! * 1000 + n! + k! + 7);
        }
      }
    }
  });

  it('matches the triple loop on random shapes, batches and broadcasts (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 140 }),
        fc.integer({ min: 1, max: 270 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom('none', 'a', 'b'),
        fc.constantFrom('float32', 'float64'),
        fc.nat(),
        (m, n, k, tA, tB, batch, broadcast, dtype, seed) => check(m, n, k, tA, tB, batch, broadcast as 'none', dtype as 'float32', seed),
      ),
      { numRuns: 60 },
    );
  });

  it('propagates NaN and infinities as IEEE arithmetic does (0·∞ is NaN)', () => {
    const a = Float32Array.from([0, 1, Infinity, 2]);
    const b = Float32Array.from([Infinity, 1, 1, NaN]);
    const out = new Float32Array(4);
    matmulKernel(a, b, { batch: 1, m: 2, n: 2, k: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, out);
    expect(Array.from(out)).toEqual(
      Array.from(reference(a, b, { batch: 1, m: 2, n: 2, k: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 })).map(Math.fround),
    );
  });

  it('handles empty products (k = 0 gives zeros)', () => {
    const out = new Float32Array(6).fill(7);
    matmulKernel(new Float32Array(0), new Float32Array(0), { batch: 1, m: 2, n: 3, k: 0, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
