import { readJsonFile } from '../../engine/io/index.ts';
import { limitCandidates, loadStage3File } from '../data/stage3Data.ts';
import { TOPK_ESTIMATORS } from '../differentiableTopK.ts';
import { resumeEndToEnd, trainEndToEnd } from '../trainEndToEnd.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';
import { checkTopK } from './topK.ts';
import { loadModelOption } from './modelOption.ts';

const E2E_HELP = `Usage: clara e2e --model DIR [--base DIR] --data FILE --out DIR [options]

--model is a stage-1 or stage-2 model directory or the run folder \`clara pretrain\` wrote.

Stage 3: trains the query reasoner (created as a copy of the compressor) and the generator end to
end through the answer loss alone, on stage-3 rows {question, docs: N candidates, answer, pos_index}
(pos_index is never used in training). Candidates are compressed once by the frozen compressor.

  --steps N              optimiser steps (default: one pass over the data)
  --batch-size B         questions per step (default 8)
  --lr X                 learning rate (default 1e-4; official 5e-6 at batch 32)
  --generator-lr-scale X the generator's learning rate as a multiple of --lr (default 1)
  --freeze-query-reasoner N
                         hold the query reasoner still for the first N steps, while the generator
                         learns the answer prompt (default 0)
  --k K                  documents given to the generator (default: the model's, 5)
  --temperature T        τ of the differentiable top-k (default 0.02)
  --estimator NAME       ${Object.keys(TOPK_ESTIMATORS).join(' | ')} (default straight-through)
  --candidates N         keep N candidates per question (the relevant ones included)
  --freeze-generator     train the query reasoner only
  --options FILE         a JSON object with any of the options above (camelCase or as flags); flags win
                         (--config FILE, its old name, still works and warns: --config names a model
                         preset in \`clara pretrain\`)
  --seed S, --save-every N, --skip-invalid, --backend auto|webgpu|cpu
  --dtype D              how --model's frozen base matrices are held: float32 (default), bfloat16,
                         float16, or auto (as the checkpoint stores them)
  --resume               continue the run in --out from its last checkpoint with its settings (no
                         --model; flags given must agree with them)`;

const NUMERIC = ['steps', 'batch-size', 'lr', 'generator-lr-scale', 'freeze-query-reasoner', 'k', 'temperature', 'candidates', 'seed', 'save-every'] as const;

function readOptionsFile(flag: string, file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = readJsonFile(file, 'the e2e options');
  } catch (error) {
    throw new UsageError(`clara e2e: --${flag} ${(error as Error).message}`); // the message begins with the file
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`clara e2e: --${flag} ${file}: expected a JSON object`);
  // Accept camelCase keys too (batchSize → batch-size).
  const known = new Set<string>([...NUMERIC, 'estimator', 'freeze-generator']);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!known.has(name)) throw new UsageError(`clara e2e: --${flag} ${file}: unknown option "${key}" (known: ${[...known].join(', ')})`);
    out[name] = value;
  }
  return out;
}

export async function runE2e(argv: string[]): Promise<number> {
  const parsed = Options.parse('e2e', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    options: { type: 'string' },
    config: { type: 'string' },
    steps: { type: 'string' },
    'batch-size': { type: 'string' },
    lr: { type: 'string' },
    'generator-lr-scale': { type: 'string' },
    'freeze-query-reasoner': { type: 'string' },
    k: { type: 'string' },
    temperature: { type: 'string' },
    estimator: { type: 'string' },
    candidates: { type: 'string' },
    seed: { type: 'string' },
    'save-every': { type: 'string' },
    'freeze-generator': { type: 'boolean' },
    resume: { type: 'boolean' },
    'skip-invalid': { type: 'boolean' },
    backend: { type: 'string' },
    dtype: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed.flag('help')) {
    console.log(E2E_HELP);
    return 0;
  }
  const resume = parsed.flag('resume');
  if (resume && parsed.has('model')) throw new UsageError('clara e2e: --resume continues the model of the checkpoint in --out; drop --model');
  if (!resume) parsed.required('model'); // checked now, read once the data is loaded
  const [data, out] = [parsed.required('data'), parsed.required('out')];
  if (parsed.has('options') && parsed.has('config')) throw new UsageError('clara e2e: give --options FILE (--config is its old name), not both');
  if (parsed.has('config')) console.error('warning: clara e2e: --config FILE is now --options FILE (--config names a model preset in `clara pretrain`)');
  const optionsFlag = parsed.has('options') ? 'options' : 'config';
  const optionsFile = parsed.string(optionsFlag);
  const options = optionsFile === undefined ? parsed : parsed.withDefaults(readOptionsFile(optionsFlag, optionsFile));
  const estimator = options.choice('estimator', Object.keys(TOPK_ESTIMATORS));
  // Each numeric flag with its range, read before anything slow happens.
  const num = {
    steps: options.int('steps', 1),
    batchSize: options.int('batch-size', 1),
    lr: options.nonNegative('lr'),
    generatorLrScale: options.nonNegative('generator-lr-scale'),
    queryReasonerFrozenSteps: options.int('freeze-query-reasoner', 0),
    k: options.int('k', 1),
    temperature: options.positive('temperature'),
    candidates: options.int('candidates', 1),
    seed: options.int('seed', 0),
    saveEvery: options.int('save-every', 0),
  } satisfies Record<string, number | undefined>;

  const backend = await useBackend('e2e', options.string('backend'));
  const loaded = loadStage3File(data, { skipInvalid: options.flag('skip-invalid') });
  for (const w of loaded.warnings) console.error(`warning: ${w}`);
  const rows = num.candidates === undefined ? loaded.rows : limitCandidates(loaded.rows, num.candidates);
  checkTopK('e2e', num.k, rows);
  const given = { ...num, estimator, trainGenerator: options.flag('freeze-generator') ? false : undefined };
  // A resume takes every setting from the run's checkpoint; the flags given must agree with them.
  const result = resume
    ? await resumeEndToEnd({ out, rows: loaded.rows, given, backend })
    : await trainEndToEnd({ ...given, clara: loadModelOption(options, backend, 'float32').clara, rows, out });
  const last = result.history[result.history.length - 1];
  console.log(`stage 3: ${result.step} steps${last ? `, final loss ${last.loss.toFixed(4)}` : ''}; model saved in ${result.checkpoint ?? out}`);
  return 0;
}
