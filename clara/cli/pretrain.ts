import { existsSync } from 'node:fs';
import { ClaraModel, DEFAULT_SETTINGS } from '../claraModel.ts';
import { freshModel } from '../freshModel.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { latestCheckpoint, savedRun } from '../train/checkpoint.ts';
import { DEFAULT_WARMUP_SHARE } from '../train/schedule.ts';
import { TRAINING_DEFAULTS, type TrainingConfig } from '../train/trainingConfig.ts';
import { configureCompressionModel, loadCompressionRows, trainCompressionStage } from '../trainCompressionStage.ts';
import { Options, UsageError, type OptionSpec } from './args.ts';
import { backendOption, useBackend } from './backendOption.ts';
import { loadModelOption } from './modelOption.ts';

/**
 * `clara pretrain`: stages 1 and 2. Parses the flags, loads the data and the model, and calls
 * `trainCompressionStage` (clara/trainCompressionStage.ts), which does all the work.
 */
const PRETRAIN_HELP = `Usage: clara pretrain --stage 1|2 --data FILE --out DIR [options]

Stage 1 (salient compressor pretraining) trains both LoRA adapters and the memory-token rows on
L = CE + λ·MSE with one document per row; stage 2 (compression instruction tuning) continues the
compressor with a fresh generator adapter on k documents per question. Writes DIR/metrics.jsonl
(one JSON object per step) and DIR/checkpoint/ (a CLaRa model directory plus trainer_state.json and
optimizer.safetensors), replaced atomically at every save.

Model (one of):
  --model DIR             continue from a saved CLaRa model or a run directory (required for stage 2)
  --base DIR              the base model of a released CLaRa checkpoint given as --model (or a folder holding it)
  --config NAME|FILE      a fresh model from scratch: a preset (tiny, small, mistral-7b) or a
                          config.json; its vocabulary is built from the data (default for stage 1: small)
Data:
  --data FILE             JSON Lines: stage 1 {"data_type","question","answers","docs"}, stage 2
                          {"question","docs":[k docs],"answer"} (k = the first row's document count)
  --skip-invalid          report and skip bad rows instead of stopping at the first one
Training:
  --steps N               optimiser steps (default: one pass over the data)
  --batch-size B          examples per micro-batch (default ${TRAINING_DEFAULTS.batchSize})
  --grad-accum A          micro-batches per step; the effective batch is B·A (default 1)
  --lr X                  peak learning rate (default ${TRAINING_DEFAULTS.lr})
  --warmup N|X            warm-up steps, or below 1 a share of the steps (default ${DEFAULT_WARMUP_SHARE})
  --min-lr-ratio X        the cosine's floor as a share of lr (default ${TRAINING_DEFAULTS.minLrRatio})
  --mse-weight W          λ, the weight of the MSE term (default 0.1)
  --freeze-compressor N   hold the compressor (encoder adapter, memory-token rows) still for the
                          first N steps, so the generator first learns to read it (default 0)
  --seed S                data order, adapter initialisation and dropout (default 0)
Model settings (a fresh model; with --model they must keep its number of memory tokens):
  --doc-max-length N      document tokens the compressor reads (default ${DEFAULT_SETTINGS.docMaxLength})
  --compression-rate R    document tokens per memory token (default ${DEFAULT_SETTINGS.compressionRate})
  --lora-r R              rank of new adapters, alpha = 2r (default ${DEFAULT_LORA.r})
  --lora-dropout P        dropout of new adapters (default ${DEFAULT_LORA.dropout})
Run:
  --save-every N          checkpoint every N steps, and at the end (default 100; 0: only at the end)
  --resume                continue the run in --out from its last checkpoint with its settings
                          (flags given must agree with them)
  --backend B             auto (default, or $CLARA_BACKEND), webgpu or cpu
  --dtype D               how --model's frozen base matrices are held: float32 (default), bfloat16,
                          float16, or auto (as the checkpoint stores them)
  -h, --help              this help

Exit status: 0 done, 1 failed (bad data row, non-finite loss: the last good checkpoint is kept),
2 usage error.`;

const OPTIONS: OptionSpec = {
  stage: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  model: { type: 'string' },
  base: { type: 'string' },
  config: { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  'grad-accum': { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  'min-lr-ratio': { type: 'string' },
  'mse-weight': { type: 'string' },
  'freeze-compressor': { type: 'string' },
  seed: { type: 'string' },
  'doc-max-length': { type: 'string' },
  'compression-rate': { type: 'string' },
  'lora-r': { type: 'string' },
  'lora-dropout': { type: 'string' },
  'save-every': { type: 'string' },
  resume: { type: 'boolean' },
  backend: { type: 'string' },
  dtype: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export async function runPretrain(argv: string[]): Promise<number> {
  const options = Options.parse('pretrain', argv, OPTIONS);
  if (options.flag('help')) {
    console.log(PRETRAIN_HELP);
    return 0;
  }
  if (options.positionals.length > 0) throw new UsageError(`clara pretrain: unexpected argument '${options.positionals[0]}' (see \`clara pretrain --help\`)`);
  const out = options.required('out');
  const data = options.required('data');
  const resume = options.flag('resume');
  if (resume && (options.has('model') || options.has('config'))) {
    throw new UsageError('clara pretrain: --resume continues the model of the checkpoint in --out; drop --model and --config');
  }
  const saved = resume ? resumedRun(out) : null;
  const stageFlag = options.choice('stage', ['1', '2'] as const) ?? (saved ? String(saved.state.objective.stage) : undefined);
  if (stageFlag === undefined) throw new UsageError('clara pretrain: --stage is required (1 or 2)');
  const stage = Number(stageFlag) as 1 | 2;
  if (stage === 2 && !options.has('model') && !resume) throw new UsageError('clara pretrain: stage 2 continues a stage-1 model: give --model DIR');
  if (options.has('model') && options.has('config')) throw new UsageError('clara pretrain: give either --model or --config, not both');

  // Every training flag, read and checked before anything slow happens.
  const given: Partial<TrainingConfig> = {
    steps: options.int('steps', 1),
    batchSize: options.int('batch-size', 1),
    gradAccum: options.int('grad-accum', 1),
    lr: options.number('lr', (x) => x >= 0, 'a non-negative number'),
    minLrRatio: options.number('min-lr-ratio', (x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
    seed: options.int('seed', 0),
  };
  const warmup = options.number('warmup', (x) => x >= 0 && (x < 1 || Number.isInteger(x)), 'a whole number of steps or a share below 1');
  const mseWeight = options.number('mse-weight', (x) => x >= 0, 'a non-negative number');
  const compressorFrozenSteps = options.int('freeze-compressor', 0);
  const settings = {
    docMaxLength: options.int('doc-max-length', 1),
    compressionRate: options.int('compression-rate', 1),
    loraRank: options.int('lora-r', 1),
    loraDropout: options.number('lora-dropout', (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
  };
  // A resume keeps saving as often as the run it resumes (trainer_state.json's saveEvery); another value is refused.
  const saveEvery = options.int('save-every', 0) ?? saved?.state.saveEvery ?? 100;
  const modelFlag = ['doc-max-length', 'compression-rate', 'lora-r', 'lora-dropout'].find((name) => options.has(name));
  if (saved && modelFlag !== undefined) throw new UsageError(`clara pretrain: --resume keeps the checkpoint's model and its settings; drop --${modelFlag}`);
  backendOption('pretrain', options.string('backend')); // checked now, used once the flags are all valid

  const backend = await useBackend('pretrain', options.string('backend'));
  if (!existsSync(data)) throw new UsageError(`clara pretrain: --data ${data}: no such file`);
  const loaded = loadCompressionRows(stage, data, { skipInvalid: options.flag('skip-invalid') });
  if (loaded.warnings.length > 0) {
    console.error(`skipped ${loaded.warnings.length} invalid row(s):`);
    for (const w of loaded.warnings.slice(0, 20)) console.error(`  ${w}`);
    if (loaded.warnings.length > 20) console.error(`  … and ${loaded.warnings.length - 20} more`);
  }
  const rows = loaded.rows;
  if (rows.length === 0) throw new Error(`${data}: no valid rows`);
  console.error(`data: ${rows.length} rows from ${data}`);

  let clara: ClaraModel;
  if (saved) {
    clara = ClaraModel.load(saved.dir, { backend });
    console.error(`resuming ${out} at step ${saved.state.step} of ${saved.state.config.steps}`);
  } else if (options.has('model')) {
    clara = loadModelOption(options, backend, 'float32').clara;
    console.error(`model: ${options.string('model')} (stage ${clara.settings.stage}, vocabulary ${clara.tokenizer.vocabSize})`);
  } else {
    const base = options.string('config') ?? 'small';
    clara = freshModel({
      base,
      stage,
      rows,
      seed: given.seed ?? TRAINING_DEFAULTS.seed,
      backend,
      settings: {
        docMaxLength: settings.docMaxLength ?? DEFAULT_SETTINGS.docMaxLength,
        compressionRate: settings.compressionRate ?? DEFAULT_SETTINGS.compressionRate,
      },
    });
    console.error(`model: fresh '${base}' backbone, vocabulary ${clara.tokenizer.vocabSize} tokens built from the data, ${clara.nMem} memory tokens`);
  }
  if (!saved) configureCompressionModel(clara, stage, rows, settings);

  // On resume, the checkpoint's settings are the defaults; a flag that disagrees is refused by the trainer.
  const config: Partial<TrainingConfig> & { warmupShare?: number } = { ...saved?.state.config, ...definedOnly(given) };
  if (warmup !== undefined && warmup < 1) {
    delete config.warmupSteps;
    config.warmupShare = warmup;
  } else if (warmup !== undefined) {
    config.warmupSteps = warmup;
  }

  const result = await trainCompressionStage({
    ...config,
    clara,
    stage,
    rows,
    out,
    resume,
    saveEvery,
    compressorFrozenSteps,
    mseWeight: mseWeight ?? (saved?.state.objective.mseWeight as number | undefined),
    // A run that trained lm_head (the demo's --long stage 2) trains it again when resumed.
    trainHead: saved?.state.objective.trainHead === true,
  });
  const last = result.history.at(-1);
  const summary = last ? `loss ${last.loss.toFixed(4)} (ce ${fmt(last.ce)}, mse ${fmt(last.mse)})` : 'nothing left to do';
  console.log(`stage ${stage}: ${result.step} steps, ${summary}; checkpoint ${result.checkpoint ?? latestCheckpoint(out)}`);
  return 0;
}

function fmt(x: number | null | undefined): string {
  return typeof x === 'number' ? x.toFixed(4) : 'n/a';
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The run `--resume` continues; a folder without a checkpoint is a usage error. */
function resumedRun(out: string) {
  if (latestCheckpoint(out) === null) throw new UsageError(`clara pretrain: --resume: ${out} holds no checkpoint to resume from`);
  return savedRun(out);
}
