import type { AttentionSpec, FusedKernels, Storage } from '../../backend.ts';
import type { DType, TypedArray } from '../../dtype.ts';
import { unaryOps } from '../elementwise/ops.ts';
import { matmulKernel } from '../matmul/cpu.ts';
import { MASKED_SCORE as MASKED } from './ops.ts';

/**
 * The fused family's CPU kernels (FusedKernels of engine/backend.ts) as plain loops: the oracle for
 * the WebGPU ones (and the float64 path of gradient checks). Sums accumulate in float64.
 */
type Make = (dtype: DType, size: number) => Storage & { data: TypedArray };
const d = (s: Storage): TypedArray => (s as Storage & { data: TypedArray }).data;

/** σ, exactly as the elementwise op computes it on the CPU. */
const sigmoid = unaryOps.sigmoid.cpu;

export function cpuFusedKernels(make: Make): FusedKernels {
  return {
    softmax(x, rows, cols) {
      const out = make(x.dtype, rows * cols);
      const X = d(x);
      const Y = out.data;
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let m = -Infinity;
        for (let c = 0; c < cols; c++) m = Math.max(m, X[o + c]!);
        let s = 0;
        for (let c = 0; c < cols; c++) s += Y[o + c] = Math.exp(X[o + c]! - m);
        for (let c = 0; c < cols; c++) Y[o + c] = Y[o + c]! / s;
      }
      return out;
    },

    matmulAddScaled(base, x, w, rows, n, k, scale) {
      const out = make(base.dtype, rows * n);
      const O = out.data;
      const B = d(base);
      matmulKernel(d(x), d(w), { batch: 1, m: rows, n, k, transA: false, transB: true, aBatchStride: rows * k, bBatchStride: k * n }, O);
      // Each store rounds to the dtype, as the composite's mul and add kernels do; so does the scalar.
      const s = base.dtype === 'float32' ? Math.fround(scale) : scale;
      for (let i = 0; i < O.length; i++) {
        O[i] = O[i]! * s;
        O[i] = B[i]! + O[i]!;
      }
      return out;
    },

    softmaxBackward(y, g, rows, cols) {
      const out = make(y.dtype, rows * cols);
      const Y = d(y);
      const G = d(g);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += G[o + c]! * Y[o + c]!;
        for (let c = 0; c < cols; c++) out.data[o + c] = Y[o + c]! * (G[o + c]! - dot);
      }
      return out;
    },

    rmsNorm(x, w, rows, cols, eps) {
      const y = make(x.dtype, rows * cols);
      const inv = make(x.dtype, rows);
      const X = d(x);
      const W = d(w);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let s = 0;
        for (let c = 0; c < cols; c++) s += X[o + c]! * X[o + c]!;
        inv.data[r] = 1 / Math.sqrt(s / cols + eps);
        const k = inv.data[r]!;
        for (let c = 0; c < cols; c++) y.data[o + c] = X[o + c]! * k * W[c]!;
      }
      return { y, inv };
    },

    rmsNormBackward(x, w, inv, g, rows, cols, wantDw) {
      const dx = make(x.dtype, rows * cols);
      const dw = wantDw ? make(x.dtype, cols) : null;
      const acc = wantDw ? new Float64Array(cols) : null;
      const X = d(x);
      const W = d(w);
      const I = d(inv);
      const G = d(g);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        const k = I[r]!;
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += G[o + c]! * W[c]! * X[o + c]!;
        const coef = (k * k * k * dot) / cols;
        for (let c = 0; c < cols; c++) dx.data[o + c] = k * G[o + c]! * W[c]! - X[o + c]! * coef;
        if (acc) for (let c = 0; c < cols; c++) acc[c]! += G[o + c]! * X[o + c]! * k;
      }
      if (dw && acc) dw.data.set(acc);
      return { dx, dw };
    },

    rotary(x, cos, sin, batch, heads, seq, dim, transpose) {
      const out = make(x.dtype, batch * heads * seq * dim);
      const X = d(x);
      const C = d(cos);
      const S = d(sin);
      const half = dim / 2;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          for (let s = 0; s < seq; s++) {
            const o = ((b * heads + h) * seq + s) * dim;
            const t = (b * seq + s) * dim;
            for (let i = 0; i < half; i++) {
              const x1 = X[o + i]!;
              const x2 = X[o + i + half]!;
              if (!transpose) {
                out.data[o + i] = x1 * C[t + i]! - x2 * S[t + i]!;
                out.data[o + i + half] = x2 * C[t + i + half]! + x1 * S[t + i + half]!;
              } else {
                out.data[o + i] = x1 * C[t + i]! + x2 * S[t + i + half]!;
                out.data[o + i + half] = x2 * C[t + i + half]! - x1 * S[t + i]!;
              }
            }
          }
        }
      }
      return out;
    },

    siluMul(a, b) {
      const out = make(a.dtype, a.size);
      const A = d(a);
      const B = d(b);
      for (let i = 0; i < A.length; i++) out.data[i] = A[i]! * sigmoid(A[i]!) * B[i]!;
      return out;
    },

    siluMulBackward(a, b, g) {
      const da = make(a.dtype, a.size);
      const db = make(a.dtype, a.size);
      const A = d(a);
      const B = d(b);
      const G = d(g);
      for (let i = 0; i < A.length; i++) {
        const s = sigmoid(A[i]!);
        db.data[i] = G[i]! * A[i]! * s;
        da.data[i] = G[i]! * B[i]! * s * (1 + A[i]! * (1 - s));
      }
      return { da, db };
    },

    crossEntropy(logits, targets, rows, cols, ignoreIndex) {
      const loss = make(logits.dtype, rows);
      const lse = make(logits.dtype, rows);
      const X = d(logits);
      const T = d(targets);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let m = -Infinity;
        for (let c = 0; c < cols; c++) m = Math.max(m, X[o + c]!);
        const shift = Math.abs(m) === Infinity ? 0 : m;
        let s = 0;
        for (let c = 0; c < cols; c++) s += Math.exp(X[o + c]! - shift);
        lse.data[r] = Math.log(s) + shift;
        const t = T[r]!;
        if (t === ignoreIndex) continue;
        if (t < 0 || t >= cols) throw new RangeError(`crossEntropy: target ${t} is out of bounds for ${cols} classes`);
        loss.data[r] = lse.data[r]! - X[o + t]!;
      }
      return { loss, lse };
    },

    crossEntropyBackward(logits, targets, lse, g, rows, cols, ignoreIndex) {
      const out = make(logits.dtype, rows * cols);
      const X = d(logits);
      const T = d(targets);
      const L = d(lse);
      const G = d(g);
      for (let r = 0; r < rows; r++) {
        const t = T[r]!;
        if (t === ignoreIndex) continue;
        const o = r * cols;
        for (let c = 0; c < cols; c++) out.data[o + c] = G[r]! * (Math.exp(X[o + c]! - L[r]!) - (c === t ? 1 : 0));
      }
      return out;
    },

    supportsAttention() {
      return true;
    },

    attention(q, k, v, allowed, spec) {
      const { batch, heads, kvHeads, seq, keys, dim, scale } = spec;
      const out = make(q.dtype, batch * heads * seq * dim);
      const lse = make(q.dtype, batch * heads * seq);
      const Q = d(q);
      const K = d(k);
      const V = d(v);
      const M = d(allowed);
      const group = heads / kvHeads;
      const p = new Float64Array(keys);
      const acc = new Float64Array(dim);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const kv = (b * kvHeads + Math.floor(h / group)) * keys * dim;
          for (let s = 0; s < seq; s++) {
            const qo = ((b * heads + h) * seq + s) * dim;
            let m = -Infinity;
            for (let t = 0; t < keys; t++) {
              // A masked key's score is MASKED whatever q·k is: skip the dot product.
              let score = MASKED;
              if (M[(b * seq + s) * keys + t]) {
                let dot = 0;
                for (let i = 0; i < dim; i++) dot += Q[qo + i]! * K[kv + t * dim + i]!;
                score = dot * scale;
              }
              p[t] = score;
              m = Math.max(m, score);
            }
            let sum = 0;
            for (let t = 0; t < keys; t++) sum += p[t] = Math.exp(p[t]! - m);
            lse.data[(b * heads + h) * seq + s] = m + Math.log(sum);
            // Σ_t p_t·v_t, one contiguous row of v at a time (keys of probability 0 add nothing).
            acc.fill(0);
            for (let t = 0; t < keys; t++) {
              const pt = p[t]!;
              if (pt === 0) continue;
              const vo = kv + t * dim;
              for (let i = 0; i < dim; i++) acc[i]! += pt * V[vo + i]!;
            }
            for (let i = 0; i < dim; i++) out.data[qo + i] = acc[i]! / sum;
          }
        }
      }
      return { out, lse };
    },

    attentionBackward(q, k, v, allowed, out, lse, g, spec: AttentionSpec) {
      const { batch, heads, kvHeads, seq, keys, dim, scale } = spec;
      const dq = make(q.dtype, q.size);
      const dkAcc = new Float64Array(k.size);
      const dvAcc = new Float64Array(v.size);
      const Q = d(q);
      const K = d(k);
      const V = d(v);
      const M = d(allowed);
      const O = d(out);
      const L = d(lse);
      const G = d(g);
      const group = heads / kvHeads;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const kv = (b * kvHeads + Math.floor(h / group)) * keys * dim;
          for (let s = 0; s < seq; s++) {
            const row = (b * heads + h) * seq + s;
            const qo = row * dim;
            let di = 0;
            for (let i = 0; i < dim; i++) di += G[qo + i]! * O[qo + i]!;
            // A row with no allowed key attended uniformly (its lse is about −1e30, too coarse
            // to recover 1/T from); elsewhere masked keys have probability exactly 0.
            const uniform = L[row]! < MASKED / 2;
            for (let t = 0; t < keys; t++) {
              const ko = kv + t * dim;
              const ok = M[(b * seq + s) * keys + t];
              if (!ok && !uniform) continue; // probability 0: no gradient to or through this key
              let pr = 1 / keys;
              if (!uniform) {
                let dot = 0;
                for (let i = 0; i < dim; i++) dot += Q[qo + i]! * K[ko + i]!;
                pr = Math.exp(dot * scale - L[row]!);
              }
              let dp = 0;
              for (let i = 0; i < dim; i++) {
                dp += G[qo + i]! * V[ko + i]!;
                dvAcc[ko + i]! += pr * G[qo + i]!;
              }
              const ds = ok ? pr * (dp - di) * scale : 0;
              if (ds === 0) continue;
              for (let i = 0; i < dim; i++) {
                dq.data[qo + i]! += ds * K[ko + i]!;
                dkAcc[ko + i]! += ds * Q[qo + i]!;
              }
            }
          }
        }
      }
      const dk = make(k.dtype, k.size);
      const dv = make(v.dtype, v.size);
      dk.data.set(dkAcc);
      dv.data.set(dvAcc);
      return { dq, dk, dv };
    },
  };
}
