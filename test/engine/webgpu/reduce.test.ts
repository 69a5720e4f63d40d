import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { acquireBackend, contiguous, expectClose, expectEqual, forEachIndex, product, randomArray, viewOffset } from './helpers.ts';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await acquireBackend();
});
afterAll(() => gpu?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!gpu) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return gpu!;
}

/** Reference reduce: the result keeps reduced axes as size 1. */
function reduceRef(op: 'sum' | 'max', data: number[], shape: number[], axes: number[]): number[] {
  const outShape = shape.map((n, d) => (axes.includes(d) ? 1 : n));
  const out = new Array<number>(product(outShape)).fill(op === 'sum' ? 0 : -Infinity);
  const outView = contiguous(outShape);
  forEachIndex(shape, (idx, flat) => {
    const o = viewOffset(
      idx.map((i, d) => (axes.includes(d) ? 0 : i)),
      outView,
    );
    out[o] = op === 'sum' ? out[o] + data[flat] : Math.max(out[o], data[flat]);
  });
  return out;
}

/**
 * Sums in f32 round differently from the float64 reference; the error grows with Σ|x|, not with
 * the (possibly cancelled) result, so the tolerance is relative to Σ|x|. Max must be exact.
 */
function expectSumClose(got: ArrayLike<number>, data: number[], shape: number[], axes: number[], op: 'sum' | 'max'): void {
  const want = reduceRef(op, data, shape, axes);
  if (op === 'max') {
    expectClose(got, want, 0, 0, `max [${shape}] axes ${axes}`);
    return;
  }
  const scale = reduceRef('sum', data.map(Math.abs), shape, axes);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > 1e-6 + 1e-6 * scale[i]) {
      throw new Error(`sum [${shape}] axes ${axes}: element ${i}: got ${got[i]}, want ${want[i]} (Σ|x| ${scale[i]})`);
    }
  }
}

const shapes = fc.array(fc.constantFrom(1, 2, 3, 5, 17, 64), { minLength: 1, maxLength: 4 });

describe('reduce', () => {
  it('sum and max over any set of axes, float32', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(shapes, fc.nat(1000), fc.constantFrom('sum' as const, 'max' as const), async (shape, seed, op) => {
        const axes = shape.map((_, d) => d).filter((d) => randomArray(1, seed + d)[0] > 0);
        const data = randomArray(product(shape), seed);
        const x = g.upload('float32', Float32Array.from(data));
        const out = g.reduce(op, x, shape, axes);
        expect(out.dtype).toBe('float32');
        expectSumClose(await g.read(out), data, shape, axes, op);
      }),
      { numRuns: 60 },
    );
  });

  it('sum of int32 and bool gives int32; max keeps the dtype', async (t) => {
    const g = need(t);
    const shape = [3, 17];
    const ints = randomArray(51, 3, -100, 100, true);
    const bools = randomArray(51, 4, 0, 2, true);
    const i = g.upload('int32', Int32Array.from(ints));
    const b = g.upload('bool', Uint8Array.from(bools));
    const si = g.reduce('sum', i, shape, [1]);
    const sb = g.reduce('sum', b, shape, [0, 1]);
    const mb = g.reduce('max', b, shape, [1]);
    expect([si.dtype, sb.dtype, mb.dtype]).toEqual(['int32', 'int32', 'bool']);
    expectEqual(await g.read(si), reduceRef('sum', ints, shape, [1]));
    expectEqual(await g.read(sb), reduceRef('sum', bools, shape, [0, 1]));
    expectEqual(await g.read(g.reduce('max', i, shape, [0])), reduceRef('max', ints, shape, [0]));
    expectEqual(await g.read(mb), reduceRef('max', bools, shape, [1]));
  });

  it('splits long reductions with few outputs into chunks (and gets them right)', async (t) => {
    const g = need(t);
    for (const [shape, axes] of [
      [[300_001], [0]],
      [[3, 70_001], [1]],
      [[5000, 3], [0]],
      [
        [2, 999, 7],
        [0, 2],
      ],
    ] as const) {
      const data = randomArray(product(shape), shape.length);
      const x = g.upload('float32', Float32Array.from(data));
      expectSumClose(await g.read(g.reduce('sum', x, [...shape], [...axes])), data, [...shape], [...axes], 'sum');
      expectClose(await g.read(g.reduce('max', x, [...shape], [...axes])), reduceRef('max', data, [...shape], [...axes]), 0, 0, `max [${shape}]`);
    }
    const ints = g.upload('int32', new Int32Array(100_000).fill(3));
    expectEqual(await g.read(g.reduce('sum', ints, [100_000], [0])), [300_000]);
  });

  it('max of all -Infinity is -Infinity', async (t) => {
    const g = need(t);
    const x = g.upload('float32', new Float32Array(4).fill(-Infinity));
    expectEqual(await g.read(g.reduce('max', x, [4], [0])), [-Infinity]);
  });
});

describe('argmax', () => {
  it('gives the first maximum along any axis', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(shapes, fc.nat(1000), async (shape, seed) => {
        const axis = seed % shape.length;
        // Few distinct values, so ties are common.
        const data = randomArray(product(shape), seed, 0, 4, true);
        const x = g.upload('float32', Float32Array.from(data));
        const outShape = shape.map((n, d) => (d === axis ? 1 : n));
        const want: number[] = [];
        forEachIndex(outShape, (idx) => {
          let best = -Infinity;
          let bestJ = 0;
          for (let j = 0; j < shape[axis]; j++) {
            const v =
              data[
                viewOffset(
                  idx.map((i, d) => (d === axis ? j : i)),
                  contiguous(shape),
                )
              ];
            if (v > best) {
              best = v;
              bestJ = j;
            }
          }
          want.push(bestJ);
        });
        const out = g.argmax(x, shape, axis);
        expect(out.dtype).toBe('int32');
        expectEqual(await g.read(out), want);
      }),
      { numRuns: 40 },
    );
  });
});

describe('topk', () => {
  it('returns the k largest, descending, ties lower index first', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(1, 3, 17), fc.constantFrom(1, 5, 257), fc.nat(1000), async (rows, cols, seed) => {
        const k = 1 + (seed % cols);
        const data = randomArray(rows * cols, seed, 0, 6, true);
        const x = g.upload('float32', Float32Array.from(data));
        const { values, indices } = g.topk(x, rows, cols, Math.min(k, 20));
        const kk = Math.min(k, 20);
        const wantV: number[] = [];
        const wantI: number[] = [];
        for (let r = 0; r < rows; r++) {
          const order = Array.from({ length: cols }, (_, j) => j).sort((p, q) => data[r * cols + q] - data[r * cols + p] || p - q);
          for (const j of order.slice(0, kk)) {
            wantV.push(data[r * cols + j]);
            wantI.push(j);
          }
        }
        expect(indices.dtype).toBe('int32');
        expectEqual(await g.read(values), wantV);
        expectEqual(await g.read(indices), wantI);
      }),
      { numRuns: 25 },
    );
  });
});

describe('gather and scatterAdd', () => {
  const gatherCase = fc.tuple(fc.array(fc.constantFrom(1, 2, 3, 5, 17), { minLength: 1, maxLength: 4 }), fc.nat(1000));

  it('gather follows torch.gather (index smaller than x in other dimensions too)', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(gatherCase, fc.constantFrom('float32' as const, 'int32' as const), async ([shape, seed], dtype) => {
        const axis = seed % shape.length;
        const indexShape = shape.map((n, d) => (d === axis ? 1 + (seed % 4) : 1 + ((seed >> d) % n)));
        const data = randomArray(product(shape), seed, -50, 50, true);
        const index = randomArray(product(indexShape), seed + 1, 0, shape[axis], true);
        const x = dtype === 'float32' ? g.upload(dtype, Float32Array.from(data)) : g.upload(dtype, Int32Array.from(data));
        const out = g.gather(x, shape, axis, g.upload('int32', Int32Array.from(index)), indexShape);
        const want: number[] = [];
        forEachIndex(indexShape, (idx, flat) => {
          want.push(
            data[
              viewOffset(
                idx.map((i, d) => (d === axis ? index[flat] : i)),
                contiguous(shape),
              )
            ],
          );
        });
        expect(out.dtype).toBe(dtype);
        expectEqual(await g.read(out), want);
      }),
      { numRuns: 40 },
    );
  });

  it('scatterAdd follows torch.scatter_add, with repeated indices', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(gatherCase, async ([shape, seed]) => {
        const axis = seed % shape.length;
        const indexShape = shape.map((n, d) => (d === axis ? 1 + (seed % 7) : 1 + ((seed >> d) % n)));
        const base = randomArray(product(shape), seed);
        const src = randomArray(product(indexShape), seed + 2);
        const index = randomArray(product(indexShape), seed + 1, 0, shape[axis], true);
        const out = g.scatterAdd(
          g.upload('float32', Float32Array.from(base)),
          shape,
          axis,
          g.upload('int32', Int32Array.from(index)),
          g.upload('float32', Float32Array.from(src)),
          indexShape,
        );
        const want = Float32Array.from(base);
        forEachIndex(indexShape, (idx, flat) => {
          want[
            viewOffset(
              idx.map((i, d) => (d === axis ? index[flat] : i)),
              contiguous(shape),
            )
          ] += src[flat];
        });
        expectClose(await g.read(out), want, 1e-6, 1e-6);
      }),
      { numRuns: 40 },
    );
  });

  it('scatterAdd is deterministic for an embedding-style backward (many rows hit one entry)', async (t) => {
    const g = need(t);
    const [vocab, dim, tokens] = [7, 33, 500];
    const ids = randomArray(tokens, 9, 0, 3, true);
    const index = ids.flatMap((id) => new Array(dim).fill(id));
    const src = randomArray(tokens * dim, 10);
    const run = async () =>
      await g.read(
        g.scatterAdd(g.alloc('float32', vocab * dim), [vocab, dim], 0, g.upload('int32', Int32Array.from(index)), g.upload('float32', Float32Array.from(src)), [
          tokens,
          dim,
        ]),
      );
    const first = await run();
    expectEqual(await run(), first);
    const want = new Float32Array(vocab * dim);
    for (let tkn = 0; tkn < tokens; tkn++) for (let j = 0; j < dim; j++) want[ids[tkn] * dim + j] += src[tkn * dim + j];
    expectEqual(first, want);
  });
});
