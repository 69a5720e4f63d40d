import type { Backend } from '../backend.ts';
import { isHalf, type DType } from '../dtype.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { kaimingUniform, uniform } from '../ops/creation.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface LinearOptions {
  /** Add a learned bias (default true; Mistral's projections have none). */
  bias?: boolean;
  /** Where the initial values are drawn from (default: the global generator of `manualSeed`). */
  generator?: Generator;
  /** The weight's dtype; a 16-bit one (bfloat16 / float16) makes a frozen layer (see the class comment). */
  dtype?: DType;
  backend?: Backend;
}

/**
 * y = x Wᵀ + b, torch.nn.Linear: x [..., in] → y [..., out], with W [out, in] and b [out].
 *
 * W is stored [out, in] like PyTorch (so HF checkpoints load as they are) and used through
 * `matmul(…, {transB: true})`, never transposed in memory. Initialisation is PyTorch's:
 * W ~ kaiming-uniform(a = √5), i.e. U(±1/√in), then b ~ U(±1/√in), drawn in that order.
 *
 * With a 16-bit weight (`dtype: 'bfloat16'` or `'float16'`, engine/dtype.ts) the layer is frozen:
 * W stays 2 bytes per parameter and the matmul kernels widen it as they read it, so the forward
 * computes in float32 and the backward gives x its gradient (W, which cannot require one, gets none).
 * The bias, if any, is float32.
 */
export class Linear extends Module {
  /** [out, in] */
  readonly weight: Parameter;
  /** [out], or null without bias */
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    const { generator, dtype, backend } = options;
    const frozen = dtype !== undefined && isHalf(dtype);
    this.weight = Parameter.adopt(kaimingUniform([outFeatures, inFeatures], { a: Math.sqrt(5), generator, dtype, backend }), { requiresGrad: !frozen });
    if (options.bias ?? true) {
      const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
      this.bias = Parameter.adopt(uniform([outFeatures], { low: -bound, high: bound, generator, dtype: frozen ? 'float32' : dtype, backend }));
    } else {
      this.bias = null;
    }
  }

  /** x [..., in] → [..., out] */
  forward(x: Tensor): Tensor {
    const y = x.matmul(this.weight, { transB: true });
    return this.bias === null ? y : y.add(this.bias);
  }
}
