import '../methods.ts'; // the Tensor methods these modules call

/**
 * Layers: Parameter (a trainable leaf), Module (a named tree of them), Linear, Embedding, RMSNorm,
 * and RowBlocks (a frozen matrix too large for one tensor, held by rows).
 */
export { Parameter, isParameter, type ParameterOptions } from './parameter.ts';
export { Module, type StateDict, type LoadStateDictOptions, type LoadStateDictResult } from './module.ts';
export { Linear, type LinearOptions } from './linear.ts';
export { Embedding, type EmbeddingOptions } from './embedding.ts';
export { RowBlocks } from './rowBlocks.ts';
export { RMSNorm, type RMSNormOptions } from './rmsnorm.ts';
