import type { Backend } from '../../engine/index.ts';
import { ClaraModel } from '../claraModel.ts';
import { resolveModelDir } from '../train/checkpoint.ts';
import type { Options } from './args.ts';

/**
 * `--model DIR`, the same in every command: a CLaRa model directory (it has clara.json) or a run
 * folder that `pretrain` or `e2e` wrote (its checkpoint/). The error names both paths looked for.
 */
export function modelDirOption(options: Options): string {
  return resolveModelDir(options.required('model'));
}

/** Loads the model `--model` names on `backend`; `dir` is the model directory it resolved to. */
export function loadModelOption(options: Options, backend: Backend): { clara: ClaraModel; dir: string } {
  const dir = modelDirOption(options);
  return { clara: ClaraModel.load(dir, { backend }), dir };
}
