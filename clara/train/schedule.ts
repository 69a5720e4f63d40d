import { cosineSchedule, type LRSchedule } from '../../engine/index.ts';

/**
 * The learning-rate schedule of every CLaRa stage (docs/clara.md §4): linear warm-up from 0 to
 * `lr`, then a half cosine down to a floor of `minLrRatio · lr` at the last step.
 *
 * Convention (as Hugging Face's schedulers): the schedule is looked up with the number of steps
 * already taken, so with a warm-up the very first update uses lr 0.
 */
export interface ScheduleOptions {
  lr: number;
  /** Total optimiser steps. */
  steps: number;
  /** Warm-up steps; default `defaultWarmupSteps(steps)` (3 %). */
  warmupSteps?: number;
  /** The floor as a share of lr (default 0.1). */
  minLrRatio?: number;
}

export const DEFAULT_WARMUP_SHARE = 0.03;
export const DEFAULT_MIN_LR_RATIO = 0.1;

/** ceil(share · steps), as HF's `warmup_ratio` (share default 3 %). */
export function defaultWarmupSteps(steps: number, share = DEFAULT_WARMUP_SHARE): number {
  return Math.ceil(share * steps);
}

export function trainingSchedule(options: ScheduleOptions): LRSchedule {
  return cosineSchedule({
    lr: options.lr,
    totalSteps: options.steps,
    warmupSteps: options.warmupSteps ?? defaultWarmupSteps(options.steps),
    minLr: options.lr * (options.minLrRatio ?? DEFAULT_MIN_LR_RATIO),
  });
}
