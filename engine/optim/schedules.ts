/**
 * Learning-rate schedules: pure functions from the number of optimiser steps already taken
 * (0 for the first step) to the learning rate of the next step. This is the convention of
 * PyTorch's LambdaLR / HF's schedulers (`scheduler.step()` after `optimizer.step()`), so with a
 * warm-up the very first update uses lr 0, exactly as in an HF run.
 *
 * Pass one as AdamW's `lr` and the optimiser looks it up at every step (and after a checkpoint
 * resume, since the step count is part of its state).
 */
export type LRSchedule = (step: number) => number;

export interface WarmupOptions {
  /** Steps of linear warm-up from 0 to lr (default 0: none). */
  warmupSteps?: number;
}

/** lr(step) = lr, after an optional linear warm-up. */
export function constantSchedule(lr: number, options: WarmupOptions = {}): LRSchedule {
  const warmupSteps = checkSteps('constantSchedule', 'warmupSteps', options.warmupSteps ?? 0);
  return (step) => (step < warmupSteps ? (lr * step) / warmupSteps : lr);
}

export interface CosineScheduleOptions extends WarmupOptions {
  /** The peak learning rate, reached at the end of warm-up. */
  lr: number;
  /** Total number of optimiser steps; from here on the rate stays at `minLr`. */
  totalSteps: number;
  /** The floor the cosine decays to (default 0); CLaRa uses 0.1·lr. */
  minLr?: number;
}

/**
 * Linear warm-up from 0 to lr over `warmupSteps`, then a half cosine from lr down to `minLr` at
 * `totalSteps`:
 *   step < W:   lr · step / W
 *   otherwise:  minLr + (lr − minLr) · ½(1 + cos(π · p)),  p = min(1, (step − W) / max(1, T − W))
 * (HF's get_cosine_with_min_lr_schedule_with_warmup with min_lr = minLr.)
 */
export function cosineSchedule(options: CosineScheduleOptions): LRSchedule {
  const { lr } = options;
  const minLr = options.minLr ?? 0;
  const warmupSteps = checkSteps('cosineSchedule', 'warmupSteps', options.warmupSteps ?? 0);
  const totalSteps = checkSteps('cosineSchedule', 'totalSteps', options.totalSteps);
  if (warmupSteps > totalSteps) throw new RangeError(`cosineSchedule: warmupSteps (${warmupSteps}) exceeds totalSteps (${totalSteps})`);
  return (step) => {
    if (step < warmupSteps) return (lr * step) / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

function checkSteps(fn: string, name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${fn}: ${name} must be a non-negative integer (got ${n})`);
  return n;
}
