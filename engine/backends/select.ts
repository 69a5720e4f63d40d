import type { Backend } from '../backend.ts';
import { cpuBackend } from './cpu/index.ts';
import type { AdapterDescription, DawnBackend } from './webgpu/device.ts';

/**
 * Choosing a backend: `webgpu`, `cpu`, or `auto` (WebGPU when an adapter can be had, the CPU
 * backend otherwise, with one warning that says how to get the faster path). The CLI reads the
 * default choice and the options from the environment (clara/cli/backendOption.ts); the engine
 * reads none.
 */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'cpu'];

export interface SelectedBackend {
  backend: Backend;
  /** The WebGPU adapter, when the backend is WebGPU. */
  adapter: AdapterDescription | null;
  /** Why `auto` fell back to the CPU, when it did. */
  warning: string | null;
}

export const FASTER_PATH_HINT =
  "On Linux without a GPU, WebGPU runs on Mesa's llvmpipe through Dawn's OpenGL backend; install it with " +
  '`apt-get install libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri` (Debian/Ubuntu). With a GPU, install its Vulkan driver.';

/** How a WebGPU backend is made, when one is wanted (see WebGPUOptions). */
export interface SelectOptions {
  /** The Dawn backend to ask for (default `auto`). */
  dawnBackend?: 'auto' | DawnBackend;
  /** Where the matmul autotune result is cached (default ~/.cache/clara). */
  cacheDir?: string;
  /** Milliseconds any single wait on the GPU may take (default 60 s; a software adapter in a browser needs more). */
  timeoutMs?: number;
}

export async function selectBackend(choice: BackendChoice = 'auto', options: SelectOptions = {}): Promise<SelectedBackend> {
  if (choice === 'cpu') return { backend: cpuBackend, adapter: null, warning: null };
  // Loaded lazily: the `webgpu` package (and Dawn) are only touched when WebGPU is wanted.
  const { createWebGPUBackend } = await import('./webgpu/backend.ts');
  try {
    const backend = await createWebGPUBackend(options);
    return { backend, adapter: backend.adapter, warning: null };
  } catch (error) {
    if (choice === 'webgpu') throw error;
    const reason = (error as Error).message.split('\n')[0];
    return {
      backend: cpuBackend,
      adapter: null,
      warning: `No usable WebGPU adapter (${reason}); using the CPU backend, which is much slower. ${FASTER_PATH_HINT}`,
    };
  }
}
