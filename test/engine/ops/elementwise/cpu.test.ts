import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { View } from '../../../../engine/backend.ts';
import { binaryKernel, whereKernel } from '../../../../engine/ops/elementwise/cpu.ts';
import { copyKernel } from '../../../../engine/ops/movement/cpu.ts';

/**
 * The CPU elementwise kernels (flat fast paths and the row walker) against a per-element
 * reference that decodes every index: random shapes of rank 0–4, transposed, broadcast (stride 0)
 * and offset views.
 */
function offsetOf(flat: number, shape: readonly number[], v: View): number {
  let o = v.offset;
  for (let d = shape.length - 1; d >= 0; d--) {
    o += (flat % shape[d]!) * v.strides[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return o;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 });

/** A view of `shape`: a random storage order of the axes, some broadcast, an offset. */
function viewArb(shape: readonly number[]): fc.Arbitrary<{ view: View; size: number }> {
  return fc
    .tuple(
      fc.shuffledSubarray(
        shape.map((_, d) => d),
        { minLength: shape.length, maxLength: shape.length },
      ),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      fc.integer({ min: 0, max: 3 }),
    )
    .map(([order, broadcast, offset]) => {
      const strides = new Array<number>(shape.length).fill(0);
      let s = 1;
      for (let i = order.length - 1; i >= 0; i--) {
        const d = order[i]!;
        if (broadcast[d]) continue;
        strides[d] = s;
        s *= shape[d]!;
      }
      return { view: { offset, strides }, size: offset + s };
    });
}

const contiguousView = (shape: readonly number[]): View => {
  const strides: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return { offset: 0, strides };
};

const cases = shapeArb.chain((shape) =>
  fc.tuple(fc.constant(shape), viewArb(shape), viewArb(shape), viewArb(shape), fc.oneof(fc.constant(true), fc.constant(false))),
);

describe('CPU elementwise kernels', () => {
  it('binary, where and copy read every view as the index decoding says (property)', () => {
    fc.assert(
      fc.property(cases, ([shape, A, B, C, contiguousA]) => {
        const n = shape.reduce((p, d) => p * d, 1);
        const av = contiguousA ? { view: contiguousView(shape), size: n } : A;
        const a = Float64Array.from({ length: av.size }, (_, i) => i * 0.5 - 3);
        const b = Float64Array.from({ length: B.size }, (_, i) => 7 - i);
        const c = Uint8Array.from({ length: C.size }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
        for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'lt'] as const) {
          const out = new Float64Array(n);
          binaryKernel(op, shape, a, av.view, b, B.view, out);
          for (let i = 0; i < n; i++) {
            const x = a[offsetOf(i, shape, av.view)]!,
              y = b[offsetOf(i, shape, B.view)]!;
            const want = { add: x + y, sub: x - y, mul: x * y, div: x / y, maximum: Math.max(x, y), lt: x < y ? 1 : 0 }[op];
            expect(out[i]).toBe(want);
          }
        }
        const w = new Float64Array(n);
        whereKernel(shape, c, C.view, a, av.view, b, B.view, w);
        for (let i = 0; i < n; i++) {
          expect(w[i]).toBe(c[offsetOf(i, shape, C.view)] ? a[offsetOf(i, shape, av.view)] : b[offsetOf(i, shape, B.view)]);
        }
        // copy: into a contiguous target, and back out through a (non-broadcast) view.
        const dst = new Float64Array(n);
        copyKernel(shape, a, av.view, dst, contiguousView(shape));
        for (let i = 0; i < n; i++) expect(dst[i]).toBe(a[offsetOf(i, shape, av.view)]);
      }),
      { numRuns: 300 },
    );
  });

  it('copies long contiguous rows into a strided target', () => {
    const shape = [3, 40];
    const src = Float32Array.from({ length: 120 }, (_, i) => i);
    const dst = new Float32Array(2 + 3 * 50);
    copyKernel(shape, src, { offset: 0, strides: [40, 1] }, dst, { offset: 2, strides: [50, 1] });
    for (let r = 0; r < 3; r++) for (let j = 0; j < 40; j++) expect(dst[2 + r * 50 + j]).toBe(r * 40 + j);
  });
});
