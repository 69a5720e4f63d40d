import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concat, crossEntropy, dropout, Generator, logSoftmax, maskedFill, mseLoss, softmax, stack, where, type Tensor } from '../../engine/index.ts';
import { gradcheck, randomValues } from '../helpers/gradcheck.ts';

/**
 * Finite-difference gradient checks in float64 (CPU backend) for every differentiable op, on
 * random shapes and values from fast-check, broadcasting and size-1 axes included.
 */

const TOLERANCE = 1e-6;
const RUNS = 12;

const dim = fc.integer({ min: 1, max: 3 });
const shapeArb = fc.array(dim, { minLength: 0, maxLength: 3 });
const seedArb = fc.integer({ min: 1, max: 1_000_000 });

/** A shape that broadcasts against `shape`: some axes set to 1, some leading axes dropped. */
const broadcastPartner = (shape: number[]) =>
  fc
    .tuple(fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }), fc.integer({ min: 0, max: shape.length }))
    .map(([ones, drop]) => shape.map((d, i) => (ones[i] ? 1 : d)).slice(drop));

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Values kept away from the kinks of abs/relu/maximum, where the derivative jumps. */
function awayFromZero(v: Float64Array): Float64Array {
  return v.map((x) => (Math.abs(x) < 0.05 ? x + 0.2 : x));
}

/** Values far enough apart that a tiny step never changes which one is largest. */
function distinct(n: number, g: Generator): Float64Array {
  const v = g.shuffle(Array.from({ length: n }, (_, i) => i * 0.37 - n * 0.18));
  return Float64Array.from(v.map((x) => x + g.uniform(0, 0.01)));
}

async function check(f: (...t: Tensor[]) => Tensor, inputs: Parameters<typeof gradcheck>[1], seed: number): Promise<void> {
  const { maxError, where: at } = await gradcheck(f, inputs, seed);
  expect(maxError, at).toBeLessThan(TOLERANCE);
}

const UNARY: Array<[string, (x: Tensor) => Tensor, (v: Float64Array) => Float64Array]> = [
  ['neg', (x) => x.neg(), (v) => v],
  ['exp', (x) => x.exp(), (v) => v],
  ['log', (x) => x.log(), (v) => v.map((x) => Math.abs(x) + 0.1)],
  ['sqrt', (x) => x.sqrt(), (v) => v.map((x) => Math.abs(x) + 0.1)],
  ['rsqrt', (x) => x.rsqrt(), (v) => v.map((x) => Math.abs(x) + 0.1)],
  ['abs', (x) => x.abs(), awayFromZero],
  ['sin', (x) => x.sin(), (v) => v],
  ['cos', (x) => x.cos(), (v) => v],
  ['tanh', (x) => x.tanh(), (v) => v],
  ['sigmoid', (x) => x.sigmoid(), (v) => v],
  ['relu', (x) => x.relu(), awayFromZero],
  ['silu', (x) => x.silu(), (v) => v],
];

describe('gradcheck: elementwise unary', () => {
  for (const [name, f, prepare] of UNARY) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(shapeArb, seedArb, async (shape, seed) => {
          await check(f, [{ values: prepare(randomValues(numel(shape), new Generator(seed))), shape }], seed);
        }),
        { numRuns: RUNS },
      );
    });
  }
});

const BINARY: Array<[string, (a: Tensor, b: Tensor) => Tensor, (v: Float64Array) => Float64Array, (v: Float64Array) => Float64Array]> = [
  ['add', (a, b) => a.add(b), (v) => v, (v) => v],
  ['sub', (a, b) => a.sub(b), (v) => v, (v) => v],
  ['mul', (a, b) => a.mul(b), (v) => v, (v) => v],
  ['div', (a, b) => a.div(b), (v) => v, (v) => v.map((x) => Math.sign(x || 1) * (Math.abs(x) + 0.5))],
  ['pow', (a, b) => a.pow(b), (v) => v.map((x) => Math.abs(x) + 0.2), (v) => v],
  ['maximum', (a, b) => a.maximum(b), (v) => v, (v) => v.map((x) => x + 0.013)],
  ['minimum', (a, b) => a.minimum(b), (v) => v, (v) => v.map((x) => x + 0.013)],
];

describe('gradcheck: elementwise binary with broadcasting', () => {
  for (const [name, f, prepA, prepB] of BINARY) {
    it(name, async () => {
      const arb = shapeArb.chain((shape) => fc.tuple(fc.constant(shape), broadcastPartner(shape), fc.boolean(), seedArb));
      await fc.assert(
        fc.asyncProperty(arb, async ([sa, sb, swap, seed]) => {
          const [shapeA, shapeB] = swap ? [sb, sa] : [sa, sb];
          const g = new Generator(seed);
          let va = prepA(randomValues(numel(shapeA), g));
          let vb = prepB(randomValues(numel(shapeB), g));
          if (name === 'maximum' || name === 'minimum') {
            va = distinct(numel(shapeA), g);
            vb = distinct(numel(shapeB), g).map((x) => x + 0.05);
          }
          await check(
            f,
            [
              { values: va, shape: shapeA },
              { values: vb, shape: shapeB },
            ],
            seed,
          );
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('where (condition broadcast against both branches)', async () => {
    const arb = shapeArb.chain((shape) => fc.tuple(fc.constant(shape), broadcastPartner(shape), broadcastPartner(shape), seedArb));
    await fc.assert(
      fc.asyncProperty(arb, async ([shape, sa, sb, seed]) => {
        const g = new Generator(seed);
        const cond = randomValues(numel(shape), g).map((x) => (x > 0 ? 1 : 0));
        await check(
          (c, a, b) => where(c, a, b),
          [
            { values: cond, shape, dtype: 'bool' },
            { values: randomValues(numel(sa), g), shape: sa },
            { values: randomValues(numel(sb), g), shape: sb },
          ],
          seed,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('maskedFill', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb.chain((s) => fc.tuple(fc.constant(s), broadcastPartner(s), seedArb)),
        async ([shape, ms, seed]) => {
          const g = new Generator(seed);
          await check(
            (x, m) => maskedFill(x, m, -3),
            [
              { values: randomValues(numel(shape), g), shape },
              { values: randomValues(numel(ms), g).map((x) => (x > 0 ? 1 : 0)), shape: ms, dtype: 'bool' },
            ],
            seed,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

/** A shape of rank ≥ 1 and a random subset of its axes (possibly negative). */
const reduceArb = fc.array(dim, { minLength: 1, maxLength: 3 }).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc
      .subarray(
        shape.map((_, i) => i),
        { minLength: 1 },
      )
      .chain((axes) => fc.constant(axes.map((a) => (a % 2 ? a - shape.length : a)))),
    fc.boolean(),
    seedArb,
  ),
);

describe('gradcheck: reductions over any axes', () => {
  const REDUCTIONS: Array<[string, (x: Tensor, axes: number[], keep: boolean) => Tensor]> = [
    ['sum', (x, a, k) => x.sum(a, k)],
    ['mean', (x, a, k) => x.mean(a, k)],
    ['max', (x, a, k) => x.max(a, k)],
    ['logsumexp', (x, a, k) => x.logsumexp(a, k)],
  ];
  for (const [name, f] of REDUCTIONS) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(reduceArb, async ([shape, axes, keep, seed]) => {
          const values = name === 'max' ? distinct(numel(shape), new Generator(seed)) : randomValues(numel(shape), new Generator(seed));
          await check((x) => f(x, axes, keep), [{ values, shape }], seed);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('sum over all axes and max with tied maxima share the gradient like PyTorch (amax)', async () => {
    await check((x) => x.sum(), [{ values: Float64Array.from([1, 2, 3, 4]), shape: [2, 2] }], 3);
    const x = (await import('../../engine/index.ts')).tensor(Float64Array.from([1, 5, 5, 2]), [4], { requiresGrad: true });
    x.max().backward();
    expect(Array.from(await x.grad!.toArray())).toEqual([0, 0.5, 0.5, 0]);
  });
});

describe('gradcheck: matmul', () => {
  it('batched, broadcasting, either operand transposed, vectors', async () => {
    const arb = fc.record({
      m: dim,
      n: dim,
      k: dim,
      batchA: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }),
      bBatchMode: fc.constantFrom('same', 'none', 'ones'),
      transA: fc.boolean(),
      transB: fc.boolean(),
      vectorA: fc.boolean(),
      vectorB: fc.boolean(),
      seed: seedArb,
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ m, n, k, batchA, bBatchMode, transA, transB, vectorA, vectorB, seed }) => {
        const batchB = bBatchMode === 'same' ? batchA : bBatchMode === 'none' ? [] : batchA.map(() => 1);
        const aVec = vectorA && batchA.length === 0;
        const bVec = vectorB && batchB.length === 0;
        const shapeA = aVec ? [k] : [...batchA, ...(transA ? [k, m] : [m, k])];
        const shapeB = bVec ? [k] : [...batchB, ...(transB ? [n, k] : [k, n])];
        const g = new Generator(seed);
        await check(
          (a, b) => a.matmul(b, { transA, transB }),
          [
            { values: randomValues(numel(shapeA), g), shape: shapeA },
            { values: randomValues(numel(shapeB), g), shape: shapeB },
          ],
          seed,
        );
      }),
      { numRuns: 30 },
    );
  });
});

describe('gradcheck: layout', () => {
  const rank1plus = fc.array(dim, { minLength: 1, maxLength: 3 });
  const run = (name: string, arb: fc.Arbitrary<[number[], (x: Tensor) => Tensor]>) =>
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(arb, seedArb, async ([shape, f], seed) => {
          await check(f, [{ values: randomValues(numel(shape), new Generator(seed)), shape }], seed);
        }),
        { numRuns: RUNS },
      );
    });

  run(
    'reshape',
    rank1plus.map((s) => [s, (x: Tensor) => x.reshape([-1])]),
  );
  run(
    'permute',
    rank1plus.chain((s) =>
      fc
        .shuffledSubarray(
          s.map((_, i) => i),
          { minLength: s.length, maxLength: s.length },
        )
        .map((perm) => [s, (x: Tensor) => x.permute(perm)] as [number[], (x: Tensor) => Tensor]),
    ),
  );
  run(
    'transpose',
    rank1plus.map((s) => [s, (x: Tensor) => x.transpose(0, -1)]),
  );
  run(
    'expand',
    rank1plus.chain((s) => fc.constant([s.map(() => 1), (x: Tensor) => x.expand([2, ...s])] as [number[], (x: Tensor) => Tensor])),
  );
  run(
    'slice',
    rank1plus.chain((s) =>
      fc
        .tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.nat(3), fc.nat(3))
        .map(([axis, a, b]) => [s, (x: Tensor) => x.slice(axis, Math.min(a, b), Math.max(a, b) + 1)] as [number[], (x: Tensor) => Tensor]),
    ),
  );
  run(
    'split',
    rank1plus.map((s) => [s, (x: Tensor) => concat(x.split(1, 0).reverse(), 0).mul(2)]),
  );
  run(
    'pad',
    rank1plus.chain((s) =>
      fc
        .array(fc.tuple(fc.nat(2), fc.nat(2)), { minLength: s.length, maxLength: s.length })
        .map((pads) => [s, (x: Tensor) => x.pad(pads, 0.5)] as [number[], (x: Tensor) => Tensor]),
    ),
  );

  it('concat and stack of several inputs', async () => {
    await fc.assert(
      fc.asyncProperty(rank1plus, fc.nat(5), seedArb, async (shape, extra, seed) => {
        const g = new Generator(seed);
        const other = shape.map((d, i) => (i === 0 ? (extra % 3) + 1 : d));
        await check(
          (a, b) => concat([a, b, a], 0),
          [
            { values: randomValues(numel(shape), g), shape },
            { values: randomValues(numel(other), g), shape: other },
          ],
          seed,
        );
        await check(
          (a, b) => stack([a, b], -1),
          [
            { values: randomValues(numel(shape), g), shape },
            { values: randomValues(numel(shape), g), shape },
          ],
          seed,
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe('gradcheck: indexing', () => {
  it('gather, scatterAdd (both sides), scatter, indexSelect', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        seedArb,
        async (rows, cols, picks, seed) => {
          const g = new Generator(seed);
          const index = Float64Array.from({ length: picks * cols }, () => g.int(rows));
          const ids = Float64Array.from({ length: picks }, () => g.int(rows));
          const unique = Float64Array.from(g.shuffle(Array.from({ length: rows }, (_, i) => i)).slice(0, Math.min(picks, rows)));
          await check(
            (x, i) => x.gather(0, i),
            [
              { values: randomValues(rows * cols, g), shape: [rows, cols] },
              { values: index, shape: [picks, cols], dtype: 'int32' },
            ],
            seed,
          );
          await check(
            (base, i, src) => base.scatterAdd(0, i, src),
            [
              { values: randomValues(rows * cols, g), shape: [rows, cols] },
              { values: index, shape: [picks, cols], dtype: 'int32' },
              { values: randomValues(picks * cols, g), shape: [picks, cols] },
            ],
            seed,
          );
          const uniqueIndex = Float64Array.from({ length: unique.length * cols }, (_, j) => unique[Math.floor(j / cols)]!);
          await check(
            (base, i, src) => base.scatter(0, i, src),
            [
              { values: randomValues(rows * cols, g), shape: [rows, cols] },
              { values: uniqueIndex, shape: [unique.length, cols], dtype: 'int32' },
              { values: randomValues(unique.length * cols, g), shape: [unique.length, cols] },
            ],
            seed,
          );
          await check(
            (x, i) => x.indexSelect(0, i),
            [
              { values: randomValues(rows * cols, g), shape: [rows, cols] },
              { values: ids, shape: [picks], dtype: 'int32' },
            ],
            seed,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('gradcheck: nn functions', () => {
  const rowsArb = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), seedArb);
  it('softmax and logSoftmax along any axis', async () => {
    await fc.assert(
      fc.asyncProperty(reduceArb, async ([shape, axes, , seed]) => {
        const values = randomValues(numel(shape), new Generator(seed), -4, 4);
        await check((x) => softmax(x, axes[0]!), [{ values, shape }], seed);
        await check((x) => logSoftmax(x, axes[0]!), [{ values, shape }], seed);
      }),
      { numRuns: RUNS },
    );
  });
  it('crossEntropy with ignored targets', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, async ([rows, classes, seed]) => {
        const g = new Generator(seed);
        const targets = Float64Array.from({ length: rows }, (_, i) => (i > 0 && g.random() < 0.3 ? -100 : g.int(classes)));
        await check(
          (x, t) => crossEntropy(x, t),
          [
            { values: randomValues(rows * classes, g, -3, 3), shape: [rows, classes] },
            { values: targets, shape: [rows], dtype: 'int32' },
          ],
          seed,
        );
      }),
      { numRuns: RUNS },
    );
  });
  it('mseLoss and seeded dropout in training', async () => {
    await fc.assert(
      fc.asyncProperty(shapeArb, seedArb, async (shape, seed) => {
        const g = new Generator(seed);
        await check(
          (a, b) => mseLoss(a, b),
          [
            { values: randomValues(numel(shape), g), shape },
            { values: randomValues(numel(shape), g), shape },
          ],
          seed,
        );
        await check((x) => dropout(x, 0.3, { training: true, generator: new Generator(seed) }), [{ values: randomValues(numel(shape), g), shape }], seed);
      }),
      { numRuns: RUNS },
    );
  });
});
