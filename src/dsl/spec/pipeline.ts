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
 * import {
 *   adamw,
 *   crossEntropy,
 *   exactMatchEval,
 *   gpt,
 *   gsm8kSyntheticData,
 *   type Pipeline,
 *   pipeline,
 * } from "@lossforge/core";
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
 * import { pipeline, withLoss } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const focal = withLoss(base, { kind: "focal", options: { gamma: 2 } });
 * console.log(focal.loss.spec, focal.steps); // { kind: "focal", options: { gamma: 2 } } 4
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
 * import { countParams, pipeline, rng, withModel } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const deeper = withModel(base, {
 *   kind: "gpt",
 *   options: { vocab: 259, context: 32, layers: 2, dim: 16, heads: 2 },
 * });
 * console.log(countParams(deeper.model.init(rng(0)))); // 11248 (7968 with one layer)
 * ```
 */
export function withModel(p: Pipeline, model: Module<ParamTree> | PartSpec): Pipeline {
  return pipeline({ ...p, model });
}
