/**
 * Declaring a training run: `pipeline(spec)` checks a plain-data description and returns
 * a frozen {@linkcode Pipeline}; `withLoss` / `withModel` (or object spread) make variants.
 *
 * @module
 */

import { validatePipeline } from "./validate.ts";
import type { LossFn } from "../../losses/mod.ts";
import type { Module, ParamTree } from "../../nn/mod.ts";
import type { PartSpec, Pipeline, PipelineSpec } from "./types.ts";

export type { CheckpointSpec, NonFinitePolicy, Pipeline, PipelineSpec } from "./types.ts";

/**
 * Checks `spec` and returns the pipeline. Every problem is collected before throwing one
 * `PipelineError` that lists them with their paths (`optimizer.lr: must be > 0, got -1`).
 * Parts given as specs are built through the registries.
 *
 * @example
 * ```ts
 * import { pipeline, type Pipeline } from "../../../mod.ts";
 * import { adamw, crossEntropy, gpt, exactMatchEval, gsm8kSyntheticData } from "../../../mod.ts";
 * const run: Pipeline = pipeline({
 *   model: gpt({ vocab: 259, context: 128, layers: 2, dim: 64, heads: 4 }),
 *   loss: crossEntropy(),
 *   optimizer: adamw({ lr: 3e-4 }),
 *   data: gsm8kSyntheticData({ seed: 42, maxLength: 128 }),
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
export function withLoss(p: Pipeline, loss: LossFn | PartSpec | string): Pipeline {
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
export function withModel(p: Pipeline, model: Module<ParamTree> | PartSpec): Pipeline {
  return pipeline({ ...p, model });
}
