import { join } from 'node:path';
import { AdamW, clipAndStep, tidy, type Generator, type Parameter, type Tensor } from '../../engine/index.ts';
import { combineMeans, microBatchScales } from './accumulation.ts';
import {
  CHECKPOINT_DIR,
  dataFingerprint,
  inspectParameters,
  latestCheckpoint,
  readOptimizerState,
  readTrainerState,
  TRAINER_STATE_FILE,
  writeCheckpoint,
  type TrainerState,
} from './checkpoint.ts';
import { DataOrder, stepRng } from './dataOrder.ts';
import { MetricsLog, type StepMetrics } from './metricsLog.ts';
import { NonFiniteLossError } from './nonFiniteLossError.ts';
import type { MicroBatch, TrainingObjective, TruncationCounts } from './objective.ts';
import { ProgressBar } from './progress.ts';
import { lockRun } from './runLock.ts';
import { trainingSchedule } from './schedule.ts';
import { lrScaleLookup, type TrainingConfig } from './trainingConfig.ts';

/**
 * The training loop every stage uses. Per optimiser step s (0-based):
 *
 *   1. rows      the data order's rows of step s (a pure function of seed and s);
 *   2. collate   split into `gradAccum` micro-batches of `batchSize` rows, tokenized and padded;
 *   3. forward / backward, one micro-batch at a time, each term scaled so that the summed
 *      gradient is one big batch's (accumulation.ts); each micro-batch is one `tidy`;
 *   4. check     a non-finite loss term or gradient norm stops the run before the update;
 *   5. update    clip the gradient norm, AdamW step at the schedule's lr, drop the gradients;
 *   6. record    metrics line, progress bar, checkpoint every `saveEvery` steps and at the end.
 *
 * Resuming restores the optimiser's moments and step count (hence the schedule), the named random
 * number generators (`rngs`), and starts at the checkpoint's step; with the data order a function
 * of the step, the rest of the run is the uninterrupted run's, bit for bit.
 */
export interface TrainingJob<Row, Batch> {
  objective: TrainingObjective<Row, Batch>;
  rows: readonly Row[];
  /** The parameters to train, named (the names key the optimiser state). */
  parameters: ReadonlyArray<readonly [string, Parameter]>;
  /**
   * Random number generators drawn from during the forward pass (e.g. LoRA dropout): saved in the
   * checkpoint (trainer_state.json's `generators`) and restored on resume.
   */
  rngs: Readonly<Record<string, Generator>>;
  config: TrainingConfig;
  /** Writes the model into a checkpoint directory. */
  saveModel: (dir: string) => Promise<void>;
  /** Output directory for metrics.jsonl and checkpoints; none: nothing is written. */
  out?: string;
  /**
   * Continue the run in `out` from its last checkpoint. The model must already be that
   * checkpoint's (load it from `latestCheckpoint(out)`); this is checked.
   */
  resume?: boolean;
  /**
   * Checkpoint every this many steps (0: only at the end). Saved in the checkpoint: a resume without
   * it keeps the run's, and one with another value is refused.
   */
  saveEvery?: number;
  /**
   * The model's parameters that are not trained (the frozen backbone), named: their fingerprint is
   * saved too, so that a resume refuses a model whose frozen weights differ from the checkpoint's.
   */
  frozenParameters?: ReadonlyArray<readonly [string, Parameter]>;
  /** Show the progress line on stderr (default true). */
  progress?: boolean;
  /** Called after every step (after its checkpoint, if any); throwing stops the run. */
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
  /** A hook on each micro-batch's loss terms (tests use it to inject a NaN); the step is 1-based. */
  transformTerms?: (terms: Record<string, Tensor>, step: number) => Record<string, Tensor>;
}

export interface TrainingResult {
  /** Steps completed (config.steps when the run finished). */
  step: number;
  /** Metrics of the steps run by this call. */
  history: StepMetrics[];
  /** The last checkpoint written, when `out` was given. */
  checkpoint: string | null;
}

export async function train<Row, Batch>(job: TrainingJob<Row, Batch>): Promise<TrainingResult> {
  const { objective, rows, config } = job;
  const params = job.parameters.map(([, p]) => p);
  const optimizer = new AdamW(job.parameters, {
    lr: trainingSchedule({ lr: config.lr, steps: config.steps, warmupSteps: config.warmupSteps, minLrRatio: config.minLrRatio }),
    betas: config.betas,
    eps: config.eps,
    weightDecay: config.weightDecay,
    lrScale: lrScaleLookup(
      config,
      job.parameters.map(([name]) => name),
    ),
  });
  const data = { rows: rows.length, fingerprint: dataFingerprint(rows) };

  let startStep = 0;
  // Texts cut to the model's length, over the whole run: a resume goes on from the checkpoint's counts.
  const runTruncated: TruncationCounts = {};
  let checkpoint: string | null = null;
  let saveEvery = job.saveEvery;
  const lock = job.out === undefined ? null : lockRun(job.out);
  try {
    if (job.resume) {
      if (job.out === undefined) throw new Error('resume: give the run directory (out) to resume from');
      checkpoint = latestCheckpoint(job.out);
      if (checkpoint === null) throw new Error(`resume: ${job.out} holds no checkpoint to resume from`);
      const state = readTrainerState(checkpoint);
      await checkResumable(state, job, data, checkpoint);
      const saved = readOptimizerState(checkpoint, params[0]!.backend);
      optimizer.loadStateDict(saved);
      for (const t of Object.values(saved.tensors)) t.dispose(); // the optimiser holds its own references
      for (const [name, rng] of Object.entries(job.rngs)) rng.setState(state.generators[name]!);
      startStep = state.step;
      addTruncations(runTruncated, state.truncated);
      saveEvery = saveEvery ?? state.saveEvery;
    } else if (job.out !== undefined && latestCheckpoint(job.out) !== null) {
      throw new Error(`${job.out} already holds a training checkpoint: resume it, or choose another output directory`);
    }

    const metricsLog = job.out === undefined ? null : new MetricsLog(join(job.out, 'metrics.jsonl'), startStep);
    const progress = job.progress === false ? null : new ProgressBar(config.steps);
    const order = new DataOrder(rows.length, config.seed);
    const rowsPerStep = config.batchSize * config.gradAccum;
    const terms = Object.keys(objective.weights);
    const history: StepMetrics[] = [];
    const runStart = performance.now();

    try {
      for (let step = startStep; step < config.steps; step++) {
        const stepStart = performance.now();
        const stepRows = order.rowsForStep(step, rowsPerStep).map((i) => rows[i]!);
        const rng = stepRng(config.seed, step);
        const micro: MicroBatch<Batch>[] = [];
        for (let m = 0; m < config.gradAccum; m++) {
          micro.push(objective.collate(stepRows.slice(m * config.batchSize, (m + 1) * config.batchSize), rng, { step, totalSteps: config.steps }));
        }
        const units = micro.map((m) => m.units);
        const scales = microBatchScales(units, objective.weights);

        // Forward and backward of each micro-batch; gradients add up in the parameters' .grad.
        const means: Record<string, number>[] = [];
        for (let m = 0; m < micro.length; m++) {
          const values = tidy(() => {
            let termTensors = objective.terms(micro[m]!.batch);
            if (job.transformTerms) termTensors = job.transformTerms(termTensors, step + 1);
            let total: Tensor | null = null;
            for (const t of terms) {
              if (scales[m]![t] === 0) continue;
              const scaled = termTensors[t]!.mul(scales[m]![t]!);
              total = total === null ? scaled : total.add(scaled);
            }
            total?.backward();
            return Object.fromEntries(terms.map((t) => [t, termTensors[t]!.detach()]));
          });
          const read: Record<string, number> = {};
          for (const t of terms) {
            read[t] = await values[t]!.item();
            values[t]!.dispose();
            if (scales[m]![t] !== 0 && !Number.isFinite(read[t])) {
              throw new NonFiniteLossError(step + 1, t, read[t]!, checkpoint);
            }
          }
          means.push(read);
        }
        const stepMeans = combineMeans(means, units, terms);
        const loss = terms.reduce((sum, t) => sum + (stepMeans[t] === null ? 0 : objective.weights[t]! * stepMeans[t]!), 0);

        // The update: clip and step (no step on a non-finite norm), then check.
        const lr = optimizer.currentLr;
        const gradNorm = await clipAndStep(optimizer, config.maxGradNorm);
        if (!Number.isFinite(gradNorm)) throw new NonFiniteLossError(step + 1, 'gradNorm', gradNorm, checkpoint);
        optimizer.zeroGrad();

        const tokens = micro.reduce((sum, m) => sum + m.tokens, 0);
        for (const m of micro) addTruncations(runTruncated, m.truncated);
        const seconds = (performance.now() - stepStart) / 1000;
        const metrics: StepMetrics = { step: step + 1, loss, ...stepMeans, lr, gradNorm, tokens, seconds };
        history.push(metrics);
        metricsLog?.append(metrics);
        if (progress !== null) {
          const elapsed = (performance.now() - runStart) / 1000;
          progress.update({
            step: step + 1,
            loss,
            tokensPerSecond: history.reduce((sum, h) => sum + h.tokens, 0) / elapsed,
          });
        }

        const last = step + 1 === config.steps;
        const due = saveEvery !== undefined && saveEvery > 0 && (step + 1) % saveEvery === 0;
        if (job.out !== undefined && (last || due)) {
          const inspected = await inspectParameters(job.parameters);
          if (!inspected.finite) throw new NonFiniteLossError(step + 1, 'parameters', NaN, checkpoint);
          const state: TrainerState = {
            format: 'clara-trainer-state',
            version: 1,
            step: step + 1,
            config,
            objective: { ...objective.settings },
            generators: Object.fromEntries(Object.entries(job.rngs).map(([name, rng]) => [name, rng.state()])),
            data,
            parameters: { fingerprint: inspected.fingerprint, frozen: (await inspectParameters(job.frozenParameters ?? [])).fingerprint },
            saveEvery: saveEvery ?? 0,
            truncated: { ...runTruncated },
            metrics,
          };
          checkpoint = await writeCheckpoint(job.out, { state, optimizer, saveModel: job.saveModel });
        }
        await job.onStep?.(metrics);
      }
    } catch (error) {
      optimizer.zeroGrad(); // leave no half-accumulated gradients behind
      throw error;
    } finally {
      progress?.finish();
      optimizer.dispose();
      reportTruncations(runTruncated, job.out);
    }
    return { step: config.steps, history, checkpoint };
  } finally {
    lock?.release();
  }
}

/** Adds `counts` into `total`, field by field. */
function addTruncations(total: TruncationCounts, counts: Readonly<TruncationCounts> = {}): void {
  for (const [field, n] of Object.entries(counts)) total[field] = (total[field] ?? 0) + n;
}

/** One line on stderr when texts were cut to the model's length, so a cut is never silent. */
function reportTruncations(counts: TruncationCounts, out: string | undefined): void {
  const cut = Object.entries(counts).filter(([, n]) => n > 0);
  if (cut.length === 0) return;
  const where = out === undefined ? '' : ` (counted for the run in ${join(out, CHECKPOINT_DIR, TRAINER_STATE_FILE)}, "truncated")`;
  console.error(
    `notice: texts longer than the model takes were truncated, as the official code does: ${cut.map(([field, n]) => `${n} ${field}`).join(', ')}${where}`,
  );
}

/** Refuses to resume under other settings, data or model than the checkpoint's. */
async function checkResumable<Row, Batch>(state: TrainerState, job: TrainingJob<Row, Batch>, data: TrainerState['data'], dir: string): Promise<void> {
  if (state.step > job.config.steps) {
    throw new Error(
      `${join(dir, TRAINER_STATE_FILE)}: field "step" is ${state.step}, beyond the run's ${job.config.steps} steps: not a checkpoint of this run`,
    );
  }
  const differences: string[] = [];
  const compare = (what: string, saved: Record<string, unknown>, now: Record<string, unknown>) => {
    for (const key of new Set([...Object.keys(saved), ...Object.keys(now)])) {
      if (JSON.stringify(saved[key]) !== JSON.stringify(now[key]))
        differences.push(`${what} ${key}: checkpoint ${JSON.stringify(saved[key])}, now ${JSON.stringify(now[key])}`);
    }
  };
  // Checkpoints written before lrScales and frozenSteps existed trained every parameter at scale 1.
  compare(
    'setting',
    { ...state.config, lrScales: state.config.lrScales ?? {}, frozenSteps: state.config.frozenSteps ?? {} } as unknown as Record<string, unknown>,
    job.config as unknown as Record<string, unknown>,
  );
  compare('objective setting', state.objective, job.objective.settings);
  if (job.saveEvery !== undefined && state.saveEvery !== undefined && job.saveEvery !== state.saveEvery) {
    differences.push(`setting saveEvery: checkpoint ${state.saveEvery}, now ${job.saveEvery}`);
  }
  if (state.data.rows !== data.rows || state.data.fingerprint !== data.fingerprint) {
    differences.push(
      `data: the checkpoint's run read ${state.data.rows} rows (fingerprint ${state.data.fingerprint}), this one ${data.rows} (fingerprint ${data.fingerprint})`,
    );
  }
  for (const name of Object.keys(job.rngs)) {
    if (state.generators[name] === undefined) differences.push(`random number generator "${name}" is not in the checkpoint`);
  }
  if (differences.length > 0) throw new Error(`cannot resume from ${dir}, the run would not continue as it started:\n  ${differences.join('\n  ')}`);
  const { fingerprint } = await inspectParameters(job.parameters);
  if (fingerprint !== state.parameters.fingerprint) {
    throw new Error(`cannot resume from ${dir}: the model's trainable parameters are not the checkpoint's (load the model from ${dir} first)`);
  }
  if (state.parameters.frozen !== undefined && (await inspectParameters(job.frozenParameters ?? [])).fingerprint !== state.parameters.frozen) {
    throw new Error(`cannot resume from ${dir}: the model's frozen parameters are not the checkpoint's (a file of ${dir} changed since it was written)`);
  }
}
