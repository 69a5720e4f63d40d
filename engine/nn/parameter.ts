import { noGrad } from '../graph.ts';
import { isFloat, isHalf } from '../dtype.ts';
import { keep, type StorageHandle, trackTensor, untrackTensor } from '../memory.ts';
import { formatShape, sameShape, ShapeError } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { tensor } from '../ops/creation.ts';
import { where } from '../ops/elementwise/ops.ts';

export interface ParameterOptions {
  /** A label for error messages; a `Module` names its parameters by their place in the tree instead. */
  name?: string;
  /** Whether the optimiser should train it (default true). `false` makes a frozen parameter. */
  requiresGrad?: boolean;
}

/**
 * A trainable leaf tensor: the weights of a model.
 *
 * Tensors are immutable, yet an optimiser must change a weight while every module keeps pointing
 * at the same object. A Parameter is the one tensor whose storage can be swapped: `assign(next)`
 * makes it refer to `next`'s elements (no copy), and tensors made from its old values (a
 * `detach()`ed snapshot, inputs saved in a graph) keep the old ones — so nothing else ever sees a
 * value change under it.
 *
 * A Parameter is exempt from every `tidy` (it is `keep`-ed): a training step wrapped in `tidy`
 * frees its activations but never the model.
 */
export class Parameter extends Tensor {
  readonly isParameter = true;
  name: string;
  /** bool [rows, 1, …, 1]: which rows of the first axis may change; null = all of them. */
  private mask: Tensor | null = null;
  private rows: readonly number[] | null = null;
  /** The gradient object the mask was last applied to, so masking twice costs nothing. */
  private maskedGrad: Tensor | null = null;

  /**
   * Wraps the values of `data` (sharing its storage: `data` may be disposed afterwards).
   * Only floating-point tensors can be parameters, since only they have gradients; a 16-bit one
   * (bfloat16 / float16, engine/dtype.ts) only as a frozen weight (`requiresGrad: false`).
   */
  constructor(data: Tensor, options: ParameterOptions = {}) {
    super(handleOf(data, 'Parameter'), data.shape);
    if (!isFloat(this.dtype) && !isHalf(this.dtype)) throw new TypeError(`Parameter: only floating point tensors can require gradients (got ${this.dtype})`);
    this.name = options.name ?? '';
    this.requiresGrad_(options.requiresGrad ?? true);
    keep(this);
  }

  /**
   * A parameter holding a tensor made for it (`zeros(…)`, `kaimingUniform(…)`), which is disposed:
   * the storage then has one owner, and is freed the moment the parameter lets go of it. With
   * `new Parameter(t)` and `t` left alive, an `assign` (a checkpoint's values replacing the initial
   * ones) frees nothing until the garbage collector finds `t`, which it may not do before memory runs
   * out: a 7B model loaded on WebGPU held its initial storage and its weights, twice 14.5 GB.
   */
  static adopt(fresh: Tensor, options: ParameterOptions = {}): Parameter {
    const p = new Parameter(fresh, options);
    fresh.dispose();
    return p;
  }

  /** Freezes (`false`) or unfreezes (`true`) this parameter, like torch's `requires_grad_`. */
  requiresGrad_(flag = true): this {
    if (flag && isHalf(this.dtype)) {
      throw new TypeError(
        `Parameter${this.name ? ` (${this.name})` : ''}: a ${this.dtype} tensor cannot require grad (16-bit storage is for frozen weights: load in float32 to train it, or train a LoRA adapter)`,
      );
    }
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Makes this parameter hold `value`'s elements, in place as far as its users can tell: the same
   * object, the same shape, new contents. The storage is shared with `value`, not copied; `value`
   * may be disposed afterwards (a `tidy` around the optimiser step does that). The gradient and
   * the row mask are left as they are.
   *
   * Call it after `backward()`, never between a forward pass and its backward: a graph refers to
   * the Parameter object itself, so its gradient rules would read the new values (PyTorch raises
   * an in-place modification error in that case; here it is the caller's duty).
   */
  assign(value: Tensor): this {
    const where_ = `Parameter.assign${this.name ? ` (${this.name})` : ''}`;
    if (!sameShape(value.shape, this.shape)) {
      throw new ShapeError(`${where_}: cannot assign a tensor of shape ${formatShape(value.shape)} to a parameter of shape ${formatShape(this.shape)}`);
    }
    if (value.dtype !== this.dtype) throw new TypeError(`${where_}: cannot assign a ${value.dtype} tensor to a ${this.dtype} parameter (cast it first)`);
    if (value.backend !== this.backend) {
      throw new Error(`${where_}: cannot assign a tensor on the ${value.backend.name} backend to a parameter on the ${this.backend.name} backend`);
    }
    const next = handleOf(value, where_);
    const previous = handleOf(this, where_);
    if (next === previous) return this; // e.g. loading a state dict taken from this very model
    // Release the old storage and take a reference on the new one, exactly as dispose() and the
    // constructor would (so the finalizer and tidy bookkeeping stay right).
    untrackTensor(this, previous);
    (this as unknown as MutableHandle).handle = next;
    trackTensor(this, next);
    return this;
  }

  /**
   * Trains only some rows of this parameter (its first axis): e.g. the new `<MEM>` rows of an
   * embedding table while the vocabulary's rows stay as they are. The optimiser and
   * `clipGradNorm` zero the gradient of every other row (as a gradient hook would), and the
   * optimiser leaves those rows — and their optimiser state — untouched, weight decay included.
   * `null` trains every row again.
   */
  setTrainableRows(rows: readonly number[] | null): this {
    this.mask?.dispose();
    this.mask = null;
    this.rows = null;
    this.maskedGrad = null;
    if (rows === null) return this;
    if (this.rank === 0) throw new ShapeError(`Parameter.setTrainableRows: a 0-d parameter${this.name ? ` (${this.name})` : ''} has no rows`);
    const n = this.shape[0]!;
    const flags = new Uint8Array(n);
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= n) {
        throw new RangeError(`Parameter.setTrainableRows: row ${r} is out of bounds for a parameter of shape ${formatShape(this.shape)}`);
      }
      flags[r] = 1;
    }
    const maskShape = this.shape.map((d, i) => (i === 0 ? d : 1));
    this.mask = keep(noGrad(() => tensor(flags, maskShape, { dtype: 'bool', backend: this.backend })));
    this.rows = Object.freeze([...new Set(rows)].sort((a, b) => a - b));
    return this;
  }

  /** The rows `setTrainableRows` chose (sorted), or null when every row is trainable. */
  get trainableRows(): readonly number[] | null {
    return this.rows;
  }

  /**
   * The row mask as a bool tensor [rows, 1, …, 1] (broadcastable to the parameter), or null.
   * For optimisers: `where(mask, updated, old)` keeps the frozen rows.
   */
  get rowMask(): Tensor | null {
    return this.mask;
  }

  /**
   * Zeroes the gradient rows that `setTrainableRows` excluded (replacing `.grad`) and returns the
   * gradient. Idempotent; a no-op without a mask or a gradient.
   */
  maskGrad(): Tensor | null {
    const g = this.grad;
    if (g === null || this.mask === null || g === this.maskedGrad) return g;
    const masked = keep(noGrad(() => where(this.mask!, g, 0)));
    g.dispose();
    this.grad = masked;
    this.maskedGrad = masked;
    return masked;
  }

  /**
   * Multiplies the gradient by `factor` (a scalar tensor), replacing `.grad`; gradient clipping
   * uses it. A masked gradient stays masked (zero times anything is zero), so it is not re-masked.
   */
  scaleGrad(factor: Tensor): void {
    const g = this.grad;
    if (g === null) return;
    const scaled = keep(noGrad(() => g.mul(factor.cast(g.dtype))));
    const wasMasked = g === this.maskedGrad;
    g.dispose();
    this.grad = scaled;
    if (wasMasked) this.maskedGrad = scaled;
  }

  /** Frees the storage, the gradient and the row mask. */
  override dispose(): void {
    this.mask?.dispose();
    this.mask = null;
    this.grad?.dispose();
    this.grad = null;
    super.dispose();
  }

  override toString(): string {
    return `Parameter(${this.name ? `name=${this.name}, ` : ''}shape=${formatShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? '' : ', frozen'}${this.rows ? `, ${this.rows.length} trainable rows` : ''})`;
  }
}

export function isParameter(value: unknown): value is Parameter {
  return value instanceof Parameter;
}

/**
 * `Tensor.handle` is private to engine/tensor.ts; a Parameter is the one place that must share or
 * swap it. (Proposed core change: a `protected` accessor on Tensor, which would remove this cast.)
 */
interface MutableHandle {
  handle: StorageHandle | null;
}

function handleOf(t: Tensor, op: string): StorageHandle {
  t.storage(op); // throws the usual "Tensor was disposed" error
  return (t as unknown as MutableHandle).handle!;
}
