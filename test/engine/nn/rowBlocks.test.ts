import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../engine/backends/cpu/index.ts';
import { Generator, normal, tensor, type Backend, type Tensor } from '../../../engine/index.ts';
import { Embedding, RowBlocks } from '../../../engine/nn/index.ts';
import { acquireBackend } from '../webgpu/helpers.ts';

/**
 * A frozen matrix larger than the backend's largest tensor is held as row blocks (issue 19: the
 * 7B embedding table and lm_head against llvmpipe's 128 MiB binding). The split must not change a
 * single bit: x Wᵀ and W[ids] over the blocks equal the unsplit matrix's. The limit is forced small
 * on the CPU backend (which honours one passed to it) and on WebGPU (`maxBindingBytes`).
 */
const [ROWS, COLS] = [77, 8];
/**
 * 20 bf16 rows of 8: the 77 rows go into 4 blocks of 20, 20, 20 and 17. Every tensor must fit too
 * (10 gathered float32 rows, the 77 logits of one token).
 */
const LIMIT = 20 * COLS * 2;

const unlimitedGpu = await acquireBackend();
const limitedGpu = await acquireBackend({ maxBindingBytes: LIMIT });
afterAll(() => {
  unlimitedGpu?.destroy();
  limitedGpu?.destroy();
});
const cases: Array<[string, Backend, Backend]> = [['cpu', new CpuBackend(), new CpuBackend({ maxTensorBytes: LIMIT })]];
if (unlimitedGpu !== null && limitedGpu !== null) cases.push(['webgpu', unlimitedGpu, limitedGpu]);

const W = (await normal([ROWS, COLS], { generator: new Generator(5) }).toArray()) as Float32Array;
const X = (await normal([1, 1, COLS], { generator: new Generator(6) }).toArray()) as Float32Array;
const IDS = [0, 76, 19, 20, 21, 59, 60, 61, 5, 40];

/** Makes the blocks of W in order, as RowBlocks asks for them. */
function blocksOf(backend: Backend): (shape: number[]) => Tensor {
  let row = 0;
  return (shape) => {
    const t = tensor(W.subarray(row * COLS, (row + shape[0]!) * COLS), shape, { dtype: 'bfloat16', backend });
    row += shape[0]!;
    return t;
  };
}

describe.each(cases)('row blocks on %s', (_, whole, limited) => {
  it('are used only past the limit, each block within it', () => {
    expect(RowBlocks.blockRows(ROWS, COLS, 'bfloat16', whole)).toBeNull();
    expect(RowBlocks.blockRows(ROWS, COLS, 'bfloat16', limited)).toBe(20);
    expect(() => tensor(W, [ROWS, COLS], { dtype: 'bfloat16', backend: limited })).toThrow(new RegExp(`exceeds .*\\(${LIMIT} bytes\\)`));
    const blocks = new RowBlocks(ROWS, COLS, 20, blocksOf(limited));
    expect(blocks.blocks.map((b) => b.shape[0])).toEqual([20, 20, 20, 17]);
    expect(blocks.starts).toEqual([0, 20, 40, 60]);
    expect(blocks.namedParameters().map(([name]) => name)).toEqual(['0', '1', '2', '3']);
    expect(blocks.blocks.every((b) => b.dtype === 'bfloat16' && !b.requiresGrad)).toBe(true);
  });

  it('x Wᵀ and W[ids] equal the unsplit matrix bit for bit', async () => {
    const full = tensor(W, [ROWS, COLS], { dtype: 'bfloat16', backend: whole });
    const blocks = new RowBlocks(ROWS, COLS, 20, blocksOf(limited));
    const x = (backend: Backend) => tensor(X, [1, 1, COLS], { backend });
    const ids = (backend: Backend) => tensor(Int32Array.from(IDS), [IDS.length], { dtype: 'int32', backend });
    expect(await blocks.matmulTransposed(x(limited)).toArray()).toEqual(await x(whole).matmul(full, { transB: true }).toArray());
    expect(await blocks.gatherRows(ids(limited)).toArray()).toEqual(await full.indexSelect(0, ids(whole)).toArray());
  });

  it('an Embedding past the limit holds its table as blocks named weight.0, weight.1, … and looks up the same rows', async () => {
    const table = new Embedding(ROWS, COLS, { dtype: 'bfloat16', backend: limited, initialize: false });
    expect(table.namedParameters().map(([name]) => name)).toEqual(['weight.0', 'weight.1', 'weight.2', 'weight.3']);
    const make = blocksOf(limited);
    for (const block of table.blocks!.blocks) block.assign(make([...block.shape]));
    expect(() => table.weight).toThrow(/held as 4 row blocks/);
    const reference = new Embedding(ROWS, COLS, { dtype: 'bfloat16', backend: whole, initialize: false });
    expect(reference.blocks).toBeNull();
    reference.weight.assign(tensor(W, [ROWS, COLS], { dtype: 'bfloat16', backend: whole }));
    const ids = (backend: Backend) => tensor(Int32Array.from(IDS), [2, 5], { dtype: 'int32', backend });
    const got = table.forward(ids(limited));
    expect(got.shape).toEqual([2, 5, COLS]);
    expect(await got.toArray()).toEqual(await reference.forward(ids(whole)).toArray());
  });
});
