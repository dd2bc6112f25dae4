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
 * import type { PipelineJSON } from "./json.ts";
 * const j: PipelineJSON = {
 *   name: "ce",
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 2, dim: 64, heads: 4 } },
 *   loss: { kind: "ce", options: {} },
 *   optimizer: { kind: "adamw", options: { lr: 3e-4 } },
 *   data: { kind: "gsm8kSynthetic", options: {} },
 *   steps: 100, batchSize: 8, gradAccum: 1, seed: 42, logEvery: 10, evalEvery: 0,
 *   onNonFinite: "stop",
 * };
 * console.log(j.model.kind);
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
 * import { toJSON, type Pipeline } from "./mod.ts";
 * const save = (p: Pipeline) => Deno.writeTextFile("run.json", JSON.stringify(toJSON(p), null, 2));
 * console.log(typeof save);
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
 * import { pipelineFromJSON } from "../mod.ts";
 * const load = async (path: string) => pipelineFromJSON(await Deno.readTextFile(path));
 * console.log(typeof load);
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
