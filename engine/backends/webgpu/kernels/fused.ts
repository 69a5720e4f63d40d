import type { AttentionSpec, FusedKernels, Storage } from '../../../backend.ts';
import type { GpuContext } from '../context.ts';
import { Params } from '../params.ts';
import type { GpuStorage } from '../storage.ts';
import { matmul, type MatmulVariant } from './matmul.ts';
import { reduce } from './reduce.ts';

/**
 * The fused kernels of engine/backend.ts in WGSL (shaders/softmax.wgsl, rmsnorm.wgsl, rotary.wgsl,
 * silu_mul.wgsl, cross_entropy.wgsl, attention.wgsl). float32 only, like the rest of the backend.
 */
const ROWS_PER_GROUP = 64; // RW in shaders/rows.wgsl
const ATTENTION_QB = 16; // QB in shaders/attention.wgsl
/**
 * Up to this many queries, the forward splits each query's keys between a workgroup's invocations
 * (DECODE in shaders/attention.wgsl) instead of giving each invocation a query: with S = 1, as in
 * a decode step, FORWARD would run one invocation of 16.
 */
const ATTENTION_DECODE_MAX_SEQ = 4;
/** Registers per row of the attention kernels: D/4 vec4s, at most this many. */
const MAX_DV = 32;

export function webgpuFusedKernels(ctx: GpuContext, own: (s: Storage) => GpuStorage, matmulVariant: () => MatmulVariant): FusedKernels {
  const f32 = (op: string, ...s: Storage[]): GpuStorage[] =>
    s.map((x) => {
      const g = own(x);
      if (g.dtype !== 'float32' && !(op === 'targets' && g.dtype === 'int32') && !(op === 'mask' && g.dtype === 'bool')) {
        throw new Error(`webgpu: ${op}: expected float32, got ${g.dtype}`);
      }
      return g;
    });
  const rowsGrid = (rows: number) => ctx.grid1D(rows, ROWS_PER_GROUP);

  return {
    softmax(x, rows, cols) {
      const [gx] = f32('softmax', x);
      const out = ctx.storage('float32', rows * cols);
      ctx.run('softmax', { file: 'softmax.wgsl' }, new Params(4).set(0, rows).set(1, cols), [gx!, out], rowsGrid(rows));
      return out;
    },

    softmaxBackward(y, g, rows, cols) {
      const [gy, gg] = f32('softmax backward', y, g);
      const out = ctx.storage('float32', rows * cols);
      ctx.run(
        'softmax backward',
        { file: 'softmax.wgsl', defines: { BACKWARD: true } },
        new Params(4).set(0, rows).set(1, cols),
        [gy!, gg!, out],
        rowsGrid(rows),
      );
      return out;
    },

    rmsNorm(x, w, rows, cols, eps) {
      const [gx, gw] = f32('rmsNorm', x, w);
      const y = ctx.storage('float32', rows * cols);
      const inv = ctx.storage('float32', rows);
      const p = new Params(4).set(0, rows).set(1, cols).setFloat(2, eps);
      ctx.run('rmsNorm', { file: 'rmsnorm.wgsl', defines: { VEC4: cols % 4 === 0 } }, p, [gx!, gw!, y, inv], rowsGrid(rows));
      return { y, inv };
    },

    rmsNormBackward(x, w, inv, g, rows, cols, wantDw) {
      const [gx, gw, gi, gg] = f32('rmsNorm backward', x, w, inv, g);
      const dx = ctx.storage('float32', rows * cols);
      const gxi = wantDw ? ctx.storage('float32', rows * cols) : null;
      const p = new Params(4).set(0, rows).set(1, cols);
      ctx.run(
        'rmsNorm backward',
        { file: 'rmsnorm.wgsl', defines: { VEC4: cols % 4 === 0, BACKWARD: true, WANT_DW: wantDw } },
        p,
        gxi ? [gx!, gw!, gi!, gg!, dx, gxi] : [gx!, gw!, gi!, gg!, dx],
        rowsGrid(rows),
      );
      if (!gxi) return { dx, dw: null };
      const dw = reduce(ctx, 'sum', gxi, [rows, cols], [0]);
      ctx.release(gxi);
      return { dx, dw };
    },

    rotary(x, cos, sin, batch, heads, seq, dim, transpose) {
      const [gx, gc, gs] = f32('applyRotary', x, cos, sin);
      const out = ctx.storage('float32', batch * heads * seq * dim);
      const p = new Params(4).set(0, heads).set(1, seq).set(2, dim);
      ctx.run(
        transpose ? 'applyRotary backward' : 'applyRotary',
        { file: 'rotary.wgsl', defines: { TRANSPOSE: transpose } },
        p,
        [gx!, gc!, gs!, out],
        [Math.ceil(seq / 64), heads, batch],
      );
      return out;
    },

    matmulAddScaled(base, x, w, rows, n, k, scale) {
      const [gb, gx, gw] = f32('matmulAddScaled', base, x, w);
      const spec = { batch: 1, m: rows, n, k, transA: false, transB: true, aBatchStride: rows * k, bBatchStride: k * n };
      return matmul(ctx, gx!, gw!, spec, matmulVariant(), { base: gb!, scale });
    },

    siluMul(a, b) {
      const [ga, gb] = f32('siluMul', a, b);
      const out = ctx.storage('float32', ga!.size);
      const vec4 = ga!.size % 4 === 0;
      const n = vec4 ? ga!.size / 4 : ga!.size;
      ctx.run(
        'siluMul',
        { file: 'silu_mul.wgsl', defines: { T: vec4 ? 'vec4<f32>' : 'f32', SIGMA: vec4 ? 'sigmoid_stable4' : 'sigmoid_stable' } },
        new Params(4).set(0, n),
        [ga!, gb!, out],
        ctx.grid1D(n),
      );
      return out;
    },

    siluMulBackward(a, b, g) {
      const [ga, gb, gg] = f32('siluMul backward', a, b, g);
      const da = ctx.storage('float32', ga!.size);
      const db = ctx.storage('float32', ga!.size);
      const vec4 = ga!.size % 4 === 0;
      const n = vec4 ? ga!.size / 4 : ga!.size;
      ctx.run(
        'siluMul backward',
        { file: 'silu_mul.wgsl', defines: { T: vec4 ? 'vec4<f32>' : 'f32', SIGMA: vec4 ? 'sigmoid_stable4' : 'sigmoid_stable', BACKWARD: true } },
        new Params(4).set(0, n),
        [ga!, gb!, gg!, da, db],
        ctx.grid1D(n),
      );
      return { da, db };
    },

    crossEntropy(logits, targets, rows, cols, ignoreIndex) {
      const [gl] = f32('crossEntropy', logits);
      const [gt] = f32('targets', targets);
      const loss = ctx.storage('float32', rows);
      const lse = ctx.storage('float32', rows);
      const p = new Params(4).set(0, rows).set(1, cols).set(2, ignoreIndex);
      ctx.run('crossEntropy', { file: 'cross_entropy.wgsl' }, p, [gl!, gt!, loss, lse], rowsGrid(rows));
      return { loss, lse };
    },

    crossEntropyBackward(logits, targets, lse, g, rows, cols, ignoreIndex) {
      const [gl, gs, gg] = f32('crossEntropy backward', logits, lse, g);
      const [gt] = f32('targets', targets);
      const out = ctx.storage('float32', rows * cols);
      const p = new Params(4).set(0, rows).set(1, cols).set(2, ignoreIndex);
      ctx.run('crossEntropy backward', { file: 'cross_entropy.wgsl', defines: { BACKWARD: true } }, p, [gl!, gt!, gs!, gg!, out], rowsGrid(rows));
      return out;
    },

    supportsAttention(spec) {
      return (
        spec.dim % 4 === 0 &&
        spec.dim / 4 <= MAX_DV &&
        spec.seq > 0 &&
        spec.keys > 0 &&
        spec.heads <= ctx.device.limits.maxComputeWorkgroupsPerDimension &&
        spec.batch <= ctx.device.limits.maxComputeWorkgroupsPerDimension
      );
    },

    attention(q, k, v, allowed, spec) {
      const [gq, gk, gv] = f32('attention', q, k, v);
      const [gm] = f32('mask', allowed);
      const out = ctx.storage('float32', gq!.size);
      const lse = ctx.storage('float32', spec.batch * spec.heads * spec.seq);
      const decode = spec.seq <= ATTENTION_DECODE_MAX_SEQ;
      ctx.run(
        decode ? 'attention (decode)' : 'attention',
        { file: 'attention.wgsl', defines: { DV: spec.dim / 4, FORWARD: true, DECODE: decode } },
        attentionParams(spec),
        [gq!, gk!, gv!, gm!, out, lse],
        [decode ? spec.seq : Math.ceil(spec.seq / ATTENTION_QB), spec.heads, spec.batch],
      );
      return { out, lse };
    },

    attentionBackward(q, k, v, allowed, out, lse, g, spec: AttentionSpec) {
      const [gq, gk, gv, go, gl, gg] = f32('attention backward', q, k, v, out, lse, g);
      const [gm] = f32('mask', allowed);
      const p = attentionParams(spec);
      const delta = ctx.storage('float32', spec.batch * spec.heads * spec.seq);
      const dq = ctx.storage('float32', gq!.size);
      const dk = ctx.storage('float32', gk!.size);
      const dv = ctx.storage('float32', gv!.size);
      ctx.run(
        'attention backward (q)',
        { file: 'attention.wgsl', defines: { DV: spec.dim / 4, BWD_Q: true } },
        p,
        [gq!, gk!, gv!, gm!, go!, gl!, gg!, delta, dq],
        [Math.ceil(spec.seq / ATTENTION_QB), spec.heads, spec.batch],
      );
      ctx.run(
        'attention backward (k, v)',
        { file: 'attention.wgsl', defines: { DV: spec.dim / 4, BWD_KV: true } },
        p,
        [gq!, gk!, gv!, gm!, gl!, gg!, delta, dk, dv],
        [Math.ceil(spec.keys / ATTENTION_QB), spec.kvHeads, spec.batch],
      );
      ctx.release(delta);
      return { dq, dk, dv };
    },
  };
}

function attentionParams(spec: AttentionSpec): Params {
  return new Params(8)
    .set(0, spec.heads)
    .set(1, spec.kvHeads)
    .set(2, spec.seq)
    .set(3, spec.keys)
    .set(4, spec.heads / spec.kvHeads)
    .setFloat(5, spec.scale);
}
