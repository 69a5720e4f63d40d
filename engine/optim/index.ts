import '../methods.ts'; // the Tensor methods these modules call

/** Optimisation: AdamW, gradient clipping, learning-rate schedules. */
export { AdamW, type AdamWOptions, type AdamWState } from './adamw.ts';
export { clipAndStep, clipGradNorm, gradNorm, zeroGrad } from './clipGradNorm.ts';
export { setOptimizerFusion, optimizerFusionEnabled } from './fusion.ts';
export { constantSchedule, cosineSchedule, type LRSchedule, type CosineScheduleOptions, type WarmupOptions } from './schedules.ts';
