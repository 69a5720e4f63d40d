import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { BinaryOp, UnaryOp } from '../../../engine/backend.ts';
import type { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { BINARY_OPS, binaryOps, isComparison, UNARY_OPS, unaryOps } from '../../../engine/ops/elementwise/ops.ts';
import { acquireBackend, contiguous, expectClose, expectEqual, forEachIndex, randomArray, randomView, viewOffset } from './helpers.ts';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await acquireBackend();
});
afterAll(() => gpu?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!gpu) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return gpu!;
}

const f32 = Math.fround;

/** Ops whose inputs are drawn positive (their domain). */
const POSITIVE_DOMAIN: ReadonlySet<UnaryOp> = new Set(['log', 'sqrt', 'rsqrt']);

describe('unary', () => {
  it('matches the CPU table of every listed op on float32 (including sizes that are not multiples of the workgroup)', async (t) => {
    const g = need(t);
    for (const op of UNARY_OPS) {
      const positive = POSITIVE_DOMAIN.has(op);
      for (const n of [1, 257]) {
        const data = randomArray(n, n + op.length, positive ? 0.01 : -6, 6);
        if (!positive && n > 1) data[1] = 0;
        const x = g.upload('float32', Float32Array.from(data));
        const got = await g.read(g.unary(op, x));
        // The integer-capable ops are exact (no rounding in them); the rest within float32 rounding.
        const exact = unaryOps[op].integer === true;
        expectClose(
          got,
          data.map((v) => f32(unaryOps[op].cpu(v))),
          exact ? 0 : 2e-6,
          exact ? 0 : 2e-6,
          op,
        );
      }
    }
  });

  it('neg, abs, sign and relu are exact on int32; the rest truncate', async (t) => {
    const g = need(t);
    const data = [-5, -1, 0, 1, 7, 123456789, -123456789];
    const x = g.upload('int32', Int32Array.from(data));
    for (const op of UNARY_OPS.filter((o) => unaryOps[o].integer)) {
      expectEqual(
        await g.read(g.unary(op, x)),
        data.map((v) => unaryOps[op].cpu(v) | 0),
        op,
      );
    }
    const small = g.upload('int32', Int32Array.from([0, 1, 2, 3]));
    expectEqual(await g.read(g.unary('exp', small)), [1, 2, 7, 20], 'exp');
  });
});

/** Values that exercise each op: small integers so comparisons see ties, no zero divisors. */
function operands(op: BinaryOp, n: number, seed: number, dtype: 'float32' | 'int32'): [number[], number[]] {
  const int = dtype === 'int32';
  if (op === 'pow') {
    // Negative bases with integer exponents (Math.pow's sign rule) and positive bases with any.
    const a = randomArray(n, seed, -3, 3, int);
    const b = randomArray(n, seed + 1, -3, 3, true).map((v, i) => (a[i] > 0 && !int ? v + 0.5 : v));
    return [a, b];
  }
  const a = randomArray(n, seed, -4, 4, true).map((v, i) => (int || i % 3 ? v : v + 0.25));
  const b = randomArray(n, seed + 1, -4, 4, true).map((v) => (op === 'div' && v === 0 ? 3 : v));
  return [a, b];
}

describe('binary', () => {
  it('matches the reference on random shapes, transposed, broadcast and offset views', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(1, 2, 3, 5, 17), { maxLength: 4 }),
        fc.constantFrom(...BINARY_OPS),
        fc.constantFrom('float32' as const, 'int32' as const),
        fc.nat(1000),
        async (shape, op, dtype, seed) => {
          const A = randomView(shape, seed);
          const B = randomView(shape, seed + 7);
          const [ad, bd] = operands(op, Math.max(A.size, B.size), seed, dtype);
          const Type = dtype === 'float32' ? Float32Array : Int32Array;
          const a = g.upload(dtype, Type.from(ad.slice(0, A.size)));
          const b = g.upload(dtype, Type.from(bd.slice(0, B.size)));
          const out = g.binary(op, shape, a, A.view, b, B.view);
          const want: number[] = [];
          forEachIndex(shape, (idx) => {
            const r = binaryOps[op].cpu(ad[viewOffset(idx, A.view)], bd[viewOffset(idx, B.view)]);
            want.push(isComparison(op) ? r : dtype === 'int32' ? r | 0 : f32(r));
          });
          expect(out.dtype).toBe(isComparison(op) ? 'bool' : dtype);
          const got = await g.read(out);
          // llvmpipe's pow is exp2(y·log2(x)): a few ulps more than Math.pow.
          expectClose(got, want, op === 'pow' ? 1e-5 : 1e-6, op === 'pow' ? 1e-6 : 0, `${op} ${dtype} [${shape}] seed ${seed}`);
          for (const s of [a, b, out]) g.release(s);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('follows Math.pow on negative bases and int32 division by zero gives 0', async (t) => {
    const g = need(t);
    const a = g.upload('float32', Float32Array.from([-2, -2, -2, 0, 2, -8]));
    const b = g.upload('float32', Float32Array.from([3, 2, 0.5, 0, -1, 1 / 3]));
    const v = contiguous([6]);
    const got = await g.read(g.binary('pow', [6], a, v, b, v));
    expectClose(got, [-8, 4, NaN, 1, 0.5, NaN], 1e-6);
    const i = g.upload('int32', Int32Array.from([7, -7, 0]));
    const z = g.upload('int32', Int32Array.from([0, 2, 0]));
    expectEqual(await g.read(g.binary('div', [3], i, contiguous([3]), z, contiguous([3]))), [0, -3, 0]);
  });

  it('treats bools as 0/1 and keeps arithmetic on bools boolean', async (t) => {
    const g = need(t);
    const a = g.upload('bool', Uint8Array.from([0, 0, 1, 1]));
    const b = g.upload('bool', Uint8Array.from([0, 1, 0, 1]));
    const v = contiguous([4]);
    expectEqual(await g.read(g.binary('maximum', [4], a, v, b, v)), [0, 1, 1, 1], 'or');
    expectEqual(await g.read(g.binary('mul', [4], a, v, b, v)), [0, 0, 0, 1], 'and');
    expectEqual(await g.read(g.binary('ne', [4], a, v, b, v)), [0, 1, 1, 0], 'xor');
  });

  it('refuses a rank above 8 that cannot be merged, naming the limit', async (t) => {
    const g = need(t);
    const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2];
    const x = g.upload('float32', new Float32Array(512));
    // Reversed strides: no two neighbouring dimensions merge.
    const view = { offset: 0, strides: shape.map((_, d) => 2 ** d) };
    expect(() => g.binary('add', shape, x, view, x, view)).toThrow(/rank 9 .*maximum of 8/);
    // Contiguous views merge to rank 1 and run.
    const c = contiguous(shape);
    expectEqual(await g.read(g.binary('add', shape, x, c, x, c)), new Float32Array(512));
  });

  it('runs on more than 65535 × 256 elements (2-D dispatch grid)', async (t) => {
    const g = need(t);
    const n = 65535 * 256 + 1000;
    const x = g.alloc('float32', n);
    g.fill(x, 1.5);
    const one = g.upload('float32', Float32Array.from([2]));
    const out = g.binary('mul', [n], x, contiguous([n]), one, { offset: 0, strides: [0] });
    const got = (await g.read(out)) as Float32Array;
    expect(got.length).toBe(n);
    expect(got[0]).toBe(3);
    expect(got[n - 1]).toBe(3);
    expect(got.every((v) => v === 3)).toBe(true);
    for (const s of [x, one, out]) g.release(s);
  });
});

describe('where', () => {
  it('selects through views, with bool or float conditions', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(1, 2, 3, 17), { maxLength: 4 }), fc.boolean(), fc.nat(1000), async (shape, boolCond, seed) => {
        const C = randomView(shape, seed);
        const A = randomView(shape, seed + 1);
        const B = randomView(shape, seed + 2);
        const cd = randomArray(C.size, seed, 0, 2, true);
        const ad = randomArray(A.size, seed + 3);
        const bd = randomArray(B.size, seed + 4);
        const cond = boolCond ? g.upload('bool', Uint8Array.from(cd)) : g.upload('float32', Float32Array.from(cd));
        const a = g.upload('float32', Float32Array.from(ad));
        const b = g.upload('float32', Float32Array.from(bd));
        const want: number[] = [];
        forEachIndex(shape, (idx) => {
          want.push(cd[viewOffset(idx, C.view)] ? ad[viewOffset(idx, A.view)] : bd[viewOffset(idx, B.view)]);
        });
        expectEqual(await g.read(g.where(shape, cond, C.view, a, A.view, b, B.view)), want);
      }),
      { numRuns: 30 },
    );
  });
});

describe('copy and fill', () => {
  it('copies between arbitrary views in place', async (t) => {
    const g = need(t);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(1, 2, 3, 4, 5, 8, 17), { maxLength: 5 }), fc.nat(1000), async (shape, seed) => {
        const S = randomView(shape, seed);
        const D = randomView(shape, seed + 1, false);
        const sd = randomArray(S.size, seed, -10, 10, true);
        const dd = randomArray(D.size + 3, seed + 2, -10, 10, true);
        const src = g.upload('int32', Int32Array.from(sd));
        const dst = g.upload('int32', Int32Array.from(dd));
        g.copy(shape, src, S.view, dst, D.view);
        const want = dd.slice();
        forEachIndex(shape, (idx) => {
          want[viewOffset(idx, D.view)] = sd[viewOffset(idx, S.view)];
        });
        expectEqual(await g.read(dst), want);
      }),
      { numRuns: 40 },
    );
  });

  it('copies whole vec4s when the innermost dimension is contiguous in both views (a transpose of heads)', async (t) => {
    const g = need(t);
    // [B, S, H, D] → [B, H, S, D] at word offsets 0 and 4 (vec4 walk), 2 (word walk), and D = 6 (word walk).
    for (const [B, S, H, D, offset] of [
      [2, 5, 3, 8, 0],
      [3, 7, 2, 32, 4],
      [2, 5, 3, 8, 2],
      [2, 3, 2, 6, 0],
    ] as const) {
      const src = g.upload(
        'float32',
        Float32Array.from({ length: offset + B * S * H * D }, (_, i) => i),
      );
      const dst = g.upload('float32', new Float32Array(offset + B * S * H * D).fill(-1));
      const shape = [B, H, S, D];
      const view = { offset, strides: [S * H * D, D, H * D, 1] };
      g.copy(shape, src, view, dst, { offset, strides: [H * S * D, S * D, D, 1] });
      const want = new Array<number>(offset).fill(-1);
      forEachIndex(shape, (idx) => {
        want.push(viewOffset(idx, view));
      });
      expectEqual(await g.read(dst), want, `[${B}, ${S}, ${H}, ${D}] at ${offset}`);
    }
  });

  it('copies within one storage (through a temporary)', async (t) => {
    const g = need(t);
    const s = g.upload('float32', Float32Array.from([1, 2, 3, 4, 5, 6]));
    g.copy([3], s, { offset: 0, strides: [1] }, s, { offset: 3, strides: [1] });
    expectEqual(await g.read(s), [1, 2, 3, 1, 2, 3]);
  });

  it('fills every dtype and alloc is zero-filled, also when the pool hands out a used buffer', async (t) => {
    const g = need(t);
    for (const [dtype, value, want] of [
      ['float32', -2.5, -2.5],
      ['int32', 7, 7],
      ['bool', 3, 1],
    ] as const) {
      const s = g.alloc(dtype, 37);
      g.fill(s, value);
      expectEqual(await g.read(s), new Array(37).fill(want), dtype);
      g.release(s);
      expectEqual(await g.read(g.alloc(dtype, 37)), new Array(37).fill(0), `${dtype} alloc`);
    }
  });
});

describe('cast', () => {
  it('truncates floats toward zero, maps anything to bool as != 0', async (t) => {
    const g = need(t);
    const values = [-2.75, -1, -0.5, 0, 0.5, 1, 2.75, 100];
    const x = g.upload('float32', Float32Array.from(values));
    expectEqual(
      await g.read(g.cast(x, 'int32')),
      values.map((v) => v | 0),
      'f32→i32',
    );
    expectEqual(
      await g.read(g.cast(x, 'bool')),
      values.map((v) => Number(v !== 0)),
      'f32→bool',
    );
    expectEqual(await g.read(g.cast(x, 'float32')), values, 'f32→f32');
    const i = g.upload('int32', Int32Array.from([-3, 0, 5]));
    expectEqual(await g.read(g.cast(i, 'float32')), [-3, 0, 5], 'i32→f32');
    expectEqual(await g.read(g.cast(i, 'bool')), [1, 0, 1], 'i32→bool');
    const b = g.upload('bool', Uint8Array.from([1, 0, 1]));
    expectEqual(await g.read(g.cast(b, 'float32')), [1, 0, 1], 'bool→f32');
    expectEqual(await g.read(g.cast(b, 'int32')), [1, 0, 1], 'bool→i32');
    const read = await g.read(g.cast(i, 'bool'));
    expect(read).toBeInstanceOf(Uint8Array);
  });
});

describe('memory and batching', () => {
  it('an upload never overwrites a released buffer that pending work still reads', async (t) => {
    const g = need(t);
    const x = g.upload('float32', Float32Array.from([1, 2, 3]));
    const y = g.unary('neg', x);
    g.release(x);
    const z = g.upload('float32', Float32Array.from([7, 8, 9]));
    expectEqual(await g.read(y), [-1, -2, -3]);
    expectEqual(await g.read(z), [7, 8, 9]);
  });

  it('keeps results right across automatic flushes and buffer reuse', async (t) => {
    const g = need(t);
    const v = contiguous([5]);
    let acc = g.upload('float32', new Float32Array(5));
    const one = g.upload('float32', Float32Array.from([1, 2, 3, 4, 5]));
    const submits = g.ctx.dispatcher.submits;
    for (let i = 0; i < 1200; i++) {
      const next = g.binary('add', [5], acc, v, one, v);
      g.release(acc);
      acc = next;
    }
    expect(g.ctx.dispatcher.submits - submits).toBeGreaterThanOrEqual(2);
    expectEqual(await g.read(acc), [1200, 2400, 3600, 4800, 6000]);
  });

  it('refuses storage of another backend and storage used after release', async (t) => {
    const g = need(t);
    const x = g.upload('float32', Float32Array.from([1]));
    g.release(x);
    expect(() => g.unary('neg', x)).toThrow(/after release/);
    expect(g.supports('float64')).toBe(false);
    expect(() => g.alloc('float64', 3)).toThrow(/float64/);
    const fake = { backend: { name: 'cpu' }, dtype: 'float32', size: 1 } as never;
    expect(() => g.unary('neg', fake)).toThrow(/belongs to backend 'cpu'/);
  });
});
