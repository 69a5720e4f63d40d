import type { OptimizerKernels, Storage } from '../backend.ts';
import type { DType, TypedArray } from '../dtype.ts';

/**
 * The optimiser kernels of engine/backend.ts as plain loops: the oracle for the WebGPU ones.
 *
 * `adamw` performs exactly the operations of the composite in engine/optim/adamw.ts, in the same
 * order; on float32 every intermediate is rounded to float32 (`Math.fround`), as the composite's
 * separate elementwise kernels round each result, so both paths agree bit for bit.
 */
type Make = (dtype: DType, size: number) => Storage & { data: TypedArray };
const d = (s: Storage): TypedArray => (s as Storage & { data: TypedArray }).data;
const exact = (x: number): number => x;

export function cpuOptimizerKernels(make: Make): OptimizerKernels {
  return {
    adamw(p, g, m, v, rowMask, rowSize, s) {
      const size = p.size;
      const r = p.dtype === 'float32' ? Math.fround : exact;
      const P = d(p),
        G = d(g),
        M = d(m),
        V = d(v);
      const mask = rowMask === null ? null : d(rowMask);
      const pOut = make(p.dtype, size),
        mOut = make(p.dtype, size),
        vOut = make(p.dtype, size);
      const P1 = pOut.data,
        M1 = mOut.data,
        V1 = vOut.data;
      // The constants as the composite's constant tensors hold them.
      const b1 = r(s.beta1),
        c1 = r(1 - s.beta1),
        b2 = r(s.beta2),
        c2 = r(1 - s.beta2);
      const gradScale = r(s.gradScale);
      const eps = r(s.eps),
        decay = r(s.decay),
        stepSize = r(s.stepSize),
        bc2Sqrt = r(s.bc2Sqrt);
      for (let i = 0; i < size; i++) {
        if (mask !== null && !mask[Math.floor(i / rowSize)]) {
          P1[i] = P[i]!;
          M1[i] = M[i]!;
          V1[i] = V[i]!;
          continue;
        }
        // g·1 is g, so skipping the multiply when gradScale = 1 (as the composite does) changes nothing.
        const gi = gradScale === 1 ? G[i]! : r(G[i]! * gradScale);
        const mi = r(r(M[i]! * b1) + r(gi * c1));
        const vi = r(r(V[i]! * b2) + r(r(gi * gi) * c2));
        const denom = r(r(r(Math.sqrt(vi)) / bc2Sqrt) + eps);
        // p·1 is p, so skipping the multiply when decay = 1 (as the composite does) changes nothing.
        const decayed = r(P[i]! * decay);
        P1[i] = r(decayed - r(r(mi / denom) * stepSize));
        M1[i] = mi;
        V1[i] = vi;
      }
      return { p: pOut, m: mOut, v: vOut };
    },

    sumOfSquares(gs) {
      let acc = 0; // float64, rounded once
      for (const g of gs) {
        const G = d(g);
        for (let i = 0; i < G.length; i++) acc += G[i]! * G[i]!;
      }
      const out = make(gs[0]!.dtype, 1);
      out.data[0] = acc;
      return out;
    },
  };
}
