/**
 * The engine's public surface: tensors, autograd, ops, backends. `clara/` and user scripts import
 * from here.
 */
export { Tensor } from './tensor.ts';
export type { Backend, Storage } from './backend.ts';
export type { DType, TypedArray } from './dtype.ts';
export { noGrad, noGradAsync, isGradEnabled } from './autograd.ts';
export { tidy, keep } from './memory.ts';
export { Generator } from './random.ts';
export { getDefaultBackend, setDefaultBackend } from './defaultBackend.ts';
export { cpuBackend } from './backends/cpu/index.ts';
export { ShapeError } from './shape.ts';
export { tensor, zeros, ones, full, arange, uniform, normal, kaimingUniform, manualSeed } from './ops/creation.ts';
export type { CreateOptions, RandomOptions } from './ops/creation.ts';
export { where, cast, silu, maskedFill } from './ops/elementwise.ts';
export { concat, stack } from './ops/movement.ts';
export { oneHot, topk } from './ops/indexing.ts';
export { softmax, logSoftmax, crossEntropy, mseLoss, dropout } from './ops/nn.ts';
export { setFusion, fusionEnabled, rmsNorm, applyRotary, siluMul, scaledDotProductAttention, MASKED_SCORE } from './ops/fused.ts';
export type { MatmulOptions } from './ops/matmul.ts';
export { gradientRules, unbroadcast } from './gradients.ts';
export type { Primitive } from './gradients.ts';
export * from './nn/index.ts';
export * from './optim/index.ts';
