/**
 * Declaring a training run: `pipeline(spec)` checks a plain-data description and returns
 * a frozen {@linkcode Pipeline}; `withLoss` / `withModel` (or object spread) make variants.
 *
 * @module
 */

import { validatePipeline } from "./validate.ts";
import type {
  DataSource,
  Evaluator,
  LossLike,
  ModelLike,
  OptimizerLike,
  PartSpec,
  ScheduleLike,
} from "./types.ts";

/**
 * Where and how often checkpoints are written.
 *
 * @example
 * ```ts
 * import type { CheckpointSpec } from "./pipeline.ts";
 * const c: CheckpointSpec = { dir: "runs/a/checkpoints", every: 100, keep: 3 };
 * console.log(c.dir);
 * ```
 */
export interface CheckpointSpec {
  /** The folder holding `step-NNNNNNNN/` checkpoint folders. */
  dir: string;
  /** Write one every this many steps (and at the end, and on interrupt). */
  every: number;
  /** How many of the newest to keep (default 3). */
  keep?: number;
}

/**
 * What to do when a step's loss is NaN or infinite: `"stop"` throws
 * `NonFiniteLossError` naming the step; `"skip"` leaves params and optimizer state as they
 * were before that step and counts it (`TrainResult.skipped`).
 *
 * @example
 * ```ts
 * import type { NonFinitePolicy } from "./pipeline.ts";
 * const p: NonFinitePolicy = "skip";
 * console.log(p);
 * ```
 */
export type NonFinitePolicy = "stop" | "skip";

/**
 * The input of {@linkcode pipeline}: each part either a live value (`gpt({...})`,
 * `adamw({...})`) or its registry spec (`{ kind: "adamw", options: { lr: 3e-4 } }`; a loss
 * may be just its name, `"ce"`).
 *
 * @example
 * ```ts
 * import type { PipelineSpec } from "./pipeline.ts";
 * const spec: PipelineSpec = {
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 2, dim: 64, heads: 4 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 3e-4 } },
 *   data: { kind: "gsm8k-synthetic", options: { seed: 42 } },
 *   steps: 100,
 * };
 * console.log(spec.steps);
 * ```
 */
export interface PipelineSpec {
  /** A label used in logs, sweeps and reports (default `"run"`). */
  name?: string;
  /** The model. */
  model: ModelLike | PartSpec;
  /** The loss (`combine(...)` for weighted sums). */
  loss: LossLike | PartSpec | string;
  /** The optimizer. */
  optimizer: OptimizerLike | PartSpec;
  /** The learning rate per step; without it the optimizer's own lr is used throughout. */
  schedule?: ScheduleLike | PartSpec;
  /** The data source. */
  data: DataSource | PartSpec;
  /** Scores the model on held-out examples every `evalEvery` steps and at the end. */
  eval?: Evaluator | PartSpec;
  /** Optimizer steps to run (give this or `epochs`). */
  steps?: number;
  /** Passes over the training examples (give this or `steps`). */
  epochs?: number;
  /** Examples per micro-batch (default 8). */
  batchSize?: number;
  /** Micro-batches whose gradients are averaged per step (default 1). */
  gradAccum?: number;
  /** Global gradient-norm clip (off when absent). */
  clip?: number;
  /** Seeds initialisation, shuffling and dropout (default 42). */
  seed?: number;
  /** Read the loss back and report every this many steps (default 10). */
  logEvery?: number;
  /** Evaluate every this many steps; 0 = only at the end (default 0). */
  evalEvery?: number;
  /** Checkpointing; off when absent. */
  checkpoint?: CheckpointSpec;
  /** NaN / Inf losses: stop (default) or skip the step. */
  onNonFinite?: NonFinitePolicy;
}

/**
 * A checked, frozen pipeline: every part live, every default filled in. It is plain data:
 * spread it into `pipeline({ ...p, seed: 1 })` to make a variant.
 *
 * @example
 * ```ts
 * import type { Pipeline } from "./pipeline.ts";
 * const describeRun = (p: Pipeline) => `${p.name}: ${p.steps ?? p.epochs} x ${p.batchSize}`;
 * console.log(typeof describeRun);
 * ```
 */
export interface Pipeline {
  /** A label used in logs, sweeps and reports. */
  readonly name: string;
  /** The model. */
  readonly model: ModelLike;
  /** The loss. */
  readonly loss: LossLike;
  /** The optimizer. */
  readonly optimizer: OptimizerLike;
  /** The learning-rate schedule, if any. */
  readonly schedule?: ScheduleLike;
  /** The data source. */
  readonly data: DataSource;
  /** The evaluator, if any. */
  readonly eval?: Evaluator;
  /** Optimizer steps (exactly one of `steps` and `epochs` is set). */
  readonly steps?: number;
  /** Passes over the training examples. */
  readonly epochs?: number;
  /** Examples per micro-batch. */
  readonly batchSize: number;
  /** Micro-batches per step. */
  readonly gradAccum: number;
  /** Global gradient-norm clip. */
  readonly clip?: number;
  /** The seed. */
  readonly seed: number;
  /** Steps between loss read-backs. */
  readonly logEvery: number;
  /** Steps between evaluations (0: only at the end). */
  readonly evalEvery: number;
  /** Checkpointing. */
  readonly checkpoint?: Readonly<CheckpointSpec>;
  /** NaN / Inf policy. */
  readonly onNonFinite: NonFinitePolicy;
}

/**
 * Checks `spec` and returns the pipeline. Every problem is collected before throwing one
 * `PipelineError` that lists them with their paths (`optimizer.lr: must be > 0, got -1`).
 * Parts given as specs are built through the registries.
 *
 * @example
 * ```ts
 * import { pipeline, type Pipeline } from "../../../mod.ts";
 * import { adamw, crossEntropy, gpt, exactMatchEval, syntheticData } from "../../../mod.ts";
 * const run: Pipeline = pipeline({
 *   model: gpt({ vocab: 259, context: 128, layers: 2, dim: 64, heads: 4 }),
 *   loss: crossEntropy(),
 *   optimizer: adamw({ lr: 3e-4 }),
 *   data: syntheticData({ seed: 42, maxLength: 128 }),
 *   eval: exactMatchEval({ limit: 50 }),
 *   steps: 200,
 * });
 * console.log(run.batchSize); // 8
 * ```
 */
export function pipeline(spec: PipelineSpec): Pipeline {
  return validatePipeline(spec);
}

/**
 * The same pipeline with another loss (re-validated).
 *
 * @example
 * ```ts
 * import { withLoss, type Pipeline } from "../mod.ts";
 * const toFocal = (p: Pipeline): Pipeline => withLoss(p, { kind: "focal", options: { gamma: 2 } });
 * console.log(typeof toFocal);
 * ```
 */
export function withLoss(p: Pipeline, loss: LossLike | PartSpec | string): Pipeline {
  return pipeline({ ...p, loss });
}

/**
 * The same pipeline with another model (re-validated).
 *
 * @example
 * ```ts
 * import { withModel, type Pipeline } from "../mod.ts";
 * const bigger = (p: Pipeline): Pipeline =>
 *   withModel(p, { kind: "gpt", options: { vocab: 259, context: 128, layers: 4, dim: 128, heads: 4 } });
 * console.log(typeof bigger);
 * ```
 */
export function withModel(p: Pipeline, model: ModelLike | PartSpec): Pipeline {
  return pipeline({ ...p, model });
}
