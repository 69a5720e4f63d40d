/**
 * Thrown when a step's loss (or gradient norm) is NaN or infinite. The step's update is not
 * applied and no checkpoint is written, so the last checkpoint on disk is the last good state.
 */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    /** The step (1-based) whose loss was not finite. */
    readonly step: number,
    /** The loss term at fault (`ce`, `mse`…), `gradNorm`, or `parameters` (found when about to save). */
    readonly term: string,
    readonly value: number,
    /** The checkpoint the run can be resumed from, if any. */
    readonly lastCheckpoint: string | null,
  ) {
    super(
      (term === 'parameters'
        ? `non-finite parameters after step ${step}; training stopped before saving them. `
        : `non-finite ${term === 'gradNorm' ? 'gradient norm' : `loss term "${term}"`} (${value}) at step ${step}; training stopped before applying it. `) +
        (lastCheckpoint === null ? 'No checkpoint was written yet.' : `The last good checkpoint is ${lastCheckpoint}.`) +
        ' Try a lower --lr or a longer --warmup.',
    );
  }
}
