import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, type Backend } from '../../../engine/index.ts';
import { readSafetensorsFile, SafetensorsStream, TensorStream } from '../../../engine/io/index.ts';
import { loadModel, saveModel } from '../../../clara/model/checkpoint.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { addRandomAdapter, ids, maxAbsDiff, randomIds, randomModel } from './helpers.ts';

/**
 * Loading with 16-bit weights (issue 19): a bf16 checkpoint streamed tensor by tensor keeps its
 * matrices 16-bit (bit for bit what the file holds), norms and adapters float32, and gives the
 * outputs of the same checkpoint widened to float32 (the kernels widen exactly; only the order of
 * float32 sums may differ).
 */
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'clara-half-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const model = randomModel(7);
const bf16Dir = path.join(ROOT, 'bf16');
const shardedDir = path.join(ROOT, 'bf16-sharded');
await saveModel(model, bf16Dir, { dtype: 'bfloat16' });
await saveModel(model, shardedDir, { dtype: 'bfloat16', maxShardBytes: 4096 });
const inputIds = randomIds(new Generator(3), 2 * 6, 64);

describe('streaming a checkpoint tensor by tensor', () => {
  it('reads the same bytes as the whole-file reader, one file or shards', () => {
    const whole = readSafetensorsFile(path.join(bf16Dir, 'model.safetensors'));
    for (const dir of [bf16Dir, shardedDir]) {
      const stream = TensorStream.open(dir);
      try {
        expect(stream.names().sort()).toEqual(whole.names().sort());
        for (const name of whole.names()) {
          expect(stream.info(name)).toMatchObject(whole.info(name));
          expect(stream.read(name)).toEqual(whole.view(name));
          expect(stream.readFloat32(name)).toEqual(whole.toHost(name));
        }
      } finally {
        stream.close();
      }
    }
  });

  it('validates the header without reading the data, and fails clearly once closed', () => {
    const file = path.join(ROOT, 'truncated.safetensors');
    const bytes = fs.readFileSync(path.join(bf16Dir, 'model.safetensors'));
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 2));
    expect(() => SafetensorsStream.open(file)).toThrow(/run past the data buffer|belong to no tensor/);
    const stream = SafetensorsStream.open(path.join(bf16Dir, 'model.safetensors'));
    stream.close();
    expect(() => stream.read('model.norm.weight')).toThrow(/the stream was closed/);
  });
});

const backends = await availableBackends();
describe.each(backends.map((b) => [b.name, b] as [string, Backend]))('loadModel with dtype bfloat16 on %s', (_, backend) => {
  it('keeps the matrices 16-bit as stored, the norms and adapters float32, and matches the float32 load', async () => {
    const half = loadModel(bf16Dir, { backend, dtype: 'bfloat16' });
    const wide = loadModel(bf16Dir, { backend });
    const file = readSafetensorsFile(path.join(bf16Dir, 'model.safetensors'));
    for (const [name, p] of half.namedParameters()) {
      expect(p.dtype, name).toBe(name.endsWith('norm.weight') ? 'float32' : 'bfloat16');
      if (p.dtype === 'bfloat16') expect(await p.toArray(), name).toEqual(file.view(name));
    }
    expect(half.dtype).toBe('float32');
    addRandomAdapter(half, 'g', 5);
    addRandomAdapter(wide, 'g', 5);
    expect(half.adapterParameters('g').every(([, p]) => p.dtype === 'float32')).toBe(true);
    const x = ids(inputIds, [2, 6], backend);
    for (const adapter of [null, 'g']) {
      const a = await half.forward({ inputIds: x, adapter }).logits!.toArray();
      const b = await wide.forward({ inputIds: x, adapter }).logits!.toArray();
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    }
    half.dispose();
    wide.dispose();
  });
});
