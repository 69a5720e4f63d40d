import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { bytesPerElement } from '../../../engine/dtype.ts';
import { cpuBackend } from '../../../engine/index.ts';
import { loadModel, saveModel } from '../../../clara/model/checkpoint.ts';
import { PRESETS } from '../../../clara/model/config.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { randomModel } from './helpers.ts';

/**
 * A loaded model holds its weights once. Loading replaces every parameter's initial storage with
 * the checkpoint's values; the initial storage must be freed then (Parameter.adopt), and reused by
 * the next upload of its size (loadModel flushes the recorded fills first), not kept beside the
 * weights: a 7B model on WebGPU was killed for holding twice its 14.5 GB. The WebGPU buffer pool
 * counts what the device holds, so the test reads it there.
 */
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'clara-load-memory-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const gpu = (await availableBackends()).find((b): b is WebGPUBackend => b instanceof WebGPUBackend);

describe.runIf(gpu)('loading a checkpoint on WebGPU', () => {
  it('holds the weights once, plus at most one idle buffer per size', async () => {
    const config = { ...PRESETS.small!, num_hidden_layers: 4 };
    const dir = path.join(ROOT, 'model');
    await saveModel(randomModel(3, cpuBackend, config), dir, { dtype: 'bfloat16' });
    const pool = (gpu as unknown as { ctx: { pool: { allocatedBytes: number } } }).ctx.pool;
    const before = pool.allocatedBytes;
    const model = loadModel(dir, { backend: gpu, dtype: 'bfloat16' });
    await gpu!.sync();
    const weights = model.parameters().reduce((sum, p) => sum + p.size * bytesPerElement(p.dtype), 0);
    const held = pool.allocatedBytes - before;
    expect(held).toBeGreaterThanOrEqual(weights);
    // Each block's seven matrices come in three sizes; the spare buffers are one per size class.
    expect(held).toBeLessThan(1.25 * weights);
  });
});
