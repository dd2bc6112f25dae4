/**
 * Pipelines as JSON: `toJSON` writes each part as its registry spec, `pipelineFromJSON`
 * builds it back through the registries, so an experiment is reproducible from a file.
 *
 * @module
 */

import { PipelineError, type Problem } from "./errors.ts";
import { type Pipeline, pipeline, type PipelineSpec } from "./pipeline.ts";
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
 *   data: { kind: "gsm8k-synthetic", options: {} },
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

const PARTS = ["model", "loss", "optimizer", "schedule", "data", "eval"] as const;

/**
 * The pipeline as JSON data. Every part must carry a spec (parts built by registered
 * factories do; see `describe` for others); a `PipelineError` lists those that do not.
 *
 * @example
 * ```ts
 * import { toJSON, type Pipeline } from "../mod.ts";
 * const save = (p: Pipeline) => Deno.writeTextFile("run.json", JSON.stringify(toJSON(p), null, 2));
 * console.log(typeof save);
 * ```
 */
export function toJSON(p: Pipeline): PipelineJSON {
  const problems: Problem[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p)) {
    if ((PARTS as readonly string[]).includes(key)) {
      const spec = (value as { spec?: PartSpec }).spec;
      if (!spec) {
        problems.push({
          path: key,
          message: "has no spec, so it cannot be written as JSON: build it from a registered " +
            "factory or attach one with describe(part, { kind, options })",
        });
      } else out[key] = structuredClone(spec);
    } else if (value !== undefined) out[key] = structuredClone(value);
  }
  if (problems.length) throw new PipelineError(problems);
  return out as unknown as PipelineJSON;
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
