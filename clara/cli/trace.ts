import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TRACE_TENSORS_HELP, traceModel } from '../model/trace.ts';
import { TRACE_MODES } from '../traceStep.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';
import { modelDirOption } from './modelOption.ts';

const TRACE_HELP = `Usage: clara trace --model DIR --inputs FILE --out FILE [--mode decoder|compressor|stage1|stage3]
                   [--adapter NAME] [--adapters DIR] [--mem-ids I,J,...] [--mse-weight X]
                   [--k K --temperature T --estimator NAME --seed S] [--backend auto|webgpu|cpu]

Runs a checkpoint on the inputs of a safetensors or JSON file and writes every intermediate with
its gradient to a safetensors file, in the order they were computed (compare two such files with
\`clara compare\`).

The checkpoint: DIR (or a run folder, whose checkpoint/ is used) holds the backbone in Hugging Face layout (config.json, model.safetensors) and
its LoRA adapters, all loaded, either under DIR/adapters/<name>/ or, as PEFT's multi-adapter save
writes them, DIR/<name>/ (each with adapter_config.json and adapter_model.safetensors); --adapters
points elsewhere. The step modes need the <MEMi> token ids: from this project's tokenizer.json, or,
for an outside checkpoint, --mem-ids (the vocabulary size and <s>, </s>, pad come from config.json).

  --mode M          decoder (default): the backbone with one adapter active (--adapter NAME, or --adapter all:
                    each adapter in turn, in one file);
                    compressor: the compressor and its MSE term; stage1: a stage-1 step (CE + λ·MSE);
                    stage3: a stage-3 step (query reasoner, top-k over candidates, generator)
  --mse-weight X    λ of stage 1 (default 0.1)
  --k K, --temperature T, --estimator NAME, --seed S
                    stage 3's top-k (default k = the generator rows' slots, τ 0.02, straight-through, seed 0)

${TRACE_TENSORS_HELP}`;

export async function runTrace(argv: string[]): Promise<number> {
  const options = Options.parse('trace', argv, {
    model: { type: 'string' },
    inputs: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    adapter: { type: 'string' },
    adapters: { type: 'string' },
    'mem-ids': { type: 'string' },
    'mse-weight': { type: 'string' },
    k: { type: 'string' },
    temperature: { type: 'string' },
    estimator: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(TRACE_HELP);
    return 0;
  }
  const [inputsFile, outFile] = [options.required('inputs'), options.required('out')];
  // A Hugging Face layout (config.json) is traced as it is; otherwise --model may be a run folder.
  const given = options.required('model');
  const modelDir = existsSync(join(given, 'config.json')) ? given : modelDirOption(options);
  const memIdsText = options.string('mem-ids');
  const memIds = memIdsText?.split(',').map(Number);
  if (memIds !== undefined && !memIds.every((id) => Number.isInteger(id) && id >= 0))
    throw new UsageError(`clara trace: --mem-ids expects comma-separated token ids, got '${memIdsText}'`);
  const mode = options.choice('mode', TRACE_MODES);
  const step = {
    mseWeight: options.number('mse-weight', (x) => x >= 0, 'a number >= 0'),
    k: options.int('k', 1),
    temperature: options.number('temperature', (x) => x > 0, 'a number > 0'),
    estimator: options.string('estimator'),
    seed: options.int('seed', 0),
  };
  const backend = await useBackend('trace', options.string('backend'));
  const { written } = await traceModel({
    modelDir,
    inputsFile,
    outFile,
    mode,
    adapter: options.string('adapter') ?? null,
    adaptersDir: options.string('adapters'),
    memIds,
    step,
    backend,
  });
  console.log(`wrote ${written.length} tensors to ${outFile}: ${written.join(', ')}`);
  return 0;
}
