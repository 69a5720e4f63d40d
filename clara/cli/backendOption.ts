import type { Backend } from '../../engine/index.ts';
import { setDefaultBackend } from '../../engine/index.ts';
import { BACKEND_CHOICES, backendChoiceFromEnv, selectBackend, type BackendChoice } from '../../engine/backends/select.ts';
import { choiceOption } from './args.ts';

/** Reads --backend (default $CLARA_BACKEND, else auto). */
export function backendOption(command: string, value: string | boolean | undefined): BackendChoice {
  return choiceOption(command, 'backend', value, BACKEND_CHOICES, backendChoiceFromEnv());
}

/** Selects the backend a command asked for, makes it the default, and prints the fallback warning once. */
export async function useBackend(command: string, value: string | boolean | undefined): Promise<Backend> {
  const selected = await selectBackend(backendOption(command, value));
  if (selected.warning) console.error(`warning: ${selected.warning}`);
  setDefaultBackend(selected.backend);
  return selected.backend;
}
