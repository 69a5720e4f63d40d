import { readFileSync } from 'node:fs';
import { ClaraModel, DEFAULT_SETTINGS } from '../claraModel.ts';
import { loadStage1File } from '../data/stage1Data.ts';
import { loadStage2File } from '../data/stage2Data.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { latestCheckpoint, readTrainerState, resolveModelDir } from '../train/checkpoint.ts';
import { freshModel } from '../freshModel.ts';
import { defaultWarmupSteps, DEFAULT_WARMUP_SHARE } from '../train/schedule.ts';
import { trainCompressionStage } from '../trainCompressionStage.ts';
import { TRAINING_DEFAULTS, type TrainingConfig } from '../train/trainingConfig.ts';
import { choiceOption, parseOptions, UsageError, type OptionSpec } from './args.ts';
import { backendOption, useBackend } from './backendOption.ts';

/**
 * `clara pretrain`: stages 1 and 2. Parses the flags, loads the data and the model, and calls
 * `trainCompressionStage` (clara/train), which does all the work.
 */
export const PRETRAIN_HELP = `Usage: clara pretrain --stage 1|2 --data FILE --out DIR [options]

Stage 1 (salient compressor pretraining) trains both LoRA adapters and the memory-token rows on
L = CE + λ·MSE with one document per row; stage 2 (compression instruction tuning) continues the
compressor with a fresh generator adapter on k documents per question. Writes DIR/metrics.jsonl
(one JSON object per step) and DIR/checkpoint/ (a CLaRa model directory plus trainer_state.json and
optimizer.safetensors), replaced atomically at every save.

Model (one of):
  --model DIR             continue from a saved CLaRa model or a run directory (required for stage 2)
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
  -h, --help              this help

Exit status: 0 done, 1 failed (bad data row, non-finite loss: the last good checkpoint is kept),
2 usage error.`;

const OPTIONS: OptionSpec = {
  stage: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, config: { type: 'string' },
  'skip-invalid': { type: 'boolean' }, steps: { type: 'string' }, 'batch-size': { type: 'string' }, 'grad-accum': { type: 'string' },
  lr: { type: 'string' }, warmup: { type: 'string' }, 'min-lr-ratio': { type: 'string' }, 'mse-weight': { type: 'string' },
  'freeze-compressor': { type: 'string' }, seed: { type: 'string' }, 'doc-max-length': { type: 'string' }, 'compression-rate': { type: 'string' }, 'lora-r': { type: 'string' },
  'lora-dropout': { type: 'string' }, 'save-every': { type: 'string' }, resume: { type: 'boolean' }, backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

type Values = Record<string, string | boolean | undefined>;

export async function runPretrain(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('pretrain', argv, OPTIONS);
  if (values.help) {
    console.log(PRETRAIN_HELP);
    return 0;
  }
  const flag = flagReader('pretrain', values);
  if (positionals.length > 0) throw new UsageError(`clara pretrain: unexpected argument '${positionals[0]}' (see \`clara pretrain --help\`)`);
  const out = flag.required('out');
  const data = flag.required('data');
  const resume = values.resume === true;
  if (resume && (values.model !== undefined || values.config !== undefined)) {
    throw new UsageError('clara pretrain: --resume continues the model of the checkpoint in --out; drop --model and --config');
  }
  const saved = resume ? savedRun(out) : null;
  const stageFlag = values.stage ?? (saved ? String(saved.state.objective.stage) : undefined);
  if (stageFlag === undefined) throw new UsageError('clara pretrain: --stage is required (1 or 2)');
  const stage = Number(choiceOption('pretrain', 'stage', stageFlag, ['1', '2'], '1')) as 1 | 2;
  if (stage === 2 && values.model === undefined && !resume) throw new UsageError('clara pretrain: stage 2 continues a stage-1 model: give --model DIR');
  if (values.model !== undefined && values.config !== undefined) throw new UsageError('clara pretrain: give either --model or --config, not both');

  // Every training flag, read and checked before anything slow happens.
  const given: Partial<TrainingConfig> = {
    steps: flag.int('steps', 1),
    batchSize: flag.int('batch-size', 1),
    gradAccum: flag.int('grad-accum', 1),
    lr: flag.number('lr', (x) => x >= 0, 'a non-negative number'),
    minLrRatio: flag.number('min-lr-ratio', (x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
    seed: flag.int('seed', 0),
  };
  const warmup = flag.number('warmup', (x) => x >= 0 && (x < 1 || Number.isInteger(x)), 'a whole number of steps or a share below 1');
  const mseWeight = flag.number('mse-weight', (x) => x >= 0, 'a non-negative number');
  const compressorFrozenSteps = flag.int('freeze-compressor', 0);
  const docMaxLength = flag.int('doc-max-length', 1);
  const compressionRate = flag.int('compression-rate', 1);
  const loraR = flag.int('lora-r', 1);
  const loraDropout = flag.number('lora-dropout', (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  const saveEvery = flag.int('save-every', 0) ?? 100;
  backendOption('pretrain', values.backend); // checked now, used once the flags are all valid

  const backend = await useBackend('pretrain', values.backend);
  const rows = loadRows(stage, data, values['skip-invalid'] === true);

  let clara: ClaraModel;
  if (saved) {
    clara = ClaraModel.load(saved.dir, { backend });
    console.error(`resuming ${out} at step ${saved.state.step} of ${saved.state.config.steps}`);
  } else if (values.model !== undefined) {
    clara = ClaraModel.load(resolveModelDir(values.model as string), { backend });
    console.error(`model: ${values.model} (stage ${clara.settings.stage}, vocabulary ${clara.tokenizer.vocabSize})`);
  } else {
    const base = (values.config as string | undefined) ?? 'small';
    clara = freshModel({
      base, stage, rows, seed: given.seed ?? TRAINING_DEFAULTS.seed, backend,
      settings: { docMaxLength: docMaxLength ?? DEFAULT_SETTINGS.docMaxLength, compressionRate: compressionRate ?? DEFAULT_SETTINGS.compressionRate },
    });
    console.error(`model: fresh '${base}' backbone, vocabulary ${clara.tokenizer.vocabSize} tokens built from the data, ${clara.nMem} memory tokens`);
  }
  if (!saved) {
    if (docMaxLength !== undefined) clara.settings.docMaxLength = docMaxLength;
    if (compressionRate !== undefined) clara.settings.compressionRate = compressionRate;
    const lora = { ...clara.settings.lora };
    if (loraR !== undefined) Object.assign(lora, { r: loraR, alpha: 2 * loraR });
    if (loraDropout !== undefined) lora.dropout = loraDropout;
    clara.settings.lora = lora;
    if (stage === 2) clara.settings.generationTopK = (rows[0] as { docs: string[] }).docs.length;
  }

  // On resume, the checkpoint's settings are the defaults; a flag that disagrees is refused by the trainer.
  const base: Partial<TrainingConfig> = saved ? saved.state.config : {};
  const steps = given.steps ?? base.steps;
  const config: Partial<TrainingConfig> = { ...base, ...definedOnly(given) };
  if (warmup !== undefined) {
    const total = steps ?? Math.max(1, Math.ceil(rows.length / ((config.batchSize ?? TRAINING_DEFAULTS.batchSize) * (config.gradAccum ?? 1))));
    config.warmupSteps = warmup < 1 ? defaultWarmupSteps(total, warmup) : warmup;
  } else if (!saved) {
    delete config.warmupSteps; // 3 % of whatever the steps turn out to be
  }

  const result = await trainCompressionStage({
    ...config, clara, stage, rows, out, resume, saveEvery, compressorFrozenSteps,
    mseWeight: mseWeight ?? (saved ? (saved.state.objective.mseWeight as number) : 0.1),
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

function savedRun(out: string) {
  const dir = latestCheckpoint(out);
  if (dir === null) throw new UsageError(`clara pretrain: --resume: ${out} holds no checkpoint to resume from`);
  return { dir, state: readTrainerState(dir) };
}

/** Stage 1 rows hold one document; stage 2 rows k, taken from the first row and required of all. */
function loadRows(stage: 1 | 2, file: string, skipInvalid: boolean) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`clara pretrain: --data ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const loaded = stage === 1 ? loadStage1File(file, { skipInvalid }) : loadStage2File(file, { skipInvalid, docsPerRow: firstRowDocCount(text) });
  if (loaded.warnings.length > 0) {
    console.error(`skipped ${loaded.warnings.length} invalid row(s):`);
    for (const w of loaded.warnings.slice(0, 20)) console.error(`  ${w}`);
    if (loaded.warnings.length > 20) console.error(`  … and ${loaded.warnings.length - 20} more`);
  }
  if (loaded.rows.length === 0) throw new Error(`${file}: no valid rows`);
  console.error(`data: ${loaded.rows.length} rows from ${file}`);
  return loaded.rows;
}

/** The document count of the first parsable row (undefined: let the loader report the problem). */
function firstRowDocCount(text: string): number | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    try {
      const row = JSON.parse(line) as Record<string, unknown>;
      const docs = row.docs ?? row.context ?? row.content;
      return Array.isArray(docs) && docs.length > 0 ? docs.length : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Typed readers for the flags of one command, with errors that name the flag. */
export function flagReader(command: string, values: Values) {
  const bad = (name: string, what: string) => new UsageError(`clara ${command}: --${name} expects ${what}, got '${String(values[name])}'`);
  const number = (name: string, check: (x: number) => boolean, what: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(x) || !check(x)) throw bad(name, what);
    return x;
  };
  return {
    number,
    int: (name: string, min: number) => number(name, (x) => Number.isInteger(x) && x >= min, min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`),
    required: (name: string): string => {
      const v = values[name];
      if (typeof v !== 'string' || v === '') throw new UsageError(`clara ${command}: --${name} is required (see \`clara ${command} --help\`)`);
      return v;
    },
  };
}
