import type { Backend } from '../../engine/backend.ts';
import { cpuBackend } from '../../engine/backends/cpu/index.ts';

/**
 * Every backend the tests can run on in this process. Tests that should hold on every device
 * (the op fixtures, for one) loop over this list.
 */
export async function availableBackends(): Promise<Backend[]> {
  return [cpuBackend];
}
