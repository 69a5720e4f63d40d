import type { GraphNode, OpAttrs, Tensor } from './tensor.ts';

/**
 * Recording the graph for reverse-mode differentiation: every primitive op calls `record` on its
 * output, which attaches a `GraphNode` (the primitive's name, inputs and attributes) when
 * gradients are on and some input needs one. `backward` (engine/autograd.ts) walks these nodes.
 * Kept apart from autograd.ts so that the ops, whose rules autograd.ts reads, need not import it.
 */

/**
 * A gradient rule: given g = d(loss)/d(output) and the node (inputs, output, attrs), d(loss)/d(input)
 * for each input, in order (null for inputs with no gradient, such as indices and conditions).
 */
export type Rule = (g: Tensor, node: GraphNode) => Array<Tensor | null>;

/**
 * The primitives: every op family adds the names of its rule table here by declaration merging
 * (next to the table), so `record` takes exactly the names engine/gradients.ts has a rule for.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging, which a type alias cannot take
export interface Primitives {}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (inference, optimiser updates, gradient rules themselves). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Same as `noGrad` for async functions. */
export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return await fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Attaches a node to `output` when gradients are on and some input needs one. Returns `output`.
 * `op` names the primitive's rule in engine/gradients.ts.
 */
export function record(op: keyof Primitives, inputs: Tensor[], output: Tensor, attrs: OpAttrs = {}): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.node = { op, inputs, attrs, output };
  }
  return output;
}
