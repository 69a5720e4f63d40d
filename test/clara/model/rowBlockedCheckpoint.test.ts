import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../engine/backends/cpu/index.ts';
import { Generator, type Backend } from '../../../engine/index.ts';
import { loadModel, saveModel } from '../../../clara/model/checkpoint.ts';
import { PRESETS } from '../../../clara/model/config.ts';
import { acquireBackend } from '../../engine/webgpu/helpers.ts';
import { addRandomAdapter, ids, randomIds, randomModel } from './helpers.ts';

/**
 * A 16-bit checkpoint whose embedding table and lm_head are larger than the backend's largest
 * tensor (Mistral-7B's 32000 × 4096 on llvmpipe's 128 MiB) loads with both held as row blocks, and
 * the model computes exactly what the unsplit model does. Tested on a tiny model with a 200-token
 * vocabulary (a 12.8 KB table in bf16) and a forced limit of 4 KiB, which every projection fits.
 */
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'clara-rowblocks-'));
const LIMIT = 4096;

const unlimitedGpu = await acquireBackend();
const limitedGpu = await acquireBackend({ maxBindingBytes: LIMIT });
afterAll(() => {
  unlimitedGpu?.destroy();
  limitedGpu?.destroy();
  fs.rmSync(ROOT, { recursive: true, force: true });
});
const cases: Array<[string, Backend, Backend]> = [['cpu', new CpuBackend(), new CpuBackend({ maxTensorBytes: LIMIT })]];
if (unlimitedGpu !== null && limitedGpu !== null) cases.push(['webgpu', unlimitedGpu, limitedGpu]);

const checkpoints = await Promise.all(
  [false, true].map(async (tied) => {
    const dir = path.join(ROOT, tied ? 'tied' : 'untied');
    await saveModel(randomModel(11, undefined, { ...PRESETS.tiny!, vocab_size: 200, tie_word_embeddings: tied }), dir, { dtype: 'bfloat16' });
    return [tied ? 'tied' : 'separate', dir] as const;
  }),
);
/** One sequence of 4 tokens: its logits (3.2 KB) fit the limit too. */
const inputIds = randomIds(new Generator(4), 4, 200);

describe.each(cases)('a bf16 checkpoint past the limit on %s', (_, whole, limited) => {
  it.each(checkpoints)('loads its embedding and lm_head (%s) as row blocks and gives the unsplit logits exactly', async (_, dir) => {
    const split = loadModel(dir, { backend: limited, dtype: 'bfloat16' });
    const reference = loadModel(dir, { backend: whole, dtype: 'bfloat16' });
    expect(split.namedParameters().map(([name]) => name)).toContain('model.embed_tokens.weight.3');
    expect(() => split.lmHead).toThrow(/held as 4 row blocks/);
    addRandomAdapter(split, 'g', 5);
    addRandomAdapter(reference, 'g', 5);
    for (const adapter of [null, 'g']) {
      const got = split.forward({ inputIds: ids(inputIds, [1, 4], limited), adapter }).logits!;
      expect(got.shape).toEqual([1, 4, 200]);
      expect(await got.toArray()).toEqual(await reference.forward({ inputIds: ids(inputIds, [1, 4], whole), adapter }).logits!.toArray());
    }
    // Saving gathers the blocks on the host: the file written is the file read.
    const again = path.join(ROOT, `again-${path.basename(dir)}-${limited.name}`);
    await saveModel(split, again, { dtype: 'bfloat16' });
    expect(fs.readFileSync(path.join(again, 'model.safetensors')).equals(fs.readFileSync(path.join(dir, 'model.safetensors')))).toBe(true);
    split.dispose();
    reference.dispose();
  });

  it('refuses a weight it would not split, naming it, its bytes, the limit and what to do', () => {
    const [, dir] = checkpoints[0]!;
    expect(() => loadModel(dir, { backend: limited })).toThrow(
      /lm_head\.weight \[200, 32\] needs 25600 bytes as float32, more than the \w+ backend's largest tensor \(4096 bytes.*--dtype bfloat16/,
    );
  });
});
