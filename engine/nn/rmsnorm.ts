import type { Backend } from '../backend.ts';
import type { DType } from '../dtype.ts';
import { formatShape, ShapeError } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { ones } from '../ops/creation.ts';
import { rmsNorm } from '../ops/fused/ops.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface RMSNormOptions {
  /** Added to the mean square before the square root (default 1e-6 as HF LlamaRMSNorm; Mistral configs use 1e-5). */
  eps?: number;
  dtype?: DType;
  backend?: Backend;
}

/**
 * Root-mean-square normalisation over the last axis (HF LlamaRMSNorm / MistralRMSNorm):
 * y = x · rsqrt(mean(x², −1) + eps) · w, x [..., dim], w [dim] starting at ones.
 *
 * One fused primitive (with the composite as its reference: engine/ops/fused/ops.ts).
 * HF computes the statistic in float32 whatever the input; here everything stays in the input's
 * dtype (float32 on the GPU already, float64 in gradient checks).
 */
export class RMSNorm extends Module {
  /** [dim] */
  readonly weight: Parameter;
  readonly eps: number;

  constructor(
    readonly dim: number,
    options: RMSNormOptions = {},
  ) {
    super();
    this.eps = options.eps ?? 1e-6;
    this.weight = Parameter.adopt(ones([dim], { dtype: options.dtype, backend: options.backend }));
  }

  /** x [..., dim] → [..., dim] */
  forward(x: Tensor): Tensor {
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.dim) {
      throw new ShapeError(`RMSNorm: expected input with last dimension ${this.dim}, got shape ${formatShape(x.shape)}`);
    }
    // A fused kernel when the backend has one; else x·rsqrt(mean(x², −1) + eps)·w (engine/ops/fused/ops.ts).
    return rmsNorm(x, this.weight, this.eps);
  }
}
