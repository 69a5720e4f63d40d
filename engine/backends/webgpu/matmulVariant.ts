import type { MatmulSpec, Storage } from '../../backend.ts';
import type { AdapterDescription } from './device.ts';
import { readAutotuneCache, writeAutotuneCache } from './host.ts';
import type { MatmulVariant } from './kernels/matmul.ts';

/** `auto`: a cached autotune result, else by adapter kind; `autotune`: measure once and cache. */
export type MatmulChoice = 'auto' | 'autotune' | MatmulVariant;

const VARIANTS: MatmulVariant[] = ['blocked', 'tiled'];

/** What choosing needs of the WebGPU backend (backend.ts), written out so as not to import it back. */
interface Tunable {
  readonly adapter: AdapterDescription;
  matmulVariant: MatmulVariant;
  upload(dtype: 'float32', data: Float32Array): Storage;
  matmul(a: Storage, b: Storage, spec: MatmulSpec): Storage;
  release(s: Storage): void;
  sync(): Promise<void>;
}

export async function chooseMatmulVariant(backend: Tunable, choice: MatmulChoice, cacheDir?: string): Promise<MatmulVariant> {
  if (choice === 'blocked' || choice === 'tiled') return choice;
  const a = backend.adapter;
  const key = `${a.name} | ${a.description} | ${a.dawnBackend}`;
  const cached = readAutotuneCache(cacheDir)[key] as MatmulVariant | undefined;
  if (cached && VARIANTS.includes(cached)) return cached;
  // Software adapters run workgroups as CPU threads, where shared memory only costs.
  if (choice === 'auto') return a.isCpu ? 'blocked' : 'tiled';

  const best = await autotune(backend);
  writeAutotuneCache(cacheDir, key, best);
  return best;
}

/** Times each variant on a 512³ product (after one untimed run that compiles it). */
async function autotune(backend: Tunable): Promise<MatmulVariant> {
  const size = 512;
  const data = Float32Array.from({ length: size * size }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const a = backend.upload('float32', data);
  const b = backend.upload('float32', data);
  const spec = { batch: 1, m: size, n: size, k: size, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
  let best: MatmulVariant = VARIANTS[0];
  let bestMs = Infinity;
  for (const variant of VARIANTS) {
    backend.matmulVariant = variant;
    backend.release(backend.matmul(a, b, spec));
    await backend.sync();
    const start = performance.now();
    for (let i = 0; i < 3; i++) backend.release(backend.matmul(a, b, spec));
    await backend.sync();
    const ms = performance.now() - start;
    if (ms < bestMs) {
      bestMs = ms;
      best = variant;
    }
  }
  backend.release(a);
  backend.release(b);
  return best;
}
