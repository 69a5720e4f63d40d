import type { MatmulSpec } from '../../backend.ts';
import type { TypedArray } from '../../dtype.ts';

/**
 * The matmul family's CPU kernel: the batched product C[b] = op(A[b]) · op(B[b]), in the style of
 * a BLAS "GEBP" kernel, small enough to read:
 *
 *  1. The product is cut into blocks: NC columns of C at a time and KC steps of the shared
 *     dimension at a time, so that the packed block of B below stays in cache while every row of
 *     A streams past it.
 *  2. Packing: a block of op(B) is copied into a Float64Array as panels of 4 columns, a panel being
 *     [p][4] (element (p, j) of the panel at p·4 + j); 4 rows of op(A) likewise as [p][4]. Packing
 *     reads A and B through their strides, so a transposed operand costs nothing extra, and the
 *     kernel below always reads two contiguous arrays. Panels at the edges are padded with zeros.
 *  3. The micro-kernel computes a 4×4 block of C over the KC steps with its 16 sums in local
 *     variables (registers): per step, 4 values of A times 4 of B, 16 multiply-adds for 8 loads.
 *     The old loop (one multiply-add per load and store of a row accumulator) ran at ~1 GFLOP/s.
 *  4. Sums accumulate in float64: in the micro-kernel's locals and, across KC blocks, in a float64
 *     copy of the output block; each output is rounded once at the end (as before: float32 results
 *     are the float64 sum rounded, not a float32 running sum).
 *  5. A 16-bit B (a frozen bfloat16 / float16 weight, engine/dtype.ts) is widened while packing,
 *     through `bTable` (the float32 value of each bit pattern): the packed block is float64 either
 *     way, so the rest of the kernel never sees the storage type, and B is never widened whole.
 *  6. Except for decoding: a product of fewer than 4 rows of A with a 16-bit B read transposed
 *     (x [1, in] · W[out, in]ᵀ, one new token against a frozen weight) goes to `halfRowsKernel`,
 *     which reads W where it lies, eight rows of W at a time. Packing would widen every element of W into a float64 panel
 *     only to use it once, and the 4×4 micro-kernel would spend 3/4 of its work on padding rows.
 *     The CPU backend splits such a product's columns between worker threads when it is large
 *     (engine/backends/cpu/rowThreads.ts).
 */

/** Columns of C per block; the packed B block is KC·NC doubles (512 KiB, about half an L2). */
const NC = 256;
/** Steps of the shared dimension per block. */
const KC = 256;
/** The micro-kernel's block of C: 4 rows × 4 columns. */
const R = 4;

/** The shape the decode path takes when B is 16-bit (6. above): fewer than 4 rows of A against B read transposed. */
export function isDecodeProduct(spec: MatmulSpec): boolean {
  return spec.transB && !spec.transA && spec.m < R;
}

export function matmulKernel(a: TypedArray, b: TypedArray, spec: MatmulSpec, out: TypedArray, bTable: Float32Array | null = null): void {
  const { batch, m, n, k, transA, transB } = spec;
  if (bTable !== null && isDecodeProduct(spec)) {
    for (let t = 0; t < batch; t++) halfRowsKernel(a, t * spec.aBatchStride, b as Uint16Array, t * spec.bBatchStride, bTable, out, t * m * n, m, n, k, 0, n);
    return;
  }
  // Strides of op(A) [m, k] and op(B) [k, n] in their storage.
  const aRow = transA ? 1 : k,
    aCol = transA ? m : 1;
  const bRow = transB ? 1 : n,
    bCol = transB ? k : 1;
  const packedA = new Float64Array(KC * R);
  const packedB = new Float64Array(KC * NC);
  const acc = new Float64Array(m * n);
  for (let t = 0; t < batch; t++) {
    const aBase = t * spec.aBatchStride;
    const bBase = t * spec.bBatchStride;
    acc.fill(0);
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        packPanels(b, bBase + pc * bRow + jc * bCol, bRow, bCol, kc, nc, packedB, bTable);
        for (let i = 0; i < m; i += R) {
          const rows = Math.min(R, m - i);
          // op(A) rows i..i+3 are op(B)'s "columns" with the roles of the strides swapped.
          packPanels(a, aBase + i * aRow + pc * aCol, aCol, aRow, kc, rows, packedA, null);
          for (let j = 0; j < nc; j += R) {
            microKernel(packedA, packedB, j * kc, kc, acc, i * n + jc + j, n, rows, Math.min(R, nc - j));
          }
        }
      }
    }
    const cBase = t * m * n;
    for (let i = 0; i < m * n; i++) out[cBase + i] = acc[i]!;
  }
}

/**
 * out[c0 + i·n + j] = Σ_p a[a0 + i·k + p] · B[j, p] for the m rows of A [m, k] and the columns
 * j0 ≤ j < j1 of a 16-bit B stored [n, k] from b0 (see 6. above), widening each element of B
 * through `table` as it is read. Eight rows of B at a time share each load of A, with eight
 * independent sums (measured on a 4096 → 8192 bf16 product: 14% faster than four; the sums stay in
 * registers either way). The sums are the blocked kernel's, in its order (float64, KC steps at a
 * time from 0, each block's sum then added to the running total), so the results are bit for bit
 * those of the packed path, whichever columns a call is given.
 *
 * Self-contained on purpose (no imports, no module constants, no inner functions): the CPU
 * backend's worker threads run its source text (engine/backends/cpu/rowThreads.ts), since a worker
 * cannot import a TypeScript module.
 */
export function halfRowsKernel(
  a: TypedArray,
  a0: number,
  b: Uint16Array,
  b0: number,
  table: Float32Array,
  out: TypedArray,
  c0: number,
  m: number,
  n: number,
  k: number,
  j0: number,
  j1: number,
): void {
  const KC = 256; // the packed path's block of the shared dimension (KC above)
  for (let i = 0; i < m; i++) {
    const x = a0 + i * k;
    const c = c0 + i * n;
    let j = j0;
    for (; j + 8 <= j1; j += 8) {
      const w0 = b0 + j * k;
      const w1 = w0 + k,
        w2 = w1 + k,
        w3 = w2 + k,
        w4 = w3 + k,
        w5 = w4 + k,
        w6 = w5 + k,
        w7 = w6 + k;
      let t0 = 0,
        t1 = 0,
        t2 = 0,
        t3 = 0,
        t4 = 0,
        t5 = 0,
        t6 = 0,
        t7 = 0;
      for (let pc = 0; pc < k; pc += KC) {
        const end = Math.min(k, pc + KC);
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0,
          s4 = 0,
          s5 = 0,
          s6 = 0,
          s7 = 0;
        for (let p = pc; p < end; p++) {
          const v = a[x + p]!;
          s0 += v * table[b[w0 + p]!]!;
          s1 += v * table[b[w1 + p]!]!;
          s2 += v * table[b[w2 + p]!]!;
          s3 += v * table[b[w3 + p]!]!;
          s4 += v * table[b[w4 + p]!]!;
          s5 += v * table[b[w5 + p]!]!;
          s6 += v * table[b[w6 + p]!]!;
          s7 += v * table[b[w7 + p]!]!;
        }
        t0 += s0;
        t1 += s1;
        t2 += s2;
        t3 += s3;
        t4 += s4;
        t5 += s5;
        t6 += s6;
        t7 += s7;
      }
      out[c + j] = t0;
      out[c + j + 1] = t1;
      out[c + j + 2] = t2;
      out[c + j + 3] = t3;
      out[c + j + 4] = t4;
      out[c + j + 5] = t5;
      out[c + j + 6] = t6;
      out[c + j + 7] = t7;
    }
    for (; j < j1; j++) {
      const w = b0 + j * k;
      let total = 0;
      for (let pc = 0; pc < k; pc += KC) {
        const end = Math.min(k, pc + KC);
        let sum = 0;
        for (let p = pc; p < end; p++) sum += a[x + p]! * table[b[w + p]!]!;
        total += sum;
      }
      out[c + j] = total;
    }
  }
}

/**
 * Copies the kc × cols block of a matrix starting at `base` (element (p, c) at base + p·pStride +
 * c·cStride) into `dst` as panels of R columns: panel q holds columns qR..qR+3 as [p][R], from
 * dst[q·R·kc]. Missing columns of the last panel are zeros. With `table`, src holds 16-bit patterns
 * and each is widened through it (two loops, so the float32 path has no lookup in it).
 */
function packPanels(
  src: TypedArray,
  base: number,
  pStride: number,
  cStride: number,
  kc: number,
  cols: number,
  dst: Float64Array,
  table: Float32Array | null,
): void {
  for (let c0 = 0; c0 < cols; c0 += R) {
    const panel = c0 * kc;
    const width = Math.min(R, cols - c0);
    for (let c = 0; c < R; c++) {
      if (c >= width) {
        for (let p = 0; p < kc; p++) dst[panel + p * R + c] = 0;
        continue;
      }
      let s = base + (c0 + c) * cStride;
      if (table === null) for (let p = 0; p < kc; p++, s += pStride) dst[panel + p * R + c] = src[s]!;
      else for (let p = 0; p < kc; p++, s += pStride) dst[panel + p * R + c] = table[src[s]!]!;
    }
  }
}

/**
 * acc[c + r·n + j] += Σ_p A[aOff + p·R + r] · B[bOff + p·R + j] for the valid rows r < rows and
 * columns j < cols of a 4×4 block: both panels are read front to back.
 */
function microKernel(A: Float64Array, B: Float64Array, bOff: number, kc: number, acc: Float64Array, c: number, n: number, rows: number, cols: number): void {
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let p = 0, ap = 0, bp = bOff; p < kc; p++, ap += R, bp += R) {
    const a0 = A[ap]!,
      a1 = A[ap + 1]!,
      a2 = A[ap + 2]!,
      a3 = A[ap + 3]!;
    const b0 = B[bp]!,
      b1 = B[bp + 1]!,
      b2 = B[bp + 2]!,
      b3 = B[bp + 3]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  if (rows === R && cols === R) {
    acc[c]! += c00;
    acc[c + 1]! += c01;
    acc[c + 2]! += c02;
    acc[c + 3]! += c03;
    c += n;
    acc[c]! += c10;
    acc[c + 1]! += c11;
    acc[c + 2]! += c12;
    acc[c + 3]! += c13;
    c += n;
    acc[c]! += c20;
    acc[c + 1]! += c21;
    acc[c + 2]! += c22;
    acc[c + 3]! += c23;
    c += n;
    acc[c]! += c30;
    acc[c + 1]! += c31;
    acc[c + 2]! += c32;
    acc[c + 3]! += c33;
    return;
  }
  // An edge block: write only the rows and columns that exist.
  const block = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) acc[c + r * n + j]! += block[r * R + j]!;
  }
}
