import type { Backend } from '../backend.ts';
import { bytesPerElement, type DType } from '../dtype.ts';
import { concat } from '../ops/movement/ops.ts';
import { where } from '../ops/elementwise/ops.ts';
import type { Tensor } from '../tensor.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

/**
 * A frozen matrix [rows, cols] held as row blocks, each one tensor within the backend's largest
 * (`Backend.maxTensorBytes`): Mistral-7B's embedding table and lm_head, 32000 × 4096 in bfloat16,
 * are 262 MB, and WebGPU on llvmpipe binds at most 128 MiB. Block i holds rows starts[i] …
 * starts[i + 1] − 1; the blocks are as equal as they can be. Its parameters are named `0`, `1`, …,
 * so a table registered as `weight` lists `weight.0`, `weight.1` (the checkpoint loader fills them
 * from the one tensor `weight`, clara/model/checkpoint.ts).
 *
 * The two ways a frozen matrix is read work block by block, with the results of the unsplit matrix
 * exactly (each output element is computed from the same numbers in the same order):
 *  - `matmulTransposed(x)`: x Wᵀ, each block's product giving its columns of the output;
 *  - `gatherRows(ids)`: W[ids], each block gathering every id (shifted into its range and clamped),
 *    and a `where` keeping the rows of the ids that fall in it.
 * Nothing trains it: it is for frozen (16-bit) weights.
 */
export class RowBlocks extends Module {
  /** [rowsᵢ, cols] each */
  readonly blocks: Parameter[];
  /** The first row of each block. */
  readonly starts: number[];

  /**
   * `make(shape)` gives the values of one block [rowsᵢ, cols]; it is called block by block, top to
   * bottom (so a generator drawing in row-major order draws the values the unsplit matrix would get).
   */
  constructor(
    readonly rows: number,
    readonly cols: number,
    blockRows: number,
    make: (shape: number[]) => Tensor,
  ) {
    super();
    const count = Math.ceil(rows / blockRows);
    const size = Math.ceil(rows / count);
    this.starts = Array.from({ length: count }, (_, i) => i * size);
    this.blocks = this.starts.map((start, i) =>
      this.registerParameter(String(i), Parameter.adopt(make([Math.min(size, rows - start), cols]), { requiresGrad: false })),
    );
  }

  /**
   * The most rows of `cols` elements of `dtype` one tensor on `backend` may hold, or null when the
   * whole matrix fits in one tensor (no split needed).
   */
  static blockRows(rows: number, cols: number, dtype: DType, backend: Backend): number | null {
    const limit = backend.maxTensorBytes ?? Number.POSITIVE_INFINITY;
    const rowBytes = cols * bytesPerElement(dtype);
    if (rows * rowBytes <= limit) return null;
    const fit = Math.floor(limit / rowBytes);
    if (fit < 1) throw new Error(`RowBlocks: one row of ${cols} ${dtype} elements (${rowBytes} bytes) exceeds the backend's largest tensor (${limit} bytes)`);
    return fit;
  }

  get dtype(): DType {
    return this.blocks[0]!.dtype;
  }

  get backend(): Backend {
    return this.blocks[0]!.backend;
  }

  /** x [..., cols] → x Wᵀ [..., rows]. */
  matmulTransposed(x: Tensor): Tensor {
    return concat(
      this.blocks.map((block) => x.matmul(block, { transB: true })),
      -1,
    );
  }

  /** ids int32 [n] → W[ids] [n, cols] (float32 for a 16-bit matrix). */
  gatherRows(ids: Tensor): Tensor {
    const first = this.blocks[0]!;
    let out = first.indexSelect(0, ids.minimum(first.shape[0]! - 1));
    for (let i = 1; i < this.blocks.length; i++) {
      const start = this.starts[i]!;
      const block = this.blocks[i]!;
      const rows = block.indexSelect(
        0,
        ids
          .sub(start)
          .maximum(0)
          .minimum(block.shape[0]! - 1),
      ); // [n, cols]
      // Blocks go top to bottom, so an id at or past this block's start is this block's or a later one's.
      out = where(ids.ge(start).reshape([ids.size, 1]), rows, out);
    }
    return out;
  }
}
