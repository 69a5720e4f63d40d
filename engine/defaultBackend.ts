import type { Backend } from './backend.ts';
import { cpuBackend } from './backends/cpu/index.ts';

/**
 * The backend new tensors are created on when the caller names none. It starts as the CPU backend;
 * `engine/backends/select.ts` (behind the CLI's `--backend`) switches it to WebGPU when asked to.
 */
let current: Backend = cpuBackend;

export function getDefaultBackend(): Backend {
  return current;
}

export function setDefaultBackend(backend: Backend): void {
  current = backend;
}
