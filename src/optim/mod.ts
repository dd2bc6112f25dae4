/**
 * Optimizers over parameter trees (SGD, Adam, AdamW), gradient transforms (clipping,
 * scaling, accumulation), learning-rate schedules and optimizer-state checkpoints.
 * @module
 */
import "../backends.ts";
export type { GradientTransform, LearningRate, Optimizer, OptState, Schedule } from "./types.ts";
export { constant, cosine, linearWarmup, warmupCosine } from "./schedules.ts";
export { sgd, type SgdOptions } from "./sgd.ts";
export { adam, type AdamOptions, adamw } from "./adam.ts";
export { clipByGlobalNorm, clipFactor, clipForUpdate, globalNorm } from "./clip.ts";
export { chain, scaleGradients } from "./chain.ts";
export {
  addGradients,
  type GradientAccumulator,
  gradientAccumulator,
  meanGradients,
} from "./accumulate.ts";
export { trainStep, type TrainStepOptions, type TrainStepResult } from "./train_step.ts";
export { loadOptimizerState, saveOptimizerState } from "./state_io.ts";
export { fusedAdamw } from "./fused_adamw.ts";
