import type { AdapterSource, DawnBackend } from './adapterSource.ts';

/**
 * host.ts for a browser (the page in web/ is built with this module in its place, see
 * web/vite.config.ts): the adapter comes from `navigator.gpu`, the WGSL files are bundled by Vite,
 * and autotune results live as long as the page.
 */

/** Vite's `import.meta.glob`, typed here so that the engine compiles without Vite's types. */
type Glob = (pattern: string, options: { query: '?raw'; import: 'default'; eager: true }) => Record<string, string>;

/** Every shaders/*.wgsl as text, keyed by its path relative to this file (Vite inlines them at build time). */
const SHADERS = (import.meta as ImportMeta & { glob: Glob }).glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });

export function readShaderFile(name: string): string {
  const text = SHADERS[`../../../shaders/${name}`];
  if (text === undefined) throw new Error(`shaders/${name}: no such kernel file in the bundle`);
  return text;
}

/** The browser's own WebGPU: there is no Dawn backend to choose. */
export function adapterSources(_requested: 'auto' | DawnBackend): AdapterSource[] {
  // Read through globalThis: the engine is compiled without the DOM's types.
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  return [{ name: 'navigator.gpu', dawnBackend: 'browser', request: async () => (gpu ? gpu.requestAdapter() : null) }];
}

export const NO_ADAPTER_HELP =
  'webgpu: this browser offers no WebGPU adapter (navigator.gpu is missing or gave none). ' +
  'Chromium without a GPU gets one with --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader.';

const autotuneCache: Record<string, string> = {};

export function readAutotuneCache(_cacheDir: string | undefined): Record<string, string> {
  return autotuneCache;
}

export function writeAutotuneCache(_cacheDir: string | undefined, key: string, variant: string): void {
  autotuneCache[key] = variant;
}
