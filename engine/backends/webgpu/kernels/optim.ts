import type { OptimizerKernels, Storage } from '../../../backend.ts';
import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { reduce } from './reduce.ts';

/**
 * The optimiser kernels of engine/backend.ts in WGSL (shaders/adamw.wgsl, sum_squares.wgsl).
 * float32 only. The CPU loops in engine/optim/cpu.ts are the oracle.
 */

/** Elements each invocation of sum_squares.wgsl adds up (about). */
const PER_INVOCATION = 64;

export function webgpuOptimizerKernels(ctx: GpuContext, own: (s: Storage) => GpuStorage): OptimizerKernels {
  const f32 = (op: string, s: Storage): GpuStorage => {
    const g = own(s);
    if (g.dtype !== 'float32') throw new Error(`webgpu: ${op}: expected float32, got ${g.dtype}`);
    return g;
  };

  return {
    adamw(p, g, m, v, rowMask, rowSize, s) {
      const [gp, gg, gm, gv] = [p, g, m, v].map((x) => f32('AdamW', x)) as [GpuStorage, GpuStorage, GpuStorage, GpuStorage];
      const size = gp.size;
      const pOut = ctx.storage('float32', size);
      const mOut = ctx.storage('float32', size);
      const vOut = ctx.storage('float32', size);
      const vec4 = size % 4 === 0 && (rowMask === null || rowSize % 4 === 0);
      const lanes = vec4 ? 4 : 1;
      const n = size / lanes;
      // The per-step scalars are uniforms (rounded to f32 by setFloat, as the composite's
      // constant tensors are); parameters of equal size share one uniform buffer within a step.
      const params = new Params(12)
        .set(0, n)
        .set(1, rowSize)
        .set(2, lanes)
        .setFloat(3, s.gradScale)
        .setFloat(4, s.beta1)
        .setFloat(5, 1 - s.beta1)
        .setFloat(6, s.beta2)
        .setFloat(7, 1 - s.beta2)
        .setFloat(8, s.eps)
        .setFloat(9, s.decay)
        .setFloat(10, s.stepSize)
        .setFloat(11, s.bc2Sqrt);
      const buffers = [gp, gg, gm, gv, pOut, mOut, vOut];
      if (rowMask !== null) {
        const mask = own(rowMask);
        if (mask.dtype !== 'bool') throw new Error(`webgpu: AdamW: expected a bool row mask, got ${mask.dtype}`);
        buffers.push(mask);
      }
      if (n > 0) {
        ctx.run('AdamW', { file: 'adamw.wgsl', defines: { T: vec4 ? 'vec4<f32>' : 'f32', MASKED: rowMask !== null } }, params, buffers, ctx.grid1D(n));
      }
      return { p: pOut, m: mOut, v: vOut };
    },

    sumOfSquares(gs) {
      const inputs = gs.map((x) => f32('sumOfSquares', x));
      const threads = inputs.map((x) => Math.max(1, Math.ceil(x.size / PER_INVOCATION)));
      const total = threads.reduce((a, b) => a + b, 0);
      const partials = ctx.storage('float32', total);
      let base = 0;
      inputs.forEach((x, j) => {
        const p = new Params(4).set(0, x.size).set(1, threads[j]!).set(2, base);
        ctx.run('sumOfSquares', { file: 'sum_squares.wgsl' }, p, [x, partials], ctx.grid1D(threads[j]!));
        base += threads[j]!;
      });
      const out = reduce(ctx, 'sum', partials, [total], [0]);
      ctx.release(partials);
      return out;
    },
  };
}
