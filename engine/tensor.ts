import type { Backend, Storage } from './backend.ts';
import type { DType, TypedArray } from './dtype.ts';
import { StorageHandle, trackTensor, untrackTensor } from './memory.ts';
import { formatShape, numel } from './shape.ts';

/**
 * What a primitive op leaves on its output while a graph for backward is alive (engine/graph.ts
 * records it, engine/autograd.ts reads it).
 */
/**
 * Op-specific attributes (axes, flags…) as an op records them for its gradient rule. Each op
 * records its own keys and its rule destructures them back (`{ attrs: { perm } }`): the values are
 * as varied as the ops, and the op and its rule sit side by side in the family's ops.ts.
 */
// biome-ignore lint/suspicious/noExplicitAny: each op's rule reads back the keys that op recorded, with the types it gave them
export type OpAttrs = Record<string, any>;

export interface GraphNode {
  /** The primitive: a key of the rule table in engine/gradients.ts. */
  op: string;
  inputs: Tensor[];
  /** Op-specific attributes (axes, flags…), as the op recorded them; read by its gradient rule. */
  attrs: OpAttrs;
  output: Tensor;
}

/**
 * An n-dimensional array on a backend, with an optional gradient.
 *
 * Tensors are immutable: every op returns a new tensor. Elements are stored contiguously in
 * row-major order, so a reshape is free (it shares the storage) and every other change of layout
 * (permute, expand, slice…) is one strided copy on the backend.
 *
 * `requiresGrad` marks a tensor whose gradient `backward()` should compute: a leaf (a parameter)
 * gets it in `.grad`; an intermediate result carries the `node` that produced it.
 *
 * This file holds only the tensor itself. The ops are methods too (`x.add(y)`, `x.sum(0)`), but
 * each op family attaches its own (engine/ops/<family>/ops.ts, by declaration merging), so that
 * this file imports no op; engine/index.ts loads every family.
 */
export class Tensor {
  readonly isTensor = true;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  requiresGrad = false;
  /** The op that produced this tensor, while a graph for backward is alive. */
  node: GraphNode | null = null;
  /** Set by `retainGrad()`: backward stores this intermediate's gradient in `.grad` too. */
  retainsGrad = false;
  /** Functions backward calls with this tensor's gradient (`registerHook`). */
  readonly hooks: Array<(grad: Tensor) => void> = [];
  private gradValue: Tensor | null = null;
  /** True once `.grad` was read: the gradient is the caller's too, so the engine never disposes it. */
  private gradHandedOut = false;
  protected handle: StorageHandle | null;

  /** Wraps backend storage; ops use this, users use the creation functions in `ops/creation.ts`. */
  constructor(storage: Storage | StorageHandle, shape: readonly number[]) {
    this.handle = storage instanceof StorageHandle ? storage : new StorageHandle(storage);
    this.shape = Object.freeze([...shape]);
    this.dtype = this.handle.storage.dtype;
    this.backend = this.handle.storage.backend;
    if (numel(shape) !== this.handle.storage.size) {
      throw new Error(`Tensor: shape ${formatShape(shape)} does not match storage of ${this.handle.storage.size} elements`);
    }
    trackTensor(this, this.handle);
  }

  get size(): number {
    return this.handle?.storage.size ?? numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.handle === null;
  }

  /** The backend storage; throws if the tensor was disposed. `op` names the caller in the error. */
  storage(op: string): Storage {
    if (this.handle === null) throw new Error(`${op}: Tensor was disposed (shape ${formatShape(this.shape)}, ${this.dtype}) and cannot be used`);
    return this.handle.storage;
  }

  /** A new tensor object over the same storage, with a new shape of the same size. */
  withShape(shape: readonly number[]): Tensor {
    this.storage('reshape');
    return new Tensor(this.handle!, shape);
  }

  /** Same storage and shape, a separate object (no graph, no grad). */
  alias(): Tensor {
    return this.withShape(this.shape);
  }

  /** Frees the storage (when no other tensor shares it). Using the tensor afterwards throws. */
  dispose(): void {
    if (this.handle === null) return;
    untrackTensor(this, this.handle);
    this.handle = null;
    this.node = null;
  }

  // ---- host access ---------------------------------------------------------------------------
  /** The elements in row-major order (a Uint8Array of 0/1 for bool). Waits for the backend. */
  async toArray(): Promise<TypedArray> {
    return this.backend.read(this.storage('toArray'));
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: a Tensor with ${this.size} elements cannot be converted to Scalar`);
    return (await this.toArray())[0]!;
  }

  // ---- autograd ----------------------------------------------------------------------------
  /**
   * d(root)/d(this) after `backward`: for leaves that require gradients, and for intermediates
   * that called `retainGrad()`. Accumulates across backward calls, as in PyTorch.
   *
   * The validity rule (copy-on-accumulate): a gradient once read here stays valid. A later
   * backward adds into a new tensor and leaves the one you hold alone (it is yours: dispose it
   * when done, or let the garbage collector free it). A gradient nobody read is disposed when it
   * is replaced, so training loops that never look at `.grad` between backward calls keep no copies.
   */
  get grad(): Tensor | null {
    if (this.gradValue !== null) this.gradHandedOut = true;
    return this.gradValue;
  }

  /** Replaces the gradient as is (optimisers, clipping, zeroGrad); the caller disposes the old one. */
  set grad(value: Tensor | null) {
    this.gradValue = value;
    this.gradHandedOut = false;
  }

  /**
   * The engine's side of the rule above: makes `next` the gradient and disposes the previous one
   * unless a caller read it (engine/autograd.ts calls this when it accumulates).
   */
  replaceGrad(next: Tensor): void {
    const previous = this.gradValue;
    if (previous !== null && previous !== next && !this.gradHandedOut) previous.dispose();
    this.gradValue = next;
    this.gradHandedOut = false;
  }

  /** The gradient without handing it out (engine/autograd.ts reads it to add to it). */
  peekGrad(): Tensor | null {
    return this.gradValue;
  }

  /**
   * Asks backward to keep this intermediate's gradient in `.grad` (PyTorch's `retain_grad()`);
   * on a leaf it changes nothing. Returns this tensor.
   */
  retainGrad(): this {
    if (!this.requiresGrad) throw new Error("retainGrad: can't retain_grad on Tensor that has requires_grad=False");
    this.retainsGrad = true;
    return this;
  }

  /**
   * Calls `hook(grad)` when backward reaches this tensor with d(root)/d(this) (PyTorch's
   * `register_hook`, observing only: the gradient flows on unchanged). The tensor passed is
   * valid during the call only; `.alias()` and `keep()` it to hold it longer. Returns a function
   * that removes the hook.
   */
  registerHook(hook: (grad: Tensor) => void): () => void {
    if (!this.requiresGrad) throw new Error("registerHook: cannot register a hook on a tensor that doesn't require gradient");
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** The same values, cut off from the graph: no gradient flows back through the result. */
  detach(): Tensor {
    return this.alias();
  }

  /** Marks this tensor as a leaf whose gradient is wanted; returns it. */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype}, backend=${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
