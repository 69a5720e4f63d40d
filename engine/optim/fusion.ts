import type { OptimizerKernels } from '../backend.ts';
import { isFloat } from '../dtype.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Whether AdamW and clipGradNorm use the backend's fused optimiser kernels (engine/backend.ts,
 * OptimizerKernels: one dispatch per parameter instead of a dozen). The composites stay as the
 * reference: they run when this is off (`setOptimizerFusion(false)`; the CLI's CLARA_OPTIM_FUSION=0) or when the backend has no such kernels. Independent of `setFusion`.
 */
let optimizerFusion = true;

/** Turns the fused optimiser kernels on or off; returns the previous setting. */
export function setOptimizerFusion(on: boolean): boolean {
  const previous = optimizerFusion;
  optimizerFusion = on;
  return previous;
}

export function optimizerFusionEnabled(): boolean {
  return optimizerFusion;
}

/** The kernels for these tensors (same backend, float) when `wanted` (default: the global setting). */
export function optimizerKernelsFor(tensors: readonly Tensor[], wanted = optimizerFusion): OptimizerKernels | null {
  if (!wanted || tensors.length === 0) return null;
  const { backend, dtype } = tensors[0]!;
  const k = backend.optim;
  if (k === undefined) return null;
  return tensors.every((t) => t.backend === backend && t.dtype === dtype && isFloat(t.dtype)) ? k : null;
}
