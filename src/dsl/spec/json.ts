/**
 * Pipelines as JSON: `toJSON` writes each part as its registry spec, `pipelineFromJSON`
 * builds it back through the registries, so an experiment is reproducible from a file.
 *
 * @module
 */

import { PipelineError, type Problem } from "./errors.ts";
import { type Pipeline, pipeline, type PipelineSpec } from "./pipeline.ts";
import { specOf } from "./registry.ts";
import type { Json, PartSpec } from "./types.ts";

/**
 * The JSON form of a pipeline: every part a `{ kind, options }` spec.
 *
 * @example
 * ```ts
 * import { pipeline, type PipelineJSON, toJSON } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const json: PipelineJSON = toJSON(base);
 * console.log(json.loss, json.batchSize); // { kind: "ce", options: {} } 8
 * await Deno.writeTextFile("run.json", JSON.stringify(json, null, 2)); // deno task train run.json
 * ```
 */
export interface PipelineJSON {
  /** The pipeline's label. */
  name: string;
  /** Model spec. */
  model: PartSpec;
  /** Loss spec. */
  loss: PartSpec;
  /** Optimizer spec. */
  optimizer: PartSpec;
  /** Schedule spec. */
  schedule?: PartSpec;
  /** Data source spec. */
  data: PartSpec;
  /** Evaluator spec. */
  eval?: PartSpec;
  /** Steps. */
  steps?: number;
  /** Epochs. */
  epochs?: number;
  /** Micro-batch size. */
  batchSize: number;
  /** Micro-batches per step. */
  gradAccum: number;
  /** Gradient clip. */
  clip?: number;
  /** Seed. */
  seed: number;
  /** Log interval. */
  logEvery: number;
  /** Eval interval. */
  evalEvery: number;
  /** Checkpointing. */
  checkpoint?: { dir: string; every: number; keep?: number };
  /** NaN / Inf policy. */
  onNonFinite: "stop" | "skip";
}

/**
 * The pipeline as JSON data. Every part must carry a spec (parts built by registered
 * factories do; see `describe` for others); a `PipelineError` lists those that do not.
 *
 * @example
 * ```ts
 * import { pipeline, toJSON } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * console.log(JSON.stringify(toJSON(base).optimizer)); // {"kind":"adamw","options":{"lr":0.001}}
 * await Deno.writeTextFile("run.json", JSON.stringify(toJSON(base), null, 2));
 * ```
 */
export function toJSON(p: Pipeline): PipelineJSON {
  const problems: Problem[] = [];
  const part = (path: string, value: unknown): PartSpec => {
    const spec = specOf(value);
    if (spec) return structuredClone(spec);
    problems.push({
      path,
      message: "has no spec, so it cannot be written as JSON: build it from a registered " +
        "factory or attach one with describe(part, { kind, options })",
    });
    return { kind: "" };
  };
  // The fields in the order `pipeline` sets them, so files read the same way each time.
  const out: PipelineJSON = {
    name: p.name,
    model: part("model", p.model),
    loss: part("loss", p.loss),
    optimizer: part("optimizer", p.optimizer),
    ...(p.schedule ? { schedule: part("schedule", p.schedule) } : {}),
    data: part("data", p.data),
    ...(p.eval ? { eval: part("eval", p.eval) } : {}),
    ...(p.steps !== undefined ? { steps: p.steps } : {}),
    ...(p.epochs !== undefined ? { epochs: p.epochs } : {}),
    batchSize: p.batchSize,
    gradAccum: p.gradAccum,
    ...(p.clip !== undefined ? { clip: p.clip } : {}),
    seed: p.seed,
    logEvery: p.logEvery,
    evalEvery: p.evalEvery,
    ...(p.checkpoint ? { checkpoint: structuredClone(p.checkpoint) } : {}),
    onNonFinite: p.onNonFinite,
  };
  if (problems.length) throw new PipelineError(problems);
  return out;
}

/**
 * Builds a pipeline from its JSON form (an object or a JSON string), validating it.
 *
 * @example
 * ```ts
 * import { pipelineFromJSON, train } from "@lossforge/core";
 * // A run written by `toJSON` (or by hand): every part is rebuilt from its spec, and checked.
 * const run = pipelineFromJSON(await Deno.readTextFile("run.json"));
 * console.log(run.name, run.steps, run.model.spec?.kind); // e.g. "run" 4 "gpt"
 * await train(run);
 * ```
 */
export function pipelineFromJSON(json: string | PipelineJSON | { [key: string]: Json }): Pipeline {
  let value: unknown = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new PipelineError([{ path: "", message: `not valid JSON: ${(e as Error).message}` }]);
    }
  }
  return pipeline(value as PipelineSpec);
}
