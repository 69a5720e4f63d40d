import type { Backend } from '../backend.ts';
import { getDefaultBackend } from '../defaultBackend.ts';
import { isHalf, type DType } from '../dtype.ts';
import type { Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { empty, normal } from '../ops/creation.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';
import { RowBlocks } from './rowBlocks.ts';

export interface EmbeddingOptions {
  generator?: Generator;
  /** false: a table with undefined contents instead of N(0, 1) draws, for one about to be loaded in full (default true). */
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
 * vectors come out float32. A frozen table larger than the backend's largest tensor
 * (`Backend.maxTensorBytes`: Mistral-7B's on WebGPU) is held as row blocks (`blocks`, named
 * `weight.0`, `weight.1`, …; see RowBlocks) and has no single `weight` tensor.
 */
export class Embedding extends Module {
  private readonly table: Parameter | null;
  /** The table as row blocks, when it is too large for one tensor; else null. */
  readonly blocks: RowBlocks | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    const frozen = options.dtype !== undefined && isHalf(options.dtype);
    const make = (shape: number[]) => (options.initialize === false ? empty(shape, options) : normal(shape, options));
    const blockRows = frozen ? RowBlocks.blockRows(numEmbeddings, embeddingDim, options.dtype!, options.backend ?? getDefaultBackend()) : null;
    if (blockRows === null) {
      this.table = this.registerParameter('weight', Parameter.adopt(make([numEmbeddings, embeddingDim]), { requiresGrad: !frozen }));
      this.blocks = null;
    } else {
      this.table = null;
      this.blocks = this.registerModule('weight', new RowBlocks(numEmbeddings, embeddingDim, blockRows, make));
    }
  }

  /** [num, dim]; a table held as row blocks has none (read it through `forward` or `blocks`). */
  get weight(): Parameter {
    if (this.table === null) {
      throw new Error(
        `Embedding: the ${this.numEmbeddings} × ${this.embeddingDim} table is held as ${this.blocks!.blocks.length} row blocks (larger than the backend's largest tensor), so it has no single weight tensor`,
      );
    }
    return this.table;
  }

  /** ids [...] (int32) → [..., dim] */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32') {
      throw new TypeError(`Embedding: Expected tensor for argument #1 'indices' to have scalar type int32, but got ${ids.dtype}`);
    }
    const flat = ids.flatten();
    const rows = this.blocks === null ? this.weight.indexSelect(0, flat) : this.blocks.gatherRows(flat);
    return rows.reshape([...ids.shape, this.embeddingDim]);
  }
}
