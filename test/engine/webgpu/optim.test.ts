import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { cpuBackend } from '../../../engine/index.ts';
import type { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { maxUlp32, randomValues, runAdamW, type Case } from '../optim/fusedOptim.ts';
import { acquireBackend, expectClose } from './helpers.ts';

/**
 * The fused optimiser kernels on WebGPU (shaders/adamw.wgsl, sum_squares.wgsl) against the
 * WebGPU composite and against the CPU kernel (the oracle), with masked rows, weight decay, sizes
 * that are and are not multiples of 4, and clipping.
 */
let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await acquireBackend();
});
afterAll(() => gpu?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!gpu) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return gpu!;
}

const CASES: Case[] = [
  { shapes: [[5, 3], [7], [], [300, 17]], lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, steps: 4, seed: 1 },
  {
    shapes: [
      [6, 4],
      [4, 5],
      [70, 8],
    ],
    rows: [[1, 4], null, [0, 3, 69]],
    lr: 0.05,
    betas: [0.9, 0.95],
    eps: 1e-6,
    weightDecay: 0.5,
    steps: 5,
    seed: 2,
  },
  { shapes: [[9, 2, 3], [33], [1000]], rows: [[0, 8], null, null], lr: 2e-3, betas: [0.5, 0.9], eps: 1e-3, weightDecay: 0, steps: 3, clip: 1, seed: 3 },
];

/** A GPU compiler may contract a multiply-add into an FMA, hence a few ulps rather than bit equality. */
const ULPS = 4; // 0 on llvmpipe (bitwise equal), measured

describe('fused AdamW (WebGPU)', () => {
  it('matches the WebGPU composite and the CPU kernel within a few ulps (masked rows, weight decay)', async (t) => {
    const g = need(t);
    for (const c of CASES) {
      const noClip = { ...c, clip: undefined };
      const fused = await runAdamW(g, 'float32', noClip, true);
      const composite = await runAdamW(g, 'float32', noClip, false);
      const oracle = await runAdamW(cpuBackend, 'float32', noClip, true);
      for (const k of ['params', 'm', 'v'] as const) {
        fused[k].forEach((a, i) => {
          expect(maxUlp32(a, composite[k][i]!), `${k}[${i}] vs composite`).toBeLessThanOrEqual(ULPS);
          expect(maxUlp32(a, oracle[k][i]!), `${k}[${i}] vs CPU`).toBeLessThanOrEqual(ULPS);
        });
      }
    }
  });

  it('clipAndStep (the clip coefficient folded into the update) agrees with clipGradNorm + step within a few ulps', async (t) => {
    const g = need(t);
    const c = { ...CASES[2]!, steps: 6 };
    for (const fused of [true, false]) {
      const separate = await runAdamW(g, 'float32', c, fused);
      const folded = await runAdamW(g, 'float32', { ...c, clipMode: 'folded' }, fused);
      expect(folded.norms).toEqual(separate.norms);
      for (const k of ['params', 'm', 'v'] as const) {
        folded[k].forEach((a, i) => {
          expect(maxUlp32(a, separate[k][i]!), `fused ${fused}: ${k}[${i}]`).toBeLessThanOrEqual(ULPS);
        });
      }
    }
  });

  it('leaves frozen rows and their moments exactly as they were', async (t) => {
    const g = need(t);
    const c = CASES[1]!;
    const before = await runAdamW(g, 'float32', { ...c, steps: 0 }, true);
    const after = await runAdamW(g, 'float32', c, true);
    const cols = 8;
    for (let row = 0; row < 70; row++) {
      const trained = [0, 3, 69].includes(row);
      const slice = (a: number[]) => a.slice(row * cols, (row + 1) * cols);
      if (trained) {
        expect(slice(after.params[2]!)).not.toEqual(slice(before.params[2]!));
      } else {
        expect(slice(after.params[2]!)).toEqual(slice(before.params[2]!));
        expect(slice(after.m[2]!)).toEqual(new Array(cols).fill(0));
        expect(slice(after.v[2]!)).toEqual(new Array(cols).fill(0));
      }
    }
  });

  it('clips by the global norm like the composite (fused sum of squares)', async (t) => {
    const g = need(t);
    const c = CASES[2]!;
    const fused = await runAdamW(g, 'float32', c, true);
    const composite = await runAdamW(g, 'float32', c, false);
    fused.norms.forEach((n, i) => {
      expect(Math.abs(n - composite.norms[i]!)).toBeLessThanOrEqual(1e-5 * composite.norms[i]!);
    });
    // The clip factors differ in their last bits, so compare with a tolerance (moments may cancel).
    for (const k of ['params', 'm', 'v'] as const) {
      fused[k].forEach((a, i) => {
        expectClose(a, composite[k][i]!, 1e-4, 1e-6, `${k}[${i}]`);
      });
    }
  });

  it('sums squares over many gradients of odd sizes', async (t) => {
    const g = need(t);
    const sizes = [1, 3, 64, 65, 257, 5000, 70_001];
    const arrays = sizes.map((n, i) => Float32Array.from(randomValues(n, 40 + i)));
    const want = arrays.reduce((s, a) => s + a.reduce((t, x) => t + x * x, 0), 0);
    const got = (await g.read(g.optim.sumOfSquares(arrays.map((a) => g.upload('float32', a)))))[0]!;
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * want);
  });
});
