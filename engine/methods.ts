/**
 * Loads every module that attaches Tensor methods, so that a tensor has all of them: engine/tensor.ts
 * imports no op (that would be an import cycle), and each op family adds its own methods when it is
 * loaded (declaration merging, engine/ops/<family>/ops.ts). engine/index.ts, engine/nn and
 * engine/optim import this; code that imports the engine through them needs nothing more.
 */
import './ops/elementwise/ops.ts';
import './ops/reduce/ops.ts';
import './ops/movement/ops.ts';
import './ops/indexing/ops.ts';
import './ops/matmul/ops.ts';
import './ops/nn.ts';
import './autograd.ts';
