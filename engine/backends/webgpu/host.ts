import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import type { AdapterSource, DawnBackend } from './adapterSource.ts';

/**
 * What the WebGPU backend needs from the platform it runs on, in Node: Dawn's GPU objects (npm
 * `webgpu`), the WGSL files read from shaders/, and the matmul autotune cache in ~/.cache/clara.
 * Every Node-only import of the backend is here, so that a browser build can swap this one module
 * for host.browser.ts (web/vite.config.ts does) and keep the rest of the engine unchanged.
 */

const SHADER_DIR = fileURLToPath(new URL('../../../shaders/', import.meta.url));

/** The text of `shaders/<name>`. */
export function readShaderFile(name: string): string {
  return readFileSync(SHADER_DIR + name, 'utf8');
}

/**
 * Objects returned by `create()` must outlive their devices: if one is garbage-collected Dawn
 * aborts the whole process. We never drop them.
 */
const liveGpus: GPU[] = [];
let globalsInstalled = false;

function newGpu(flags: string[]): GPU {
  if (!globalsInstalled) {
    // Dawn's GPUBufferUsage, GPUMapMode… constants, which browser code expects as globals.
    Object.assign(globalThis, globals);
    globalsInstalled = true;
  }
  const gpu = create(flags);
  liveGpus.push(gpu);
  return gpu;
}

function dawnSource(backend: DawnBackend | 'default'): AdapterSource {
  const dawnBackend = backend !== 'default' ? backend : process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
  return {
    name: `Dawn backend ${backend}`,
    dawnBackend,
    request: () => {
      if (backend === 'opengl' || backend === 'opengles') {
        // Without it Mesa's EGL fails with EGL_NOT_INITIALIZED (no display server here).
        // biome-ignore lint/style/noProcessEnv: sets what Dawn's GL backend reads; the engine reads nothing here
        process.env.EGL_PLATFORM ??= 'surfaceless';
      }
      const gpu = newGpu(backend === 'default' ? [] : [`backend=${backend}`]);
      // The GL backends only offer the compatibility feature level; asking for it elsewhere still
      // returns a core adapter where one exists.
      const featureLevel = backend === 'opengl' || backend === 'opengles' ? 'compatibility' : 'core';
      return gpu.requestAdapter({ featureLevel } as GPURequestAdapterOptions);
    },
  };
}

/** Where to look for an adapter, in order: the platform's default Dawn backend, then OpenGL on Linux. */
export function adapterSources(requested: 'auto' | DawnBackend): AdapterSource[] {
  if (requested !== 'auto') return [dawnSource(requested)];
  return (process.platform === 'linux' ? (['default', 'opengl'] as const) : (['default'] as const)).map(dawnSource);
}

export const NO_ADAPTER_HELP =
  'webgpu: no usable adapter found. On Linux without a GPU, install the Mesa GL packages ' +
  '(apt-get install libegl-dev libegl1 libegl-mesa0 libgl1-mesa-dri) so Dawn can use llvmpipe, ' +
  'or use the CPU backend.';

/** Where autotune results live: `cacheDir`, else ~/.cache/clara. */
function cacheFile(cacheDir: string | undefined): string {
  return join(cacheDir ?? join(homedir(), '.cache', 'clara'), 'webgpu-matmul.json');
}

/** The autotune results saved so far, keyed by adapter (empty when there is no cache yet). */
export function readAutotuneCache(cacheDir: string | undefined): Record<string, string> {
  try {
    return JSON.parse(readFileSync(cacheFile(cacheDir), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

export function writeAutotuneCache(cacheDir: string | undefined, key: string, variant: string): void {
  const file = cacheFile(cacheDir);
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, JSON.stringify({ ...readAutotuneCache(cacheDir), [key]: variant }, null, 2));
  } catch {
    // A read-only home only costs a re-tune next time.
  }
}
