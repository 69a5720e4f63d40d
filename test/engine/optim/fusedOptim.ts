import { keep, tensor, tidy, type Backend, type Tensor } from '../../../engine/index.ts';
import type { DType } from '../../../engine/dtype.ts';
import { Parameter } from '../../../engine/nn/index.ts';
import { AdamW, clipAndStep, clipGradNorm, setOptimizerFusion } from '../../../engine/optim/index.ts';

/**
 * Shared by the fused-optimiser tests on both backends: runs the same AdamW steps (with random
 * gradients, an optional row mask, weight decay, clipping) through the fused kernel and through
 * the composite, and returns every parameter and moment as host arrays.
 */

/** Seeded numbers in [-1, 1) (mulberry32). */
export function randomValues(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  });
}

export interface Case {
  shapes: number[][];
  /** Trainable rows per parameter (null: all). */
  rows?: Array<number[] | null>;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  steps: number;
  clip?: number;
  /** With `clip`: clipGradNorm then step (default), or clipAndStep (the coefficient folded into the update). */
  clipMode?: 'separate' | 'folded';
  seed: number;
}

export interface Run {
  params: number[][];
  m: number[][];
  v: number[][];
  norms: number[];
}

export async function runAdamW(backend: Backend, dtype: DType, c: Case, fused: boolean): Promise<Run> {
  const make = (values: number[], shape: number[]): Tensor => {
    const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
    return tensor(data, shape, { dtype, backend });
  };
  const params = c.shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const p = new Parameter(make(randomValues(size, c.seed + i), shape), { name: `p${i}` });
    const rows = c.rows?.[i];
    if (rows) p.setTrainableRows(rows);
    return p;
  });
  const opt = new AdamW(
    params.map((p) => [p.name, p] as const),
    {
      lr: c.lr,
      betas: c.betas,
      eps: c.eps,
      weightDecay: c.weightDecay,
      fused,
    },
  );
  const norms: number[] = [];
  for (let step = 0; step < c.steps; step++) {
    params.forEach((p, i) => {
      // Gradients of varying scale, some exactly zero.
      const g = randomValues(p.size, c.seed * 7919 + step * 31 + i, 10 ** ((step % 3) - 1)).map((x, j) => (j % 11 === 0 ? 0 : x));
      p.grad = keep(make(g, [...p.shape]));
    });
    const previous = setOptimizerFusion(fused);
    try {
      if (c.clip !== undefined && c.clipMode === 'folded') {
        norms.push(await clipAndStep(opt, c.clip));
      } else {
        if (c.clip !== undefined) {
          const norm = clipGradNorm(params, c.clip);
          norms.push(await norm.item());
          norm.dispose();
        }
        tidy(() => opt.step());
      }
    } finally {
      setOptimizerFusion(previous);
    }
    opt.zeroGrad();
  }
  const read = async (t: Tensor) => Array.from(await t.toArray());
  const state = opt.stateDict().tensors;
  const out: Run = {
    params: await Promise.all(params.map(read)),
    // Moments (zeros before the first step).
    m: await Promise.all(params.map((p) => (state[`${p.name}.exp_avg`] ? read(state[`${p.name}.exp_avg`]!) : new Array<number>(p.size).fill(0)))),
    v: await Promise.all(params.map((p) => (state[`${p.name}.exp_avg_sq`] ? read(state[`${p.name}.exp_avg_sq`]!) : new Array<number>(p.size).fill(0)))),
    norms,
  };
  for (const t of Object.values(state)) t.dispose();
  opt.dispose();
  params.forEach((p) => {
    p.dispose();
  });
  return out;
}

/** Largest distance in units in the last place (float32) between two arrays; 0 when bitwise equal. */
export function maxUlp32(a: readonly number[], b: readonly number[]): number {
  const f = new Float32Array(1);
  const i = new Int32Array(f.buffer);
  const key = (x: number) => {
    f[0] = x;
    return i[0]! < 0 ? -0x80000000 - i[0]! : i[0]!; // monotonic integer order of floats
  };
  let worst = 0;
  for (let j = 0; j < a.length; j++) {
    if (Object.is(a[j], b[j]) || (a[j] === 0 && b[j] === 0)) continue;
    worst = Math.max(worst, Math.abs(key(a[j]!) - key(b[j]!)));
  }
  return worst;
}
