/** Training: the generic loop and what stages 1 and 2 plug into it. */
export { train, type TrainingJob, type TrainingResult } from './trainer.ts';
export type { TrainingObjective, MicroBatch } from './objective.ts';
export { resolveTrainingConfig, TRAINING_DEFAULTS, type TrainingConfig } from './trainingConfig.ts';
export { trainingSchedule, defaultWarmupSteps, type ScheduleOptions } from './schedule.ts';
export { microBatchScales, combineMeans } from './accumulation.ts';
export { DataOrder, stepGenerator } from './dataOrder.ts';
export {
  latestCheckpoint, readTrainerState, resolveModelDir, writeCheckpoint, CHECKPOINT_DIR, TRAINER_STATE_FILE, OPTIMIZER_FILE,
  type TrainerState,
} from './checkpoint.ts';
export { MetricsLog, readMetrics, type StepMetrics } from './metricsLog.ts';
export { NonFiniteLossError } from './nonFiniteLossError.ts';
export { ProgressBar } from './progress.ts';
export { compressionObjective } from './compressionObjective.ts';
export { compressionStageParameters } from './stageParameters.ts';
export { freshModel, resolveBackboneConfig, vocabularyTexts } from './freshModel.ts';
export { trainCompressionStage, resumeCompressionStage, type CompressionStageOptions } from './trainCompressionStage.ts';
