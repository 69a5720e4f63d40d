/**
 * The engine's public surface: tensors, autograd, ops, backends. `clara/` and user scripts import
 * from here. It loads every op family, each of which attaches its Tensor methods (methods.ts).
 */
import './methods.ts';

export { Tensor } from './tensor.ts';
export type { Backend, Storage } from './backend.ts';
export { bytesPerElement, halfTable, isHalf, type DType, type HalfDType, type TypedArray } from './dtype.ts';
export { noGrad, noGradAsync, isGradEnabled } from './graph.ts';
export { backward } from './autograd.ts';
export { Capture, capture, capturing, withCapture, withCaptureAsync } from './capture.ts';
export { tidy, keep } from './memory.ts';
export { Generator } from './random.ts';
export { getDefaultBackend, setDefaultBackend } from './defaultBackend.ts';
export { cpuBackend } from './backends/cpu/index.ts';
// Choosing a backend: selectBackend imports the WebGPU backend (and Dawn) only when it is asked for.
export { BACKEND_CHOICES, selectBackend, type BackendChoice, type SelectedBackend, type SelectOptions } from './backends/select.ts';
export type { DawnBackend } from './backends/webgpu/device.ts';
// A list of patterns only: importing it loads no part of Dawn.
export { HARMLESS_DAWN_WARNINGS } from './backends/webgpu/dawnWarnings.ts';
export { selfCheck, type SelfCheckResult } from './backends/selfCheck.ts';
export { ShapeError } from './shape.ts';
export { tensor, empty, zeros, ones, full, arange, uniform, normal, kaimingUniform, manualSeed } from './ops/creation.ts';
export type { CreateOptions, RandomOptions } from './ops/creation.ts';
// Every op also in functional form, `sum(x, 0)` beside `x.sum(0)` (as torch.sum beside Tensor.sum);
// the elementwise arithmetic is spelled as methods only (`a.add(b)`).
export { where, cast, silu, maskedFill } from './ops/elementwise/ops.ts';
export type { UnaryOp, BinaryOp } from './ops/elementwise/ops.ts';
export { sum, max, mean, argmax, logsumexp } from './ops/reduce/ops.ts';
export { reshape, unsqueeze, squeeze, permute, transpose, expand, slice, split, pad, concat, stack } from './ops/movement/ops.ts';
export { gather, scatterAdd, scatter, indexSelect, oneHot, topk } from './ops/indexing/ops.ts';
export { matmul } from './ops/matmul/ops.ts';
export { softmax, logSoftmax, crossEntropy, mseLoss, dropout } from './ops/nn.ts';
export { setFusion, fusionEnabled, rmsNorm, applyRotary, siluMul, matmulAddScaled, scaledDotProductAttention, MASKED_SCORE } from './ops/fused/ops.ts';
export type { MatmulOptions } from './ops/matmul/ops.ts';
export { gradientRules, unbroadcast } from './gradients.ts';
export type { Primitive } from './gradients.ts';
export * from './nn/index.ts';
export * from './optim/index.ts';
