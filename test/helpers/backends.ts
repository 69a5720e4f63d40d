import type { Backend } from '../../engine/backend.ts';
import { cpuBackend } from '../../engine/backends/cpu/index.ts';
import { createWebGPUBackend } from '../../engine/backends/webgpu/backend.ts';

/**
 * Every backend the tests can run on in this process. Tests that must hold on every device (the op
 * fixtures, the golden states) loop over this list, so one suite runs on both backends.
 *
 * The WebGPU device is acquired once per test file (each file is its own process: Vitest's forks
 * pool). With CI=true a missing adapter is an error, never a silent skip; elsewhere the CPU backend
 * alone is used and a warning says why.
 */
let backends: Promise<Backend[]> | null = null;

export function availableBackends(): Promise<Backend[]> {
  backends ??= (async () => {
    try {
      return [cpuBackend, await createWebGPUBackend()];
    } catch (error) {
      if (process.env.CI === 'true') throw new Error(`CI=true but no WebGPU adapter could be acquired: ${(error as Error).message}`);
      console.warn(`WebGPU unavailable, testing the CPU backend only: ${(error as Error).message}`);
      return [cpuBackend];
    }
  })();
  return backends;
}
