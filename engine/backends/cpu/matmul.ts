import type { MatmulSpec } from '../../backend.ts';
import type { TypedArray } from '../../dtype.ts';

/**
 * Batched matrix product C[b] = op(A[b]) · op(B[b]). op(A)[i][p] is read through strides, so a
 * transposed operand is never materialised. The loop order keeps the innermost loop on contiguous
 * memory: i-p-j (a row of B at a time) normally, i-j-p (dot products) when B is transposed.
 * Accumulation is in float64, rounded once per output.
 */
export function matmulKernel(a: TypedArray, b: TypedArray, spec: MatmulSpec, out: TypedArray): void {
  const { batch, m, n, k, transA, transB } = spec;
  // Strides of op(A) [m, k] and op(B) [k, n] in their storage.
  const [aRow, aCol] = transA ? [1, m] : [k, 1];
  const [bRow, bCol] = transB ? [1, k] : [n, 1];
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    const aBase = t * spec.aBatchStride;
    const bBase = t * spec.bBatchStride;
    const cBase = t * m * n;
    for (let i = 0; i < m; i++) {
      if (transB) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[aBase + i * aRow + p * aCol]! * b[bBase + j * k + p]!;
          out[cBase + i * n + j] = s;
        }
      } else {
        row.fill(0);
        for (let p = 0; p < k; p++) {
          const aip = a[aBase + i * aRow + p * aCol]!;
          if (aip === 0) continue;
          const bOff = bBase + p * bRow;
          for (let j = 0; j < n; j++) row[j]! += aip * b[bOff + j * bCol]!;
        }
        for (let j = 0; j < n; j++) out[cBase + i * n + j] = row[j]!;
      }
    }
  }
}
