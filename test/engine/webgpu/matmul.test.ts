import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { MatmulSpec, Storage } from '../../../engine/backend.ts';
import type { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import type { MatmulVariant } from '../../../engine/backends/webgpu/kernels/matmul.ts';
import { type HalfDType, halfTable, roundToHalf } from '../../../engine/dtype.ts';
import { acquireBackend, expectClose, randomArray } from './helpers.ts';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await acquireBackend();
});
afterAll(() => gpu?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!gpu) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return gpu!;
}

/** Reference product in float64, with the spec's layouts; also returns Σ|a||b| per output for the tolerance. */
function matmulRef(a: number[], b: number[], s: MatmulSpec): { out: number[]; scale: number[] } {
  const out: number[] = [];
  const scale: number[] = [];
  for (let p = 0; p < s.batch; p++) {
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let acc = 0;
        let abs = 0;
        for (let k = 0; k < s.k; k++) {
          const av = a[p * s.aBatchStride + (s.transA ? k * s.m + i : i * s.k + k)];
          const bv = b[p * s.bBatchStride + (s.transB ? j * s.k + k : k * s.n + j)];
          acc += av * bv;
          abs += Math.abs(av * bv);
        }
        out.push(acc);
        scale.push(abs);
      }
    }
  }
  return { out, scale };
}

/** Checks one product against matmulRef; with `bDtype` 16-bit, B is stored in it (the reference reads B widened). */
async function check(g: WebGPUBackend, s: MatmulSpec, seed: number, bDtype: 'float32' | HalfDType = 'float32'): Promise<void> {
  const aBatches = s.aBatchStride === 0 ? 1 : s.batch;
  const bBatches = s.bBatchStride === 0 ? 1 : s.batch;
  const ad = randomArray(aBatches * s.m * s.k, seed);
  let bd = randomArray(bBatches * s.k * s.n, seed + 1);
  const a = g.upload('float32', Float32Array.from(ad));
  let b: Storage;
  if (bDtype === 'float32') b = g.upload('float32', Float32Array.from(bd));
  else {
    const bits = roundToHalf(bDtype, Float32Array.from(bd));
    const table = halfTable(bDtype);
    bd = Array.from(bits, (h) => table[h]!);
    b = g.upload(bDtype, bits);
  }
  const out = g.matmul(a, b, s);
  const got = await g.read(out);
  const { out: want, scale } = matmulRef(ad, bd, s);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    // f32 accumulation: error grows with Σ|a·b|, not with the result.
    if (Math.abs(got[i] - want[i]) > 1e-5 + 2e-6 * scale[i] * Math.sqrt(s.k)) {
      throw new Error(`${JSON.stringify(s)} (B ${bDtype}): element ${i}: got ${got[i]}, want ${want[i]}`);
    }
  }
  for (const x of [a, b, out]) g.release(x);
}

const SIZES = [1, 3, 4, 8, 17, 33, 64, 65];

for (const variant of ['blocked', 'tiled'] as MatmulVariant[]) {
  describe(`matmul (${variant})`, () => {
    it('random shapes, transposes and (broadcast) batches', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SIZES),
          fc.constantFrom(...SIZES),
          fc.constantFrom(...SIZES),
          fc.constantFrom(1, 2, 3),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          fc.nat(1000),
          async (m, n, k, batch, transA, transB, broadcastA, broadcastB, seed) => {
            await check(
              g,
              {
                batch,
                m,
                n,
                k,
                transA,
                transB,
                aBatchStride: broadcastA ? 0 : m * k,
                bBatchStride: broadcastB ? 0 : n * k,
              },
              seed,
            );
          },
        ),
        { numRuns: 60 },
      );
    });

    it('sizes that straddle the tiles: 255, 257', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      await check(g, { batch: 1, m: 257, n: 255, k: 257, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, 1);
      await check(g, { batch: 2, m: 255, n: 257, k: 129, transA: true, transB: true, aBatchStride: 255 * 129, bBatchStride: 0 }, 2);
      await check(g, { batch: 1, m: 1, n: 260, k: 255, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, 3);
    });

    it('every operand layout: vec4 along k or m or n, transposed or not, and scalar fallbacks', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      for (const [m, n, k] of [
        [20, 36, 12],
        [21, 35, 13],
        [20, 35, 12],
        [21, 36, 13],
        [4, 4, 4],
      ]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            await check(g, { batch: 2, m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: n * k }, m + n + k);
          }
        }
      }
    });

    it('skinny products (n ≤ 16, run transposed by the blocked kernel): every layout and batch broadcast', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      for (const [m, n, k] of [
        [64, 16, 128],
        [65, 5, 13],
        [600, 16, 36],
        [130, 1, 16],
        [257, 12, 7],
      ]) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            await check(g, { batch: 2, m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: 0 }, m * n + k);
            await check(g, { batch: 2, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: n * k }, m * n + k + 1);
          }
        }
      }
    });

    it('decode-shaped products (1 to 4 rows against B stored [n, k]): float32 and 16-bit B, 8-wide and scalar steps', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      for (const bDtype of ['float32', 'bfloat16', 'float16'] as const) {
        for (const m of [1, 2, 3, 4]) {
          for (const [n, k, batch] of [
            [70, 64, 1], // 8 columns per invocation; n not a multiple of the workgroup's 64
            [37, 64, 1], // 4 columns per invocation (n < 64), 8-wide steps
            [16, 13, 1], // 2 columns per invocation; k odd: one element a step
            [33, 24, 3], // batched (attention's q·kᵀ over heads)
            [5, 12, 2], // 1 column per invocation; k a multiple of 4, not of 8
          ] as const) {
            await check(g, { batch, m, n, k, transA: false, transB: true, aBatchStride: m * k, bBatchStride: n * k }, m * 100 + n + k, bDtype);
          }
          // One B for every batch (a weight), and A broadcast.
          await check(g, { batch: 2, m, n: 20, k: 16, transA: false, transB: true, aBatchStride: m * 16, bBatchStride: 0 }, m, bDtype);
          await check(g, { batch: 2, m, n: 20, k: 16, transA: false, transB: true, aBatchStride: 0, bBatchStride: 20 * 16 }, m + 1, bDtype);
        }
      }
    });

    it('the ADD_SCALED store (a LoRA tail: base + scale·x·wᵀ), wide, skinny and decode-shaped, vec4 and scalar loads', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      for (const [rows, n, k, scale] of [
        [37, 36, 16, 2],
        [65, 8, 16, 0.7],
        [5, 17, 3, 1.3],
        [1, 36, 16, 2], // decoding: matvec.wgsl, 8-wide steps
        [3, 17, 3, 1.3], // matvec.wgsl, one element a step
      ]) {
        const [bd, xd, wd] = [rows * n, rows * k, n * k].map((size, i) => randomArray(size, rows + n + i));
        const [base, x, w] = [bd, xd, wd].map((d) => g.upload('float32', Float32Array.from(d)));
        const got = await g.read(g.fused.matmulAddScaled(base!, x!, w!, rows, n, k, scale));
        const { out: product, scale: size } = matmulRef(xd, wd, { batch: 1, m: rows, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
        for (let i = 0; i < product.length; i++) {
          const want = bd[i]! + Math.fround(scale) * product[i]!;
          if (Math.abs(got[i] - want) > 1e-5 + 4e-6 * size[i]! * Math.sqrt(k) * scale + 1e-6 * Math.abs(want)) {
            throw new Error(`matmulAddScaled ${rows}x${n}x${k}: element ${i}: got ${got[i]}, want ${want}`);
          }
        }
        for (const s of [base, x, w]) g.release(s!);
      }
    });

    it('k = 0 gives zeros', async (t) => {
      const g = need(t);
      g.matmulVariant = variant;
      const a = g.alloc('float32', 0);
      const out = g.matmul(a, a, { batch: 2, m: 3, n: 2, k: 0, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
      expectClose(await g.read(out), new Array(12).fill(0));
    });
  });
}
