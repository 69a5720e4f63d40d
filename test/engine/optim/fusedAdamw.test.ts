import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../../engine/index.ts';
import { maxUlp32, runAdamW, type Case } from './fusedOptim.ts';

/**
 * The fused AdamW kernel (and fused norm for clipping) against the composite on the CPU backend,
 * whose kernel is the oracle for the WebGPU one: bit for bit, in float32 and float64, with masked
 * rows, weight decay and clipping.
 */
const CASES: Case[] = [
  { shapes: [[5, 3], [7], []], lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, steps: 4, seed: 1 },
  {
    shapes: [
      [6, 4],
      [4, 5],
    ],
    rows: [[1, 4], null],
    lr: 0.05,
    betas: [0.9, 0.95],
    eps: 1e-6,
    weightDecay: 0.5,
    steps: 5,
    seed: 2,
  },
  { shapes: [[9, 2, 3], [33]], rows: [[0, 8], null], lr: 2e-3, betas: [0.5, 0.9], eps: 1e-3, weightDecay: 0, steps: 3, clip: 1, seed: 3 },
];

describe('fused AdamW (CPU backend)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`matches the composite bit for bit (${dtype}; masked rows, weight decay)`, async () => {
      for (const c of CASES) {
        const noClip = { ...c, clip: undefined };
        const fused = await runAdamW(cpuBackend, dtype, noClip, true);
        const composite = await runAdamW(cpuBackend, dtype, noClip, false);
        expect(fused.params).toEqual(composite.params);
        expect(fused.m).toEqual(composite.m);
        expect(fused.v).toEqual(composite.v);
      }
    });
  }

  it('keeps frozen rows and their moments untouched', async () => {
    const c = CASES[1]!;
    const before = await runAdamW(cpuBackend, 'float32', { ...c, steps: 0 }, true);
    const after = await runAdamW(cpuBackend, 'float32', c, true);
    for (const row of [0, 2, 3, 5]) {
      const cols = [0, 1, 2, 3].map((j) => row * 4 + j);
      expect(cols.map((i) => after.params[0]![i])).toEqual(cols.map((i) => before.params[0]![i]));
      expect(cols.map((i) => after.m[0]![i])).toEqual([0, 0, 0, 0]);
      expect(cols.map((i) => after.v[0]![i])).toEqual([0, 0, 0, 0]);
    }
    expect(after.params[0]![4]).not.toBe(before.params[0]![4]); // row 1 trains
  });

  it('with clipping: the fused norm agrees with the composite one, and so do the updates', async () => {
    const c = CASES[2]!;
    const fused = await runAdamW(cpuBackend, 'float32', c, true);
    const composite = await runAdamW(cpuBackend, 'float32', c, false);
    fused.norms.forEach((n, i) => {
      expect(Math.abs(n - composite.norms[i]!)).toBeLessThanOrEqual(2e-7 * composite.norms[i]!);
    });
    for (const k of ['params', 'm', 'v'] as const) {
      fused[k].forEach((a, i) => {
        expect(maxUlp32(a, composite[k][i]!), `${k}[${i}]`).toBeLessThanOrEqual(4);
      });
    }
    const f64 = await runAdamW(cpuBackend, 'float64', c, true);
    const c64 = await runAdamW(cpuBackend, 'float64', c, false);
    f64.norms.forEach((n, i) => {
      expect(Math.abs(n - c64.norms[i]!)).toBeLessThanOrEqual(1e-12 * c64.norms[i]!);
    });
  });

  it('clipAndStep (the clip coefficient folded into the update) gives clipGradNorm + step bit for bit', async () => {
    // Gradients of scale 0.1, 1 and 10 in turn: norms about 0.5, 5 and 50, so steps both within
    // the bound (coefficient 1, no multiply) and clipped.
    const c = { ...CASES[2]!, steps: 6 };
    for (const dtype of ['float32', 'float64'] as const) {
      for (const fused of [true, false]) {
        const separate = await runAdamW(cpuBackend, dtype, c, fused);
        const folded = await runAdamW(cpuBackend, dtype, { ...c, clipMode: 'folded' }, fused);
        expect(separate.norms.some((n) => n < 1) && separate.norms.some((n) => n > 1)).toBe(true);
        expect(folded.norms).toEqual(separate.norms);
        for (const k of ['params', 'm', 'v'] as const) expect(folded[k], `${dtype} fused ${fused}: ${k}`).toEqual(separate[k]);
      }
    }
  });
});
