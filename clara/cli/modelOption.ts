import type { Backend } from '../../engine/index.ts';
import type { LoadDType } from '../model/checkpoint.ts';
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

const DTYPES: readonly LoadDType[] = ['auto', 'float32', 'bfloat16', 'float16'];

/**
 * `--dtype auto|float32|bfloat16|float16`: how the base model's frozen matrices are held (loadModel
 * in clara/model/checkpoint.ts). `auto` keeps a 16-bit checkpoint 16-bit (a 7B base in 14.5 GB, not
 * 29) and a float32 one float32; `float32` widens everything, as before 16-bit storage existed.
 * Commands that only run the model default to `auto`; those that train default to `float32`.
 */
function dtypeOption(options: Options, fallback: LoadDType): LoadDType {
  return options.choice('dtype', DTYPES) ?? fallback;
}

/**
 * Loads the model `--model` names on `backend` (with `--base DIR` for a released checkpoint's base
 * model, and `--dtype`, default `dtype`); `dir` is the model directory it resolved to.
 */
export function loadModelOption(options: Options, backend: Backend, dtype: LoadDType): { clara: ClaraModel; dir: string } {
  const dir = modelDirOption(options);
  return { clara: ClaraModel.load(dir, { backend, base: options.string('base'), dtype: dtypeOption(options, dtype) }), dir };
}
