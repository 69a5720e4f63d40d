import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyRotary,
  crossEntropy,
  Generator,
  matmulAddScaled,
  noGrad,
  rmsNorm,
  scaledDotProductAttention,
  setFusion,
  siluMul,
  softmax,
  tensor,
  type Backend,
  type Tensor,
} from '../../../../engine/index.ts';
import { availableBackends } from '../../../helpers/backends.ts';
import { gradcheck, randomValues } from '../../../helpers/gradcheck.ts';

/**
 * The fused primitives (engine/ops/fused/ops.ts) against their composites, forward and backward, on
 * every backend, on random shapes including sizes that are no multiple of any tile (1, 3, 17…);
 * and float64 finite-difference checks of the fused gradients on the CPU backend.
 */
let backends: Backend[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

const size = fc.constantFrom(1, 2, 3, 4, 5, 8, 17);
const seedArb = fc.integer({ min: 1, max: 1_000_000 });
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Input {
  values: Float64Array | Int32Array | Uint8Array;
  shape: number[];
  kind?: 'float' | 'int32' | 'bool';
  grad?: boolean;
}

/** f(inputs) and d(Σ f·u)/d(each float input), run with fusion on or off. */
async function run(
  backend: Backend,
  fused: boolean,
  f: (...t: Tensor[]) => Tensor,
  inputs: Input[],
  seed: number,
): Promise<{ out: number[]; grads: Array<number[] | null> }> {
  const previous = setFusion(fused);
  try {
    const ts = inputs.map((x) => {
      const kind = x.kind ?? 'float';
      const dtype = kind === 'float' ? 'float32' : kind;
      const data = kind === 'float' ? Float32Array.from(x.values) : x.values;
      return tensor(data, x.shape, { dtype, backend, requiresGrad: kind === 'float' && x.grad !== false });
    });
    const out = f(...ts);
    const u = tensor(Float32Array.from(randomValues(out.size, new Generator(seed))), [...out.shape], { backend });
    out.backward(u);
    const grads = await Promise.all(ts.map(async (t) => (t.grad ? Array.from(await t.grad.toArray()) : null)));
    return { out: Array.from(await out.toArray()), grads };
  } finally {
    setFusion(previous);
  }
}

function close(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (Number.isNaN(got[i]) && Number.isNaN(want[i])) continue; // e.g. a mean over no kept target
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol * (1 + Math.abs(want[i]!)))) {
      throw new Error(`${what}: element ${i} got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
    }
  }
}

/** fused == composite on every backend, forward and gradients. */
async function agree(name: string, f: (...t: Tensor[]) => Tensor, inputs: Input[], seed: number, tol = 2e-5): Promise<void> {
  for (const backend of backends) {
    const a = await run(backend, true, f, inputs, seed);
    const b = await run(backend, false, f, inputs, seed);
    close(a.out, b.out, tol, `${name} on ${backend.name}: forward`);
    a.grads.forEach((g, i) => {
      if (g === null || b.grads[i] === null) {
        expect(g === null, `${name} on ${backend.name}: gradient ${i} present`).toBe(b.grads[i] === null);
        return;
      }
      close(g, b.grads[i]!, tol * 5, `${name} on ${backend.name}: gradient of input ${i}`);
    });
  }
}

const floats = (shape: number[], seed: number, low = -2, high = 2): Input => ({ values: randomValues(numel(shape), new Generator(seed), low, high), shape });

/** A causal mask with left padding per batch row; some rows have no allowed key at all. */
/**
 * A causal mask with left padding (rows of padding attend to nothing), or, `scattered`, each pair
 * allowed with probability ½ (gaps before, between and after a row's allowed keys, and some rows
 * and some keys with none): the attention kernels skip the masked pairs at either end.
 */
function mask(batch: number, seq: number, keys: number, seed: number, scattered = false): Input {
  const g = new Generator(seed);
  const values = new Uint8Array(batch * seq * keys);
  if (scattered) {
    for (let i = 0; i < values.length; i++) values[i] = g.uniform(0, 1) < 0.5 ? 1 : 0;
    return { values, shape: [batch, 1, 1, seq, keys], kind: 'bool' };
  }
  const past = keys - seq;
  for (let b = 0; b < batch; b++) {
    const pad = Math.floor(g.uniform(0, Math.min(keys, 3)));
    for (let s = 0; s < seq; s++) {
      for (let t = 0; t <= past + s && t < keys; t++) values[(b * seq + s) * keys + t] = t >= pad ? 1 : 0;
    }
  }
  return { values, shape: [batch, 1, 1, seq, keys], kind: 'bool' };
}

describe('fused ops equal their composites on every backend', () => {
  it('softmax (last axis)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(size, { minLength: 1, maxLength: 3 }), seedArb, async (shape, seed) => {
        await agree('softmax', (x) => softmax(x!, -1), [floats(shape, seed, -4, 4)], seed);
      }),
      { numRuns: 15 },
    );
  });

  it('rmsNorm', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(size, { minLength: 1, maxLength: 3 }), seedArb, fc.boolean(), async (shape, seed, wGrad) => {
        const cols = shape[shape.length - 1]!;
        await agree('rmsNorm', (x, w) => rmsNorm(x!, w!, 1e-5), [floats(shape, seed), { ...floats([cols], seed + 1, 0.5, 1.5), grad: wGrad }], seed);
      }),
      { numRuns: 15 },
    );
  });

  it('applyRotary', async () => {
    await fc.assert(
      fc.asyncProperty(size, size, size, fc.constantFrom(2, 4, 6, 8, 32), seedArb, async (batch, heads, seq, dim, seed) => {
        const table = (s: number) => ({ ...floats([batch, 1, seq, dim], s, -1, 1), grad: false });
        await agree('applyRotary', (x, c, s) => applyRotary(x!, c!, s!), [floats([batch, heads, seq, dim], seed), table(seed + 1), table(seed + 2)], seed);
      }),
      { numRuns: 15 },
    );
  });

  it('siluMul', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(size, { minLength: 1, maxLength: 3 }), seedArb, async (shape, seed) => {
        await agree('siluMul', (a, b) => siluMul(a!, b!), [floats(shape, seed, -6, 6), floats(shape, seed + 1)], seed);
      }),
      { numRuns: 15 },
    );
  });

  it('matmulAddScaled (a LoRA linear tail: base + scale·x·wᵀ)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(size, { minLength: 1, maxLength: 2 }),
        size,
        fc.constantFrom(3, 16),
        fc.constantFrom(2, 0.7),
        seedArb,
        async (rows, n, k, scale, seed) => {
          await agree(
            'matmulAddScaled',
            (base, x, w) => matmulAddScaled(base!, x!, w!, scale),
            [floats([...rows, n], seed), floats([...rows, k], seed + 1), floats([n, k], seed + 2)],
            seed,
          );
        },
      ),
      { numRuns: 15 },
    );
  });

  it('crossEntropy (with ignored targets)', async () => {
    await fc.assert(
      fc.asyncProperty(size, size, seedArb, async (rows, cols, seed) => {
        const g = new Generator(seed);
        const targets = Int32Array.from({ length: rows }, () => (g.uniform(0, 1) < 0.25 ? -100 : Math.floor(g.uniform(0, cols))));
        await agree(
          'crossEntropy',
          (x, t) => crossEntropy(x!, t!),
          [floats([rows, cols], seed, -5, 5), { values: targets, shape: [rows], kind: 'int32' }],
          seed,
        );
      }),
      { numRuns: 15 },
    );
  });

  it('scaledDotProductAttention (causal + padding or scattered mask, grouped-query heads)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2, 3),
        fc.constantFrom(1, 2),
        fc.constantFrom(1, 2, 3),
        size,
        fc.constantFrom(0, 2),
        fc.constantFrom(3, 4, 8, 32),
        fc.boolean(),
        seedArb,
        async (batch, kvHeads, group, seq, past, dim, scattered, seed) => {
          const keys = seq + past;
          const heads = kvHeads * group;
          await agree(
            'attention',
            (q, k, v, m) => scaledDotProductAttention(q!, k!, v!, m!),
            [
              floats([batch, heads, seq, dim], seed),
              floats([batch, kvHeads, keys, dim], seed + 1),
              floats([batch, kvHeads, keys, dim], seed + 2),
              mask(batch, seq, keys, seed, scattered),
            ],
            seed,
          );
        },
      ),
      { numRuns: 20 },
    );
  });

  it('scaledDotProductAttention with few queries over a long cache (a decode step: the keys are split between invocations)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2),
        fc.constantFrom(1, 2, 3, 4),
        fc.constantFrom(15, 16, 40, 130),
        fc.constantFrom(4, 32, 128),
        fc.boolean(),
        seedArb,
        async (batch, seq, past, dim, scattered, seed) => {
          const keys = seq + past;
          await agree(
            'attention',
            (q, k, v, m) => scaledDotProductAttention(q!, k!, v!, m!),
            [
              floats([batch, 4, seq, dim], seed),
              floats([batch, 2, keys, dim], seed + 1),
              floats([batch, 2, keys, dim], seed + 2),
              mask(batch, seq, keys, seed, scattered),
            ],
            seed,
          );
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('fused gradients pass float64 finite-difference checks (CPU)', () => {
  const TOL = 1e-6;
  const f64 = (shape: number[], seed: number, low = -2, high = 2) => ({ values: randomValues(numel(shape), new Generator(seed), low, high), shape });

  it('softmax, rmsNorm, siluMul, applyRotary, matmulAddScaled', async () => {
    for (const seed of [1, 2, 3]) {
      const r1 = await gradcheck((x) => softmax(x!, -1), [f64([3, 5], seed)], seed);
      expect(r1.maxError, r1.where).toBeLessThan(TOL);
      const r2 = await gradcheck((x, w) => rmsNorm(x!, w!, 1e-3), [f64([2, 3, 4], seed), f64([4], seed + 1, 0.5, 1.5)], seed);
      expect(r2.maxError, r2.where).toBeLessThan(TOL);
      const r3 = await gradcheck((a, b) => siluMul(a!, b!), [f64([7], seed, -4, 4), f64([7], seed + 1)], seed);
      expect(r3.maxError, r3.where).toBeLessThan(TOL);
      const r4 = await gradcheck(
        (x, c, s) => applyRotary(x!, c!, s!),
        [f64([2, 3, 2, 4], seed), { ...f64([2, 1, 2, 4], seed + 1), differentiable: false }, { ...f64([2, 1, 2, 4], seed + 2), differentiable: false }],
        seed,
      );
      expect(r4.maxError, r4.where).toBeLessThan(TOL);
      const r5 = await gradcheck((b, x, w) => matmulAddScaled(b!, x!, w!, 0.7), [f64([2, 3, 5], seed), f64([2, 3, 4], seed + 1), f64([5, 4], seed + 2)], seed);
      expect(r5.maxError, r5.where).toBeLessThan(TOL);
    }
  });

  it('crossEntropy and attention', async () => {
    for (const seed of [1, 2]) {
      const r1 = await gradcheck(
        (x, t) => crossEntropy(x!, t!),
        [f64([4, 5], seed, -3, 3), { values: Float64Array.from([1, -100, 4, 0]), shape: [4], dtype: 'int32' }],
        seed,
      );
      expect(r1.maxError, r1.where).toBeLessThan(TOL);
      const m = mask(2, 3, 4, seed);
      const r2 = await gradcheck(
        (q, k, v, a) => scaledDotProductAttention(q!, k!, v!, a!),
        [
          f64([2, 4, 3, 3], seed),
          f64([2, 2, 4, 3], seed + 1),
          f64([2, 2, 4, 3], seed + 2),
          { values: Float64Array.from(m.values), shape: m.shape, dtype: 'bool' },
        ],
        seed,
      );
      expect(r2.maxError, r2.where).toBeLessThan(TOL);
    }
  });

  it('the fused ops are used on the CPU backend (the graph records them)', () => {
    noGrad(() => undefined);
    const x = tensor([1, 2, 3, 4], [1, 4], { requiresGrad: true });
    expect(softmax(x, -1).node?.op).toBe('softmax');
    setFusion(false);
    try {
      expect(softmax(x, -1).node?.op).not.toBe('softmax');
    } finally {
      setFusion(true);
    }
  });
});
