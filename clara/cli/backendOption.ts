import type { Backend, BackendChoice, DawnBackend, SelectedBackend } from '../../engine/index.ts';
import { BACKEND_CHOICES, cpuBackend, selectBackend, setDefaultBackend, setFusion, setOptimizerFusion } from '../../engine/index.ts';
import { choiceOption } from './args.ts';

/**
 * The CLI's side of the backend: the environment variables are read here (the engine reads none)
 * and handed to the engine as settings and options.
 *
 *   CLARA_BACKEND        the default of --backend (auto, webgpu, cpu)
 *   CLARA_FUSION=0       the composites instead of the fused kernels (setFusion)
 *   CLARA_OPTIM_FUSION=0 the composite optimiser instead of its fused kernels (setOptimizerFusion)
 *   CLARA_DAWN_BACKEND   the Dawn backend WebGPU asks for (vulkan, opengl, …; default auto)
 *   CLARA_CACHE_DIR      where the WebGPU matmul autotune result is cached (default ~/.cache/clara)
 *   CLARA_CPU_THREADS    threads of the CPU backend's decode products (default: the machine's cores;
 *                        1 keeps it on one thread, as OMP_NUM_THREADS does for PyTorch's)
 */
function backendChoiceFromEnv(): BackendChoice {
  const value = process.env.CLARA_BACKEND;
  if (value === undefined || value === '') return 'auto';
  if (!BACKEND_CHOICES.includes(value as BackendChoice)) {
    throw new Error(`CLARA_BACKEND must be one of ${BACKEND_CHOICES.join(', ')}; got '${value}'`);
  }
  return value as BackendChoice;
}

/** Reads --backend (default $CLARA_BACKEND, else auto). */
export function backendOption(command: string, value: string | boolean | undefined): BackendChoice {
  return choiceOption(command, 'backend', value, BACKEND_CHOICES, backendChoiceFromEnv());
}

/** Applies the fusion and thread settings of the environment, then selects the backend with its options. */
export async function selectBackendFromEnv(choice: BackendChoice): Promise<SelectedBackend> {
  const threads = process.env.CLARA_CPU_THREADS;
  if (threads !== undefined && threads !== '') {
    const n = Number(threads);
    if (!Number.isInteger(n) || n < 1) throw new Error(`CLARA_CPU_THREADS must be a positive integer, got '${threads}'`);
    cpuBackend.setThreads(n);
  }
  setFusion(process.env.CLARA_FUSION !== '0');
  setOptimizerFusion(process.env.CLARA_OPTIM_FUSION !== '0');
  const dawnBackend = process.env.CLARA_DAWN_BACKEND as DawnBackend | undefined;
  return selectBackend(choice, { dawnBackend: dawnBackend || 'auto', cacheDir: process.env.CLARA_CACHE_DIR || undefined });
}

/** Selects the backend a command asked for, makes it the default, and prints the fallback warning once. */
export async function useBackend(command: string, value: string | boolean | undefined): Promise<Backend> {
  const selected = await selectBackendFromEnv(backendOption(command, value));
  if (selected.warning) console.error(`warning: ${selected.warning}`);
  setDefaultBackend(selected.backend);
  return selected.backend;
}
