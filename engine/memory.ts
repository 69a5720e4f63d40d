import type { Storage } from './backend.ts';

/**
 * Memory management for tensors whose storage lives outside the JavaScript heap (GPU buffers).
 *
 * Several tensors may share one storage (a reshape is a new tensor over the same elements), so a
 * storage is released to its backend when the last tensor using it is disposed. Three ways lead
 * there: `tensor.dispose()`; `tidy(fn)`, which disposes every tensor created inside `fn` except
 * what `fn` returns (the usual way to write a training step); and, as a safety net, a finalizer
 * when a tensor is garbage-collected without having been disposed.
 */
export class StorageHandle {
  private refs = 0;
  constructor(readonly storage: Storage) {}

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.storage.backend.release(this.storage);
  }
}

/**
 * What memory management needs of a tensor (engine/tensor.ts's Tensor is one): written out here so
 * that this file, which the Tensor class imports, does not import it back.
 */
export interface TrackedTensor {
  readonly isTensor: true;
  readonly node: { readonly inputs: readonly TrackedTensor[] } | null;
  dispose(): void;
}

const finalizer = new FinalizationRegistry<StorageHandle>((handle) => handle.release());

/** Called by the Tensor constructor. */
export function trackTensor(tensor: TrackedTensor, handle: StorageHandle): void {
  handle.retain();
  finalizer.register(tensor, handle, tensor);
  scopes[scopes.length - 1]?.push(tensor);
}

/** Called by `Tensor.dispose()` (once per tensor). */
export function untrackTensor(tensor: TrackedTensor, handle: StorageHandle): void {
  finalizer.unregister(tensor);
  handle.release();
}

const scopes: TrackedTensor[][] = [];

/**
 * Runs `fn` and disposes every tensor created during it, except the tensors in its result (a
 * tensor, or arrays / plain objects holding tensors), tensors marked with `keep`, and tensors the
 * result's autograd graph still needs.
 */
export function tidy<T>(fn: () => T): T {
  scopes.push([]);
  let created: TrackedTensor[];
  let result: T;
  try {
    result = fn();
  } finally {
    created = scopes.pop()!;
  }
  const survivors = new Set<TrackedTensor>();
  collectTensors(result, survivors);
  for (const t of [...survivors]) collectGraph(t, survivors);
  for (const t of created) {
    if (!survivors.has(t) && !kept.has(t)) t.dispose();
    else scopes[scopes.length - 1]?.push(t); // an outer tidy owns it now
  }
  return result;
}

const kept = new WeakSet<TrackedTensor>();

/** Exempts a tensor from every enclosing `tidy` (parameters, optimiser state, caches). */
export function keep<T extends TrackedTensor>(tensor: T): T {
  kept.add(tensor);
  return tensor;
}

function collectTensors(value: unknown, into: Set<TrackedTensor>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (isTensor(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
}

function collectGraph(t: TrackedTensor, into: Set<TrackedTensor>): void {
  const stack = [t];
  while (stack.length > 0) {
    for (const input of stack.pop()!.node?.inputs ?? []) {
      if (!into.has(input)) {
        into.add(input);
        stack.push(input);
      }
    }
  }
}

function isTensor(value: object): value is TrackedTensor {
  return (value as { isTensor?: boolean }).isTensor === true;
}
