import { defaultWarmupSteps, DEFAULT_MIN_LR_RATIO } from './schedule.ts';

/**
 * The hyper-parameters of a run: everything besides the data and the objective that changes the
 * numbers. Saved in every checkpoint and checked on resume.
 */
export interface TrainingConfig {
  /** Optimiser steps. */
  steps: number;
  /** Examples per micro-batch (one forward and backward pass). */
  batchSize: number;
  /** Micro-batches per optimiser step; the effective batch is batchSize · gradAccum. */
  gradAccum: number;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  /** Floor of the cosine, as a share of lr. */
  minLrRatio: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Gradients are clipped to this global L2 norm. */
  maxGradNorm: number;
  /** Seeds the data order and the per-step example randomness. */
  seed: number;
  /**
   * Learning-rate multipliers by parameter-name prefix, e.g. `{ "decoder_adapter": 0.2 }` trains
   * the generator at a fifth of `lr` under the same schedule (the longest matching prefix wins;
   * parameters no prefix matches use 1).
   */
  lrScales: Record<string, number>;
  /**
   * Steps to hold parameters still, by name prefix (longest wins): e.g. `{ "encoder_adapter": 300 }`
   * leaves the compressor as initialised for the first 300 optimiser steps (lr scale 0; its Adam
   * moments still accumulate), so the generator first learns to read the compressor's initial,
   * document-specific vectors; trained together from the start, the compressor collapses to one
   * output for every document before the generator has learned to use it.
   */
  frozenSteps: Record<string, number>;
}

/** CLaRa's official optimiser settings (docs/clara.md §4); lr 1e-4 is the official rate. */
export const TRAINING_DEFAULTS = {
  batchSize: 8,
  gradAccum: 1,
  lr: 1e-4,
  minLrRatio: DEFAULT_MIN_LR_RATIO,
  betas: [0.9, 0.95] as [number, number],
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1.0,
  seed: 0,
  lrScales: {} as Record<string, number>,
  frozenSteps: {} as Record<string, number>,
};

/**
 * Fills in the defaults: `steps` defaults to one pass over the data (`rowCount` rows), warm-up to
 * `warmupShare` of the steps (default 3 %). Throws a RangeError naming the first bad value.
 */
export function resolveTrainingConfig(partial: Partial<TrainingConfig> & { warmupShare?: number }, rowCount: number): TrainingConfig {
  const d = TRAINING_DEFAULTS;
  const batchSize = partial.batchSize ?? d.batchSize;
  const gradAccum = partial.gradAccum ?? d.gradAccum;
  const steps = partial.steps ?? Math.max(1, Math.ceil(rowCount / (batchSize * gradAccum)));
  const config: TrainingConfig = {
    steps,
    batchSize,
    gradAccum,
    lr: partial.lr ?? d.lr,
    warmupSteps: partial.warmupSteps ?? defaultWarmupSteps(steps, partial.warmupShare),
    minLrRatio: partial.minLrRatio ?? d.minLrRatio,
    betas: partial.betas ?? d.betas,
    eps: partial.eps ?? d.eps,
    weightDecay: partial.weightDecay ?? d.weightDecay,
    maxGradNorm: partial.maxGradNorm ?? d.maxGradNorm,
    seed: partial.seed ?? d.seed,
    lrScales: { ...(partial.lrScales ?? d.lrScales) },
    frozenSteps: { ...(partial.frozenSteps ?? d.frozenSteps) },
  };
  const positiveInt = (name: keyof TrainingConfig) => {
    const v = config[name] as number;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('steps');
  positiveInt('batchSize');
  positiveInt('gradAccum');
  if (!Number.isInteger(config.warmupSteps) || config.warmupSteps < 0 || config.warmupSteps > steps) {
    throw new RangeError(`warmupSteps must be an integer in [0, steps = ${steps}], got ${config.warmupSteps}`);
  }
  // lr may be Infinity on purpose (tests use it to provoke a non-finite loss); NaN or negative is a mistake.
  if (!(config.lr >= 0)) throw new RangeError(`lr must be a non-negative number, got ${config.lr}`);
  if (!(config.minLrRatio >= 0 && config.minLrRatio <= 1)) throw new RangeError(`minLrRatio must be in [0, 1], got ${config.minLrRatio}`);
  if (!(config.maxGradNorm > 0)) throw new RangeError(`maxGradNorm must be positive, got ${config.maxGradNorm}`);
  if (!Number.isInteger(config.seed)) throw new RangeError(`seed must be an integer, got ${config.seed}`);
  for (const [prefix, scale] of Object.entries(config.lrScales)) {
    if (!(typeof scale === 'number' && scale >= 0 && Number.isFinite(scale)))
      throw new RangeError(`lrScales.${prefix} must be a non-negative number, got ${String(scale)}`);
  }
  for (const [prefix, held] of Object.entries(config.frozenSteps)) {
    if (!(Number.isInteger(held) && held >= 0 && held <= steps))
      throw new RangeError(`frozenSteps.${prefix} must be an integer in [0, steps = ${steps}], got ${String(held)}`);
  }
  return config;
}

/**
 * The lr multiplier of the parameter `name` after `step` steps: 0 while a `frozenSteps` prefix holds
 * it, then its `lrScales` value (1 by default).
 */
export function lrScaleLookup(config: Pick<TrainingConfig, 'lrScales' | 'frozenSteps'>, names: readonly string[]): (name: string, step: number) => number {
  const scaleOf = prefixLookup('lrScales', config.lrScales, names, 1);
  const heldFor = prefixLookup('frozenSteps', config.frozenSteps, names, 0);
  return (name, step) => (step < heldFor(name) ? 0 : scaleOf(name));
}

/**
 * The value of the longest prefix in `table` that is the name itself or ends at one of its dots;
 * `fallback` when none is. A prefix that names no parameter at all is a mistake (a typo would
 * silently train at the full rate), so it throws.
 */
function prefixLookup(field: string, table: Readonly<Record<string, number>>, names: readonly string[], fallback: number): (name: string) => number {
  const prefixes = Object.keys(table).sort((a, b) => b.length - a.length);
  const matches = (name: string, prefix: string) => name === prefix || name.startsWith(`${prefix}.`);
  for (const prefix of prefixes) {
    if (!names.some((n) => matches(n, prefix)))
      throw new Error(`${field}: '${prefix}' matches no trained parameter (they start with: ${[...new Set(names.map((n) => n.split('.')[0]))].join(', ')})`);
  }
  return (name) => {
    const prefix = prefixes.find((p) => matches(name, p));
    return prefix === undefined ? fallback : table[prefix]!;
  };
}
