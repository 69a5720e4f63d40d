import { isGradEnabled } from './graph.ts';
import { keep } from './memory.ts';
import type { Tensor } from './tensor.ts';

/**
 * Named capture of forward values and their gradients, for comparing a computation with another
 * implementation tensor by tensor (PyTorch users do this with forward hooks and `retain_grad`).
 *
 * Library code marks the values worth comparing with `capture('name', t)`, which returns `t`
 * unchanged and costs nothing unless a capture is running. Inside `withCapture(fn)` each marked
 * value is kept (no `tidy` disposes it) and, when it is part of a graph, asked to retain its
 * gradient; after `backward`, `gradients()` gives d(root)/d(value) under the same names.
 */
export class Capture {
  /** The forward values, in the order the computation produced them. */
  readonly values = new Map<string, Tensor>();

  /**
   * Records `t` under `name`; a name seen before gets `@1`, `@2`… (a module run twice, such as the
   * compressor on documents and on candidates).
   */
  add(name: string, t: Tensor): void {
    let key = name;
    for (let i = 1; this.values.has(key); i++) key = `${name}@${i}`;
    this.values.set(key, keep(t));
    if (t.requiresGrad && isGradEnabled()) t.retainGrad();
  }

  /** d(root)/d(value) for every captured value that received one in `backward`, in capture order. */
  gradients(): Map<string, Tensor> {
    const grads = new Map<string, Tensor>();
    for (const [name, t] of this.values) {
      const g = t.grad;
      if (g !== null) grads.set(name, g);
    }
    return grads;
  }
}

let active: Capture | null = null;

/** Marks `t` as the value called `name` (see above). Returns `t`. */
export function capture(name: string, t: Tensor): Tensor {
  active?.add(name, t);
  return t;
}

/**
 * Whether a capture is running: a trace, which wants every intermediate, may then compute one that
 * training skips (the generator's full logits, generatorRead.ts).
 */
export function capturing(): boolean {
  return active !== null;
}

/** Runs `fn` with a fresh capture (one at a time: an inner one replaces the outer during `fn`). */
export function withCapture<T>(fn: (capture: Capture) => T): T {
  const previous = active;
  const current = new Capture();
  active = current;
  try {
    return fn(current);
  } finally {
    active = previous;
  }
}

/** Same as `withCapture` for async functions. */
export async function withCaptureAsync<T>(fn: (capture: Capture) => Promise<T>): Promise<T> {
  const previous = active;
  const current = new Capture();
  active = current;
  try {
    return await fn(current);
  } finally {
    active = previous;
  }
}
