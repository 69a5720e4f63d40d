import type { Backend } from '../../engine/index.ts';
import { isOfficialCheckpoint } from '../checkpoints/official.ts';
import { ClaraModel } from '../claraModel.ts';
import { resolveModelDir } from '../train/checkpoint.ts';
import type { Options } from './args.ts';

/**
 * `--model DIR`, the same in every command: a CLaRa model directory (it has clara.json), a run
 * folder that `pretrain` or `e2e` wrote (its checkpoint/), or a released CLaRa checkpoint (a
 * config.json of model_type "CLaRa" beside adapters.pth, whose base comes from --base). The error
 * names the paths looked for.
 */
export function modelDirOption(options: Options): string {
  const given = options.required('model');
  return isOfficialCheckpoint(given) ? given : resolveModelDir(given);
}

/**
 * Loads the model `--model` names on `backend` (with `--base DIR` for a released checkpoint's base
 * model); `dir` is the model directory it resolved to.
 */
export function loadModelOption(options: Options, backend: Backend): { clara: ClaraModel; dir: string } {
  const dir = modelDirOption(options);
  return { clara: ClaraModel.load(dir, { backend, base: options.string('base') }), dir };
}
