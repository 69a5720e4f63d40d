import type { AttentionSpec, FusedKernels, Storage } from '../../backend.ts';
import { isFloat } from '../../dtype.ts';
import { noGrad, record, type Rule } from '../../graph.ts';
import { formatShape, sameShape, ShapeError } from '../../shape.ts';
import { Tensor, type GraphNode } from '../../tensor.ts';
import { checkSameBackend, checkSameDtype, where } from '../elementwise/ops.ts';
import { concat } from '../movement/ops.ts';

/**
 * The fused family: one primitive (one backend kernel forward, one fused kernel backward, one gradient
 * rule) for a hot path of the transformer that would otherwise be a chain of primitives, each a
 * pass over memory. Every fused op keeps its composite here as the reference; it runs instead
 * when fusion is off (`setFusion(false)`; the CLI's CLARA_FUSION=0), when the backend
 * has no fused kernels, or for inputs the kernel does not take (e.g. a table that needs a gradient).
 *
 * Kernels that produce a statistic the backward needs (RMSNorm's 1/rms, a log-sum-exp) record it
 * as an extra input of the node: the graph then keeps it alive (tidy spares a graph's inputs) and
 * its rule gives it no gradient.
 */
let fusion = true;

/** Turns fused kernels on or off (composites run when off); returns the previous setting. */
export function setFusion(on: boolean): boolean {
  const previous = fusion;
  fusion = on;
  return previous;
}

export function fusionEnabled(): boolean {
  return fusion;
}

/** The backend's fused kernels when fusion is on and every tensor is float and contiguous-able. */
function kernelsFor(...tensors: Tensor[]): FusedKernels | null {
  if (!fusion) return null;
  const k = tensors[0]!.backend.fused;
  if (k === undefined) return null;
  return tensors.every((t) => isFloat(t.dtype)) ? k : null;
}

const wrap = (storage: Storage, shape: readonly number[]): Tensor => new Tensor(storage, shape);

// ---- softmax (last axis) ------------------------------------------------------------------------

/** The composite: exp(x − max) / Σ exp(x − max) along `axis` (the max held constant). */
export function softmaxComposite(x: Tensor, axis: number): Tensor {
  const m = noGrad(() => x.max(axis, true));
  const e = x.sub(m).exp();
  return e.div(e.sum(axis, true));
}

/** Softmax along the last axis, fused when the backend can. */
export function softmaxLastAxis(x: Tensor): Tensor {
  const k = kernelsFor(x);
  const cols = x.shape[x.rank - 1] ?? 1;
  if (k === null || x.rank === 0 || x.size === 0) return softmaxComposite(x, x.rank - 1);
  const rows = x.size / cols;
  const y = wrap(k.softmax(x.storage('softmax'), rows, cols), x.shape);
  return record('softmax', [x], y);
}

function softmaxRule(g: Tensor, { output }: GraphNode): Array<Tensor | null> {
  const cols = output.shape[output.rank - 1]!;
  const k = output.backend.fused!;
  return [wrap(k.softmaxBackward(output.storage('softmax backward'), g.storage('softmax backward'), output.size / cols, cols), output.shape)];
}

// ---- RMSNorm ------------------------------------------------------------------------------------

/** The composite: x · rsqrt(mean(x², −1) + eps) · w. */
function rmsNormComposite(x: Tensor, weight: Tensor, eps: number): Tensor {
  const inverseRms = x.mul(x).mean(-1, true).add(eps).rsqrt();
  return x.mul(inverseRms).mul(weight);
}

/** x [..., C] normalised by its root mean square over the last axis, times weight [C]. */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const cols = x.shape[x.rank - 1];
  if (x.rank === 0 || weight.rank !== 1 || weight.shape[0] !== cols) {
    throw new ShapeError(`rmsNorm: expected input [..., C] and weight [C], got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`);
  }
  checkSameBackend('rmsNorm', x, weight);
  checkSameDtype('rmsNorm', x, weight);
  const k = kernelsFor(x, weight);
  if (k === null || x.size === 0) return rmsNormComposite(x, weight, eps);
  const rows = x.size / cols!;
  const { y, inv } = k.rmsNorm(x.storage('rmsNorm'), weight.storage('rmsNorm'), rows, cols!, eps);
  const invT = wrap(inv, [rows]);
  return record('rmsNorm', [x, weight, invT], wrap(y, x.shape), { eps });
}

function rmsNormRule(g: Tensor, { inputs: [x, w, inv] }: GraphNode): Array<Tensor | null> {
  const cols = x!.shape[x!.rank - 1]!;
  const k = x!.backend.fused!;
  const { dx, dw } = k.rmsNormBackward(
    x!.storage('rmsNorm backward'),
    w!.storage('rmsNorm backward'),
    inv!.storage('rmsNorm backward'),
    g.storage('rmsNorm backward'),
    x!.size / cols,
    cols,
    w!.requiresGrad,
  );
  return [x!.requiresGrad ? wrap(dx, x!.shape) : null, dw ? wrap(dw, w!.shape) : null, null];
}

// ---- rotary embedding ---------------------------------------------------------------------------

/** The composite: x·cos + rotateHalf(x)·sin, rotateHalf([x₁, x₂]) = [−x₂, x₁]. */
function applyRotaryComposite(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  const [x1, x2] = x.split(half, -1);
  const rotated = concat([x2!.neg(), x1!], -1);
  return x.mul(cos).add(rotated.mul(sin));
}

/**
 * Rotary position embedding ("rotate half", Hugging Face's convention): x [B, H, S, D] with cos and
 * sin [B, 1, S, D] (broadcast over heads). Fused when the tables need no gradient.
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [batch, heads, seq, dim] = x.shape as [number, number, number, number];
  const tableShape = [batch, 1, seq, dim];
  const k = kernelsFor(x, cos, sin);
  if (
    k === null ||
    x.rank !== 4 ||
    dim % 2 !== 0 ||
    !sameShape(cos.shape, tableShape) ||
    !sameShape(sin.shape, tableShape) ||
    cos.requiresGrad ||
    sin.requiresGrad ||
    cos.dtype !== x.dtype ||
    sin.dtype !== x.dtype ||
    x.size === 0 ||
    cos.backend !== x.backend ||
    sin.backend !== x.backend
  ) {
    return applyRotaryComposite(x, cos, sin);
  }
  const y = k.rotary(x.storage('applyRotary'), cos.storage('applyRotary'), sin.storage('applyRotary'), batch, heads, seq, dim, false);
  return record('rotary', [x, cos, sin], wrap(y, x.shape));
}

function rotaryRule(g: Tensor, { inputs: [x, cos, sin] }: GraphNode): Array<Tensor | null> {
  const [batch, heads, seq, dim] = x!.shape as [number, number, number, number];
  const dx = x!.backend.fused!.rotary(
    g.storage('applyRotary backward'),
    cos!.storage('applyRotary backward'),
    sin!.storage('applyRotary backward'),
    batch,
    heads,
    seq,
    dim,
    true,
  );
  return [wrap(dx, x!.shape), null, null];
}

// ---- SiLU-gated product -------------------------------------------------------------------------

/** silu(a)·b, the SwiGLU MLP's gate (same shapes; the composite broadcasts). */
export function siluMul(a: Tensor, b: Tensor): Tensor {
  checkSameBackend('siluMul', a, b);
  checkSameDtype('siluMul', a, b);
  const k = kernelsFor(a, b);
  if (k === null || !sameShape(a.shape, b.shape) || a.size === 0) return a.silu().mul(b);
  return record('siluMul', [a, b], wrap(k.siluMul(a.storage('siluMul'), b.storage('siluMul')), a.shape));
}

function siluMulRule(g: Tensor, { inputs: [a, b] }: GraphNode): Array<Tensor | null> {
  const { da, db } = a!.backend.fused!.siluMulBackward(a!.storage('siluMul backward'), b!.storage('siluMul backward'), g.storage('siluMul backward'));
  const A = wrap(da, a!.shape);
  const B = wrap(db, b!.shape);
  if (!a!.requiresGrad) A.dispose();
  if (!b!.requiresGrad) B.dispose();
  return [a!.requiresGrad ? A : null, b!.requiresGrad ? B : null];
}

// ---- matmul with a scaled add (a LoRA linear's tail) ---------------------------------------------

/**
 * base + scale·(x·wᵀ) for x [..., k], w [n, k] and base [..., n]: in a LoRA linear
 * (clara/model/lora.ts) base = x·Wᵀ, x = A's output [..., r], w = B [out, r]; with scale 1 and
 * base the residual stream, a block's output projection and its residual add. Fused, it is one
 * matmul kernel whose store adds the scaled product to base, instead of three kernels (matmul,
 * mul, add) and two more passes over [..., n]; rounded as the composite rounds.
 */
export function matmulAddScaled(base: Tensor, x: Tensor, w: Tensor, scale: number): Tensor {
  checkSameBackend('matmulAddScaled', base, x);
  checkSameBackend('matmulAddScaled', x, w);
  checkSameDtype('matmulAddScaled', base, x);
  checkSameDtype('matmulAddScaled', x, w);
  const kernels = kernelsFor(base, x, w);
  const [n, k] = w.shape as [number, number];
  const fits = w.rank === 2 && x.rank >= 1 && x.shape[x.rank - 1] === k && sameShape(base.shape, [...x.shape.slice(0, -1), n]);
  if (kernels === null || !fits || base.size === 0 || k === 0) {
    const product = x.matmul(w, { transB: true });
    return base.add(scale === 1 ? product : product.mul(scale));
  }
  const op = 'matmulAddScaled';
  const out = kernels.matmulAddScaled(base.storage(op), x.storage(op), w.storage(op), x.size / k, n, k, scale);
  return record('matmulAddScaled', [base, x, w], wrap(out, base.shape), { scale });
}

/** The composite's rules in a row: add passes g to base; mul scales it (not by 1); matmul's rule on [rows, ·]. */
function matmulAddScaledRule(g: Tensor, { inputs: [base, x, w], attrs: { scale } }: GraphNode): Array<Tensor | null> {
  const [n, k] = w!.shape as [number, number];
  const scaled = (scale === 1 ? g : g.mul(scale)).reshape([-1, n]); // [rows, n]; ·1 (a residual add) is skipped
  const dx = x!.requiresGrad ? scaled.matmul(w!).reshape(x!.shape) : null;
  const dw = w!.requiresGrad ? scaled.matmul(x!.reshape([-1, k]), { transA: true }) : null;
  return [base!.requiresGrad ? g : null, dx, dw];
}

// ---- cross-entropy rows -------------------------------------------------------------------------

/**
 * Per row of logits [N, C] and int32 targets [N]: logsumexp(row) − row[target], 0 where the target
 * is `ignoreIndex`. Fused (one pass for the statistic, one for the gradient, probabilities never
 * stored) when the backend can; otherwise log-softmax and gather.
 */
export function crossEntropyRows(logits: Tensor, targets: Tensor, ignoreIndex: number): Tensor {
  const [rows, cols] = logits.shape as [number, number];
  const k = kernelsFor(logits);
  if (k === null || logits.rank !== 2 || rows === 0 || cols === 0) {
    const kept = targets.ne(ignoreIndex);
    const safe = where(kept, targets, 0).unsqueeze(-1);
    const picked = logits.logSoftmax(-1).gather(-1, safe).squeeze(-1);
    return where(kept, picked.neg(), 0);
  }
  const { loss, lse } = k.crossEntropy(logits.storage('crossEntropy'), targets.storage('crossEntropy'), rows, cols, ignoreIndex);
  return record('crossEntropyRows', [logits, targets, wrap(lse, [rows])], wrap(loss, [rows]), { ignoreIndex });
}

function crossEntropyRule(g: Tensor, { inputs: [logits, targets, lse], attrs: { ignoreIndex } }: GraphNode): Array<Tensor | null> {
  const [rows, cols] = logits!.shape as [number, number];
  const dx = logits!.backend.fused!.crossEntropyBackward(
    logits!.storage('crossEntropy backward'),
    targets!.storage('crossEntropy backward'),
    lse!.storage('crossEntropy backward'),
    g.storage('crossEntropy backward'),
    rows,
    cols,
    ignoreIndex,
  );
  return [wrap(dx, logits!.shape), null, null];
}

// ---- scaled-dot-product attention ---------------------------------------------------------------

/** Score given to a masked-out (query, key) pair: exp of it is exactly 0 next to any real score. */
export const MASKED_SCORE = -1e30;

/**
 * The composite: softmax(where(allowed, q kᵀ / √D, −1e30)) v, grouped-query heads laid out so that
 * the G = H / Hkv query heads of a group form one [G·S, D] matrix against their keys (no copy of
 * the keys or values).
 */
function attentionComposite(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor): Tensor {
  const [batch, heads, seq, headDim] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1]!;
  const group = heads / kvHeads;
  const keys = k.shape[2]!;
  const grouped = q.reshape([batch, kvHeads, group * seq, headDim]);
  const scores = grouped
    .matmul(k, { transB: true })
    .mul(1 / Math.sqrt(headDim))
    .reshape([batch, kvHeads, group, seq, keys]);
  const mask = allowed.reshape([batch, 1, 1, seq, keys]);
  const weights = softmaxLastAxis(where(mask, scores, MASKED_SCORE)).reshape([batch, kvHeads, group * seq, keys]);
  return weights.matmul(v).reshape([batch, heads, seq, headDim]);
}

/**
 * softmax(q kᵀ / √D, masked) v with grouped-query heads: q [B, H, S, D], k and v [B, Hkv, T, D]
 * (H a multiple of Hkv; query head h reads key/value head ⌊h / (H/Hkv)⌋), allowed a bool tensor
 * of B·S·T elements ([B, 1, 1, S, T] or [B, S, T]) saying which keys each query may see. Masked
 * scores are replaced by −1e30, so a query with no allowed key attends uniformly.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor): Tensor {
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(
      `scaledDotProductAttention: expected q [B, H, S, D] and k, v [B, Hkv, T, D], got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`,
    );
  }
  const [batch, heads, seq, dim] = q.shape as [number, number, number, number];
  const [kb, kvHeads, keys, kd] = k.shape as [number, number, number, number];
  if (kb !== batch || kd !== dim || !sameShape(k.shape, v.shape) || kvHeads === 0 || heads % kvHeads !== 0) {
    throw new ShapeError(
      `scaledDotProductAttention: expected q [B, H, S, D] and k, v [B, Hkv, T, D] with H a multiple of Hkv, got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`,
    );
  }
  if (allowed.dtype !== 'bool' || allowed.size !== batch * seq * keys) {
    throw new ShapeError(
      `scaledDotProductAttention: expected a bool mask of [B, 1, 1, S, T] = [${batch}, 1, 1, ${seq}, ${keys}], got ${allowed.dtype} ${formatShape(allowed.shape)}`,
    );
  }
  const kernels = kernelsFor(q, k, v);
  if (
    kernels === null ||
    q.size === 0 ||
    keys === 0 ||
    k.dtype !== q.dtype ||
    v.dtype !== q.dtype ||
    k.backend !== q.backend ||
    v.backend !== q.backend ||
    allowed.backend !== q.backend
  ) {
    return attentionComposite(q, k, v, allowed);
  }
  const spec: AttentionSpec = { batch, heads, kvHeads, seq, keys, dim, scale: 1 / Math.sqrt(dim) };
  if (!kernels.supportsAttention(spec)) return attentionComposite(q, k, v, allowed);
  const { out, lse } = kernels.attention(q.storage('attention'), k.storage('attention'), v.storage('attention'), allowed.storage('attention'), spec);
  return record('attention', [q, k, v, allowed, wrap(lse, [batch, heads, seq])], wrap(out, q.shape), { spec });
}

function attentionRule(g: Tensor, node: GraphNode): Array<Tensor | null> {
  const [q, k, v, allowed, lse] = node.inputs;
  const spec: AttentionSpec = node.attrs.spec;
  const op = 'attention backward';
  const r = q!.backend.fused!.attentionBackward(
    q!.storage(op),
    k!.storage(op),
    v!.storage(op),
    allowed!.storage(op),
    node.output.storage(op),
    lse!.storage(op),
    g.storage(op),
    spec,
  );
  const dq = wrap(r.dq, q!.shape);
  const dk = wrap(r.dk, k!.shape);
  const dv = wrap(r.dv, v!.shape);
  return [q!.requiresGrad ? dq : null, k!.requiresGrad ? dk : null, v!.requiresGrad ? dv : null, null, null];
}

/**
 * The gradient rules of the family's primitives, one backward kernel each (engine/gradients.ts
 * gathers every family's). A statistic the forward kernel saved is an extra input (no gradient).
 */
export const fusedRules: Record<'softmax' | 'rmsNorm' | 'rotary' | 'siluMul' | 'matmulAddScaled' | 'crossEntropyRows' | 'attention', Rule> = {
  softmax: softmaxRule,
  rmsNorm: rmsNormRule,
  rotary: rotaryRule,
  siluMul: siluMulRule,
  matmulAddScaled: matmulAddScaledRule,
  crossEntropyRows: crossEntropyRule,
  attention: attentionRule,
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof fusedRules, Rule> {}
}
