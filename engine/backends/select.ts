import type { Backend } from '../backend.ts';
import { cpuBackend } from './cpu/index.ts';
import type { AdapterDescription } from './webgpu/device.ts';

/**
 * Choosing a backend: `webgpu`, `cpu`, or `auto` (WebGPU when an adapter can be had, the CPU
 * backend otherwise, with one warning that says how to get the faster path). The environment
 * variable CLARA_BACKEND gives the default choice.
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
  'On Linux without a GPU, WebGPU runs on Mesa\'s llvmpipe through Dawn\'s OpenGL backend; install it with ' +
  '`apt-get install libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri` (Debian/Ubuntu). With a GPU, install its Vulkan driver.';

export function backendChoiceFromEnv(): BackendChoice {
  const value = process.env.CLARA_BACKEND;
  if (value === undefined || value === '') return 'auto';
  if (!BACKEND_CHOICES.includes(value as BackendChoice)) {
    throw new Error(`CLARA_BACKEND must be one of ${BACKEND_CHOICES.join(', ')}; got '${value}'`);
  }
  return value as BackendChoice;
}

export async function selectBackend(choice: BackendChoice = backendChoiceFromEnv()): Promise<SelectedBackend> {
  if (choice === 'cpu') return { backend: cpuBackend, adapter: null, warning: null };
  // Loaded lazily: the `webgpu` package (and Dawn) are only touched when WebGPU is wanted.
  const { createWebGPUBackend } = await import('./webgpu/backend.ts');
  try {
    const backend = await createWebGPUBackend();
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
