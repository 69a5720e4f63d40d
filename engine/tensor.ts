import type { Backend, Storage } from './backend.ts';
import type { DType, TypedArray } from './dtype.ts';
import type { GraphNode } from './autograd.ts';
import { backward } from './autograd.ts';
import { StorageHandle, trackTensor, untrackTensor } from './memory.ts';
import { formatShape, numel } from './shape.ts';
import * as elementwise from './ops/elementwise.ts';
import * as reduce from './ops/reduce.ts';
import * as movement from './ops/movement.ts';
import * as indexing from './ops/indexing.ts';
import * as nn from './ops/nn.ts';
import { matmul, type MatmulOptions } from './ops/matmul.ts';

type Operand = Tensor | number;

/**
 * An n-dimensional array on a backend, with an optional gradient.
 *
 * Tensors are immutable: every op returns a new tensor. Elements are stored contiguously in
 * row-major order, so a reshape is free (it shares the storage) and every other change of layout
 * (permute, expand, slice…) is one strided copy on the backend.
 *
 * `requiresGrad` marks a tensor whose gradient `backward()` should compute: a leaf (a parameter)
 * gets it in `.grad`; an intermediate result carries the `node` that produced it.
 */
export class Tensor {
  readonly isTensor = true;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, while a graph for backward is alive. */
  node: GraphNode | null = null;
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

  // ---- autograd ------------------------------------------------------------------------------
  backward(grad?: Tensor): void {
    backward(this, grad);
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

  onesLike(): Tensor {
    return elementwise.fullLike(this, 1);
  }

  // ---- elementwise ---------------------------------------------------------------------------
  add(o: Operand): Tensor { return elementwise.binary('add', this, o); }
  sub(o: Operand): Tensor { return elementwise.binary('sub', this, o); }
  mul(o: Operand): Tensor { return elementwise.binary('mul', this, o); }
  div(o: Operand): Tensor { return elementwise.binary('div', this, o); }
  pow(o: Operand): Tensor { return elementwise.binary('pow', this, o); }
  maximum(o: Operand): Tensor { return elementwise.binary('maximum', this, o); }
  minimum(o: Operand): Tensor { return elementwise.binary('minimum', this, o); }
  eq(o: Operand): Tensor { return elementwise.binary('eq', this, o); }
  ne(o: Operand): Tensor { return elementwise.binary('ne', this, o); }
  lt(o: Operand): Tensor { return elementwise.binary('lt', this, o); }
  le(o: Operand): Tensor { return elementwise.binary('le', this, o); }
  gt(o: Operand): Tensor { return elementwise.binary('gt', this, o); }
  ge(o: Operand): Tensor { return elementwise.binary('ge', this, o); }
  neg(): Tensor { return elementwise.unary('neg', this); }
  exp(): Tensor { return elementwise.unary('exp', this); }
  log(): Tensor { return elementwise.unary('log', this); }
  sqrt(): Tensor { return elementwise.unary('sqrt', this); }
  rsqrt(): Tensor { return elementwise.unary('rsqrt', this); }
  abs(): Tensor { return elementwise.unary('abs', this); }
  sin(): Tensor { return elementwise.unary('sin', this); }
  cos(): Tensor { return elementwise.unary('cos', this); }
  tanh(): Tensor { return elementwise.unary('tanh', this); }
  sigmoid(): Tensor { return elementwise.unary('sigmoid', this); }
  relu(): Tensor { return elementwise.unary('relu', this); }
  sign(): Tensor { return elementwise.unary('sign', this); }
  silu(): Tensor { return elementwise.silu(this); }
  square(): Tensor { return this.mul(this); }
  maskedFill(mask: Tensor, value: number): Tensor { return elementwise.maskedFill(this, mask, value); }
  cast(dtype: DType): Tensor { return elementwise.cast(this, dtype); }

  // ---- reductions ----------------------------------------------------------------------------
  sum(axes?: number | readonly number[], keepdim = false): Tensor { return reduce.sum(this, axes, keepdim); }
  mean(axes?: number | readonly number[], keepdim = false): Tensor { return reduce.mean(this, axes, keepdim); }
  max(axes?: number | readonly number[], keepdim = false): Tensor { return reduce.max(this, axes, keepdim); }
  argmax(axis: number, keepdim = false): Tensor { return reduce.argmax(this, axis, keepdim); }
  logsumexp(axes: number | readonly number[], keepdim = false): Tensor { return reduce.logsumexp(this, axes, keepdim); }

  // ---- linear algebra ------------------------------------------------------------------------
  matmul(b: Tensor, options?: MatmulOptions): Tensor { return matmul(this, b, options); }

  // ---- layout --------------------------------------------------------------------------------
  reshape(shape: readonly number[]): Tensor { return movement.reshape(this, shape); }
  flatten(): Tensor { return movement.reshape(this, [this.size]); }
  unsqueeze(axis: number): Tensor { return movement.unsqueeze(this, axis); }
  squeeze(axis: number): Tensor { return movement.squeeze(this, axis); }
  permute(dims: readonly number[]): Tensor { return movement.permute(this, dims); }
  transpose(d0: number, d1: number): Tensor { return movement.transpose(this, d0, d1); }
  expand(shape: readonly number[]): Tensor { return movement.expand(this, shape); }
  slice(axis: number, start: number, end?: number): Tensor { return movement.slice(this, axis, start, end); }
  split(sizes: number | number[], axis = 0): Tensor[] { return movement.split(this, sizes, axis); }
  pad(pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor { return movement.pad(this, pads, value); }

  // ---- indexing ------------------------------------------------------------------------------
  gather(axis: number, index: Tensor): Tensor { return indexing.gather(this, axis, index); }
  scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor { return indexing.scatterAdd(this, axis, index, src); }
  scatter(axis: number, index: Tensor, src: Tensor): Tensor { return indexing.scatter(this, axis, index, src); }
  indexSelect(axis: number, index: Tensor): Tensor { return indexing.indexSelect(this, axis, index); }

  // ---- nn ------------------------------------------------------------------------------------
  softmax(axis = -1): Tensor { return nn.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return nn.logSoftmax(this, axis); }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype}, backend=${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
