import { elementwiseRules } from './ops/elementwise/ops.ts';
import { fusedRules } from './ops/fused/ops.ts';
import { indexingRules } from './ops/indexing/ops.ts';
import { matmulRules } from './ops/matmul/ops.ts';
import { movementRules } from './ops/movement/ops.ts';
import { reduceRules } from './ops/reduce/ops.ts';

export { unbroadcast } from './ops/reduce/ops.ts';

/**
 * THE table of gradient rules: one entry per primitive, nothing else in the engine knows how to
 * differentiate. Each op family writes the rules of its own primitives next to them
 * (engine/ops/<family>/ops.ts); this table only gathers them for `backward` (engine/autograd.ts).
 * A rule receives `g` = d(loss)/d(output) and the node (inputs, output, attrs) and returns
 * d(loss)/d(input) for each input, in order (null for inputs with no gradient, such as indices and
 * conditions). Rules are ordinary tensor code, run with gradient recording off.
 *
 * Every op that is not in this table is a composite of these primitives.
 */
export const gradientRules = {
  ...elementwiseRules,
  ...reduceRules,
  ...matmulRules,
  ...movementRules,
  ...indexingRules,
  ...fusedRules,
};

/** The name of a primitive: an op with a rule of its own. */
export type Primitive = keyof typeof gradientRules;
