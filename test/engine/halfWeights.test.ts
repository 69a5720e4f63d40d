import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tensor, type Backend, type Tensor } from '../../engine/index.ts';
import { readSafetensorsFile } from '../../engine/io/index.ts';
import { Embedding, Linear, Parameter } from '../../engine/nn/index.ts';
import { availableBackends } from '../helpers/backends.ts';

/**
 * bfloat16 / float16 weights kept 16-bit and widened by the kernels that read them (engine/dtype.ts),
 * replayed against PyTorch's `w.float()` semantics (reference/record_half.py) on every backend:
 * a linear layer's forward and input gradient, an embedding lookup, and the widening itself.
 */
const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/half/half_weights.safetensors');
const file = readSafetensorsFile(FIXTURE);
const backends = await availableBackends();
const FORMATS = { bf16: 'bfloat16', f16: 'float16' } as const;

/** The recorded 16-bit weight as a frozen engine tensor, its raw bits uploaded as they are. */
function weight(key: string, dtype: 'bfloat16' | 'float16', backend: Backend): Tensor {
  const { shape } = file.info(`${key}.w`);
  return tensor(file.view(`${key}.w`) as Uint16Array, shape, { dtype, backend });
}

function host(name: string): Float32Array {
  return file.toHost(name).data as Float32Array;
}

/** Largest |a − e| beyond atol + rtol·|e| (0 when within); NaN matches NaN, infinities must be equal. */
function excess(actual: ArrayLike<number>, expected: Float32Array, atol: number, rtol: number): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if ((Number.isNaN(a) && Number.isNaN(e)) || a === e) continue;
    worst = Math.max(worst, Number.isFinite(a - e) ? Math.abs(a - e) - (atol + rtol * Math.abs(e)) : Infinity);
  }
  return worst;
}

const cases = (kind: 'linear' | 'embedding') =>
  file
    .names()
    .filter((n) => n.endsWith('.w') && n.includes(`.${kind}`))
    .map((n) => n.slice(0, -2));

for (const backend of backends) {
  describe(`16-bit weights on ${backend.name}`, () => {
    it.each(cases('linear'))('%s: Linear with a frozen 16-bit weight, forward and input gradient', async (key) => {
      const dtype = FORMATS[key.split('.')[0] as keyof typeof FORMATS];
      const [n, k] = file.info(`${key}.w`).shape as [number, number];
      const linear = new Linear(k, n, { bias: false, dtype, backend });
      expect(linear.weight.requiresGrad).toBe(false);
      linear.weight.assign(weight(key, dtype, backend));
      const x = tensor(host(`${key}.x`), file.info(`${key}.x`).shape, { backend, requiresGrad: true });
      const out = linear.forward(x);
      expect(out.dtype).toBe('float32');
      expect(excess(await out.toArray(), host(`${key}.out`), 1e-5, 1e-5)).toBe(0);
      out.backward(tensor(host(`${key}.upstream`), out.shape, { backend }));
      expect(excess(await x.grad!.toArray(), host(`${key}.grad_x`), 1e-5, 1e-5)).toBe(0);
      expect(linear.weight.grad).toBeNull();
    });

    it.each(cases('embedding'))('%s: Embedding lookup from a 16-bit table is exact', async (key) => {
      const dtype = FORMATS[key.split('.')[0] as keyof typeof FORMATS];
      const [v, d] = file.info(`${key}.w`).shape as [number, number];
      const embedding = new Embedding(v, d, { dtype, backend });
      embedding.weight.assign(weight(key, dtype, backend));
      const ids = tensor(Int32Array.from(file.toHost(`${key}.ids`).data), undefined, { dtype: 'int32', backend });
      const out = embedding.forward(ids);
      expect(out.dtype).toBe('float32');
      expect(excess(await out.toArray(), host(`${key}.out`), 0, 0)).toBe(0);
    });
  });
}

describe('16-bit weights on the CPU backend', () => {
  const cpu = backends.find((b) => b.name === 'cpu')!;

  it.each([...cases('linear'), ...cases('embedding')])('%s: cast to float32 widens exactly as torch .float()', async (key) => {
    const w = weight(key, FORMATS[key.split('.')[0] as keyof typeof FORMATS], cpu);
    expect(excess(await w.cast('float32').toArray(), host(`${key}.widened`), 0, 0)).toBe(0);
  });

  it('stores 2 bytes per element and rounds float32 to nearest even, as torch .bfloat16()', async () => {
    const w = tensor([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5], [4], { dtype: 'bfloat16', backend: cpu });
    const bits = await w.toArray();
    expect(bits).toBeInstanceOf(Uint16Array);
    expect(Array.from(bits)).toEqual([0x3f80, 0x3f80, 0x3f82, 0xc020]);
  });

  it('a 16-bit tensor cannot require grad, and ops other than matmul and gather refuse it', () => {
    const w = tensor([1, 2, 3, 4], [2, 2], { dtype: 'bfloat16', backend: cpu });
    expect(() => new Parameter(w)).toThrow(/bfloat16 tensor cannot require grad/);
    expect(() => tensor([1, 2], [2], { dtype: 'bfloat16', backend: cpu, requiresGrad: true })).toThrow(/frozen weights/);
    expect(() => w.add(w)).toThrow(/add: bfloat16 tensors are storage for frozen weights/);
    expect(() => w.sum()).toThrow(/sum: bfloat16 tensors are storage/);
    expect(() => w.transpose(0, 1)).toThrow(/bfloat16 tensors are storage/);
    expect(() => w.matmul(tensor([1, 2, 3, 4], [2, 2], { backend: cpu }))).toThrow(/can only be the second operand/);
    expect(new Embedding(2, 2, { backend: cpu }).weight.requiresGrad).toBe(true);
    expect(new Embedding(2, 2, { dtype: 'bfloat16', backend: cpu }).weight.requiresGrad).toBe(false);
  });
});
