import type { Backend } from '../../engine/index.ts';
import { type BackendChoice, selectBackend } from '../../engine/backends/select.ts';

/**
 * The backend the page trains on, and what the page says about it: the adapter's `adapter.info`
 * and whether it is a fallback (software) adapter, or why the CPU backend is used instead.
 */
export interface PageBackend {
  backend: Backend;
  /** One line for the page, e.g. "WebGPU: google swiftshader (fallback adapter)". */
  summary: string;
  /** True when training runs on the CPU backend although WebGPU was wanted or possible. */
  cpuFallback: boolean;
}

/** What the browser's own adapter says of itself (asked directly: the backend keeps only a summary). */
export async function describeBrowserAdapter(): Promise<string> {
  if (!('gpu' in navigator) || !navigator.gpu) return 'this browser has no navigator.gpu';
  const adapter = await navigator.gpu.requestAdapter();
  if (adapter === null) return 'navigator.gpu gave no adapter';
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // Chromium reports it in adapter.info; older versions on the adapter itself.
  const fallback = info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  // Browsers leave some fields empty (Chromium on SwiftShader reports vendor and architecture only).
  const fields = (['vendor', 'architecture', 'device', 'description'] as const).filter((f) => info[f]).map((f) => `${f} ${info[f]}`);
  return `${fields.join(', ')}; ${fallback ? 'a fallback (software) adapter' : 'not a fallback adapter'}`;
}

export async function choosePageBackend(choice: BackendChoice): Promise<PageBackend> {
  const adapter = await describeBrowserAdapter();
  // SwiftShader compiles each kernel on first use on the CPU: the first step's waits take minutes.
  const selected = await selectBackend(choice, { timeoutMs: 15 * 60_000 });
  if (selected.backend.name === 'webgpu') return { backend: selected.backend, summary: `WebGPU adapter: ${adapter}`, cpuFallback: false };
  const why = choice === 'cpu' ? 'the CPU backend, as chosen' : `the CPU backend: no usable WebGPU adapter (${adapter})`;
  return { backend: selected.backend, summary: `Training on ${why}. WebGPU would report: ${adapter}`, cpuFallback: choice !== 'cpu' };
}
