import type { Backend } from '../backend.ts';
import { isHalf, type DType } from '../dtype.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { normal, zeros } from '../ops/creation.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface EmbeddingOptions {
  generator?: Generator;
  /** false: a zero-filled table instead of N(0, 1) draws, for one about to be loaded (default true). */
  initialize?: boolean;
  /** The table's dtype; a 16-bit one (bfloat16 / float16) makes a frozen table (see the class comment). */
  dtype?: DType;
  backend?: Backend;
}

/**
 * A lookup table, torch.nn.Embedding: int32 ids of any shape [...] → vectors [..., dim].
 *
 * weight [num, dim] starts N(0, 1) as in PyTorch. The lookup is `indexSelect` on the flattened
 * ids, whose gradient scatter-adds into the table, so an id used several times in a batch gets
 * the sum of its gradients. To train only some rows (CLaRa's `<MEM>` tokens), use
 * `embedding.weight.setTrainableRows(rows)`.
 *
 * With a 16-bit table (`dtype: 'bfloat16'` or `'float16'`, engine/dtype.ts) the layer is frozen:
 * the table stays 2 bytes per parameter and the gather kernel widens the rows it reads, so the
 * vectors come out float32.
 */
export class Embedding extends Module {
  /** [num, dim] */
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    const shape = [numEmbeddings, embeddingDim];
    const values = options.initialize === false ? zeros(shape, options) : normal(shape, options);
    this.weight = new Parameter(values, { requiresGrad: !(options.dtype !== undefined && isHalf(options.dtype)) });
  }

  /** ids [...] (int32) → [..., dim] */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32') {
      throw new TypeError(`Embedding: Expected tensor for argument #1 'indices' to have scalar type int32, but got ${ids.dtype}`);
    }
    return this.weight.indexSelect(0, ids.flatten()).reshape([...ids.shape, this.embeddingDim]);
  }
}
