import { afterEach, describe, expect, it } from 'vitest';
import { selectBackendFromEnv } from '../../../clara/cli/backendOption.ts';
import { coreCount } from '../../../engine/backends/cpu/rowThreads.ts';
import { cpuBackend } from '../../../engine/index.ts';

/** The environment the CLI hands to the engine (the engine itself reads none). */
describe('CLARA_CPU_THREADS', () => {
  afterEach(() => {
    delete process.env.CLARA_CPU_THREADS;
    cpuBackend.setThreads(coreCount());
  });

  it('sets the CPU backend thread count', async () => {
    process.env.CLARA_CPU_THREADS = '1';
    await selectBackendFromEnv('cpu');
    expect(cpuBackend.rowThreads.threads).toBe(1);
    process.env.CLARA_CPU_THREADS = '3';
    await selectBackendFromEnv('cpu');
    expect(cpuBackend.rowThreads.threads).toBe(3);
  });

  it('refuses a value that is not a positive integer, by name', async () => {
    process.env.CLARA_CPU_THREADS = 'two';
    await expect(selectBackendFromEnv('cpu')).rejects.toThrow(/CLARA_CPU_THREADS must be a positive integer, got 'two'/);
  });
});
