import type { DType, TypedArray } from './dtype.ts';

/**
 * The backend interface: the only thing a new device has to implement.
 *
 * A backend owns flat, contiguous storage (row-major) and runs a small set of kernels on it. It
 * knows nothing of autograd, of broadcasting rules or of error messages for the user: the
 * frontend (`engine/ops/<family>/ops.ts`) checks shapes and dtypes, works out strides, and
 * records the graph. Every kernel returns fresh storage, except `copy` and `fill`, which write
 * into storage the frontend has just allocated (used to assemble concat, pad, stack).
 *
 * Shapes and strides are in elements. A stride of 0 repeats an element (broadcasting).
 * All kernels are synchronous from the caller's point of view (a GPU backend may queue the work);
 * only `read` waits for results.
 */
export interface Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
}

/**
 * The names of the elementwise ops, as the kernels take them. The elementwise family lists its ops
 * (UNARY_OPS and BINARY_OPS in engine/ops/elementwise/ops.ts) and adds their names here by
 * declaration merging (`unary`, `binary`), so that this file, which every family imports, imports
 * no family back. Exported for that merging, which knip does not count as a use:
 *
 * @public
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging, which a type alias cannot take
export interface OpNames {}
export type UnaryOp = OpNames['unary'];
/** Arithmetic: output dtype = input dtype. Comparisons: output dtype `bool`. */
export type BinaryOp = OpNames['binary'];

export type ReduceOp = 'sum' | 'max';

/** How an operand is read: element (i0..in) of the output comes from offset + Σ i_d·strides[d]. */
export interface View {
  offset: number;
  strides: readonly number[];
}

export interface MatmulSpec {
  /** Number of independent products. */
  batch: number;
  /** Output is [batch, m, n]; the shared dimension is k. */
  m: number;
  n: number;
  k: number;
  /** a is stored [m, k] (or [k, m] when transA); b is stored [k, n] (or [n, k] when transB). */
  transA: boolean;
  transB: boolean;
  /** Elements between consecutive batch entries of a and b: m·k (or n·k), or 0 to broadcast. */
  aBatchStride: number;
  bBatchStride: number;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /**
   * The largest tensor, in bytes, this backend can hold (WebGPU: the storage-binding limit, often
   * 128 MiB); absent where only memory bounds it. Work that would make a larger tensor is chunked
   * by the caller (clara/answerLoss.ts splits the vocabulary projection by rows).
   */
  readonly maxTensorBytes?: number;
  /** Whether this backend can hold tensors of `dtype` (the WebGPU backend has no float64). */
  supports(dtype: DType): boolean;
  /**
   * Whether storage lives in host memory (the CPU backend; WebGPU on a software adapter such as
   * llvmpipe), so that loading a model must fit in the host's free memory.
   */
  readonly usesHostMemory: boolean;

  // ---- memory -------------------------------------------------------------------------------
  /** Zero-filled storage. */
  alloc(dtype: DType, size: number): Storage;
  upload(dtype: DType, data: TypedArray): Storage;
  /** The contents as a host array (Uint8Array of 0/1 for bool). */
  read(s: Storage): Promise<TypedArray>;
  /** Return storage to the backend (its memory may be reused at once by later kernels). */
  release(s: Storage): void;

  // ---- kernels ------------------------------------------------------------------------------
  /** out[i] = op(x[i]) over the whole storage. */
  unary(op: UnaryOp, x: Storage): Storage;
  /** out[idx] = op(a[view a], b[view b]) for every idx of `shape` (row-major). */
  binary(op: BinaryOp, shape: readonly number[], a: Storage, av: View, b: Storage, bv: View): Storage;
  /** out[idx] = cond ? a : b, all three read through views over `shape`. */
  where(shape: readonly number[], cond: Storage, cv: View, a: Storage, av: View, b: Storage, bv: View): Storage;
  /**
   * Reduce x (contiguous, `shape`) over `axes`; the result keeps reduced axes as size 1.
   * `sum` of bool/int32 is int32; `max` keeps the dtype.
   */
  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage;
  /** Index (int32) of the first maximum along `axis`; result keeps `axis` as size 1. */
  argmax(x: Storage, shape: readonly number[], axis: number): Storage;
  /**
   * Batched matrix product, [batch, m, n] of a's dtype; see MatmulSpec. b may be 16-bit storage
   * (bfloat16 / float16) with a float32: its elements are widened to float32 as they are read.
   */
  matmul(a: Storage, b: Storage, spec: MatmulSpec): Storage;
  /** dst[dstView(idx)] = src[srcView(idx)] for every idx of `shape`. Writes in place. */
  copy(shape: readonly number[], src: Storage, sv: View, dst: Storage, dv: View): void;
  /** Sets every element to `value`. Writes in place. */
  fill(s: Storage, value: number): void;
  /** Converts element type (float→int truncates toward zero; anything→bool is `!= 0`). */
  cast(x: Storage, dtype: DType): Storage;
  /**
   * torch.gather: x is contiguous `shape`; index (int32) is contiguous `indexShape` (same rank);
   * out[idx] = x[idx with idx[axis] replaced by index[idx]]. Out has `indexShape` and x's dtype,
   * or float32 when x is 16-bit storage (widened as it is read). Indices must be in range.
   */
  gather(x: Storage, shape: readonly number[], axis: number, index: Storage, indexShape: readonly number[]): Storage;
  /**
   * torch.scatter_add: out = copy of base (`shape`), then for every idx of `indexShape`,
   * out[idx with idx[axis] replaced by index[idx]] += src[idx]. Deterministic order.
   */
  scatterAdd(base: Storage, shape: readonly number[], axis: number, index: Storage, src: Storage, indexShape: readonly number[]): Storage;
  /**
   * The k largest values along the last axis of x ([rows, cols]), in descending order; ties keep
   * the lower index first. Returns values [rows, k] and int32 indices [rows, k].
   */
  topk(x: Storage, rows: number, cols: number, k: number): { values: Storage; indices: Storage };

  /**
   * Storage whose contents are undefined, for outputs the frontend overwrites completely before
   * reading (a strided copy's target). Optional: `alloc` serves when it is missing.
   */
  allocEmpty?(dtype: DType, size: number): Storage;
  /**
   * Submits the work recorded so far, without waiting for it (optional: a backend that runs each op
   * when it is called has nothing to submit). Storage released after it is free for an upload at
   * once; before it, an upload cannot take storage that recorded work still uses, and allocates
   * more. loadModel calls it before it replaces every parameter's storage with the checkpoint's.
   */
  flush?(): void;
  /** Fused kernels (optional; see FusedKernels). */
  readonly fused?: FusedKernels;
  /** Fused optimiser kernels (optional; see OptimizerKernels). */
  readonly optim?: OptimizerKernels;
}

/**
 * The scalars of one AdamW update (engine/optim/adamw.ts): the same for every parameter of a step.
 * On a float32 backend each is rounded to float32 first, as the composite's constant tensors are.
 */
export interface AdamWScalars {
  /**
   * The gradient's multiplier, applied first (g·gradScale, rounded to the dtype): a gradient-clipping
   * coefficient folded into the update (clipAndStep) instead of one multiply per gradient. Exactly 1
   * leaves g as it is.
   */
  gradScale: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1 − lr·λ (decoupled weight decay); exactly 1 means no decay (the multiply is skipped). */
  decay: number;
  /** lr / (1 − β₁ᵗ). */
  stepSize: number;
  /** √(1 − β₂ᵗ). */
  bc2Sqrt: number;
}

/**
 * Optional fused kernels for the optimiser: one pass per parameter instead of a dozen elementwise
 * ops. Each reproduces its composite in engine/optim (the reference) operation for operation, with
 * the same rounding, so results agree to the last bit or nearly (a GPU compiler may contract a
 * multiply-add). All operands are contiguous and float.
 */
export interface OptimizerKernels {
  /**
   * AdamW on one parameter p with gradient g and moments m, v (all `size` elements), returning new
   * storage for each (the inputs are not modified). Per element, in this order and with a rounding
   * after every operation:
   *
   *   m' = m·β₁ + g·(1 − β₁)
   *   v' = v·β₂ + (g·g)·(1 − β₂)
   *   p' = (decay = 1 ? p : p·decay) − (m' / (√v' / bc2Sqrt + ε))·stepSize
   *
   * `rowMask` (bool, one element per row of `rowSize` elements, or null): where it is false,
   * p', m' and v' are p, m and v unchanged.
   */
  adamw(p: Storage, g: Storage, m: Storage, v: Storage, rowMask: Storage | null, rowSize: number, s: AdamWScalars): { p: Storage; m: Storage; v: Storage };
  /**
   * Σ g² over every element of every storage in `gs` (float, any sizes), as a one-element storage
   * of `gs[0]`'s dtype, accumulated at least in that dtype (the order of the sum is the backend's).
   */
  sumOfSquares(gs: readonly Storage[]): Storage;
}

/** Shapes of a fused scaled-dot-product attention (see FusedKernels.attention). */
export interface AttentionSpec {
  batch: number;
  /** Query heads H and key/value heads Hkv (H a multiple of Hkv; head h reads kv head ⌊h / (H/Hkv)⌋). */
  heads: number;
  kvHeads: number;
  /** Queries S, keys T, head dimension D. */
  seq: number;
  keys: number;
  dim: number;
  /** Multiplies q·k (1/√D for the usual attention). */
  scale: number;
}

/**
 * Optional fused kernels for the transformer's hot paths. Each replaces a chain of primitives
 * (its composite in engine/ops/fused/ops.ts is the reference) by one pass over memory, forward and
 * backward. All operands are contiguous and float (float32, or float64 on the CPU backend); the
 * frontend checks shapes. A backend without `fused` runs the composites.
 */
export interface FusedKernels {
  /** Softmax along the last axis of x [rows, cols]. */
  softmax(x: Storage, rows: number, cols: number): Storage;
  /** dx = y·(g − Σ_cols g·y), from the softmax output y and upstream g, both [rows, cols]. */
  softmaxBackward(y: Storage, g: Storage, rows: number, cols: number): Storage;
  /** y = x·inv·w with inv = 1/√(mean(x², last axis) + eps); x [rows, cols], w [cols]; inv [rows]. */
  rmsNorm(x: Storage, w: Storage, rows: number, cols: number, eps: number): { y: Storage; inv: Storage };
  /** dx, and dw = Σ_rows g·x·inv when `wantDw` (else null). */
  rmsNormBackward(x: Storage, w: Storage, inv: Storage, g: Storage, rows: number, cols: number, wantDw: boolean): { dx: Storage; dw: Storage | null };
  /**
   * Rotary embedding ("rotate half"): x [B, H, S, D], cos and sin [B, 1, S, D];
   * y = x·cos + [−x₂, x₁]·sin. `transpose`: the adjoint, g·cos + [(g·sin)₂, −(g·sin)₁] (the gradient).
   */
  rotary(x: Storage, cos: Storage, sin: Storage, batch: number, heads: number, seq: number, dim: number, transpose: boolean): Storage;
  /**
   * out = base + scale·(x·wᵀ): x [rows, k], w [n, k], base and out [rows, n]; the tail of a LoRA
   * linear in one kernel. Rounded as the composite's three kernels round: the product to the dtype,
   * then scale·product (scale itself in the dtype), then the sum.
   */
  matmulAddScaled(base: Storage, x: Storage, w: Storage, rows: number, n: number, k: number, scale: number): Storage;
  /** silu(a)·b = a·σ(a)·b, elementwise over equal sizes. */
  siluMul(a: Storage, b: Storage): Storage;
  siluMulBackward(a: Storage, b: Storage, g: Storage): { da: Storage; db: Storage };
  /**
   * Per row of logits [rows, cols] with int32 targets [rows]: loss = logsumexp(row) − row[target],
   * 0 where target = ignoreIndex; also lse [rows]. Targets must be in range (or ignoreIndex).
   */
  crossEntropy(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number): { loss: Storage; lse: Storage };
  /** d logits = g_row·(softmax(row) − onehot(target)), 0 on ignored rows. g [rows]. */
  crossEntropyBackward(logits: Storage, targets: Storage, lse: Storage, g: Storage, rows: number, cols: number, ignoreIndex: number): Storage;
  /**
   * out = softmax(where(allowed, scale·q·kᵀ, −1e30))·v per head: q [B, H, S, D], k and v [B, Hkv, T, D],
   * allowed (bool) [B, S, T]; also lse [B, H, S], the log of each row's softmax denominator
   * (plus its maximum). A row with no allowed key attends uniformly, as the composite does.
   */
  attention(q: Storage, k: Storage, v: Storage, allowed: Storage, spec: AttentionSpec): { out: Storage; lse: Storage };
  /** Whether `attention` takes these shapes (the WebGPU kernel needs D a multiple of 4, say). */
  supportsAttention(spec: AttentionSpec): boolean;
  attentionBackward(
    q: Storage,
    k: Storage,
    v: Storage,
    allowed: Storage,
    out: Storage,
    lse: Storage,
    g: Storage,
    spec: AttentionSpec,
  ): { dq: Storage; dk: Storage; dv: Storage };
}
