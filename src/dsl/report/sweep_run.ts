/**
 * One variant of a sweep, trained where the sweep puts it: in the sweep's own thread or in a
 * Web Worker (`sweep_worker.ts`). Either way it reports the same plain-data outcome, which
 * crosses to the main thread as it is.
 *
 * @module
 */

import { treeDispose } from "../../autograd/mod.ts";
import type { BackendName } from "../../autograd/backend.ts";
import { NonFiniteLossError } from "../spec/errors.ts";
import type { TrainEvent } from "../run/events.ts";
import type { PipelineJSON } from "../spec/json.ts";
import type { ProblemResults } from "../spec/types.ts";
import type { Pipeline } from "../spec/pipeline.ts";
import { train, type TrainOptions } from "../run/train.ts";

/**
 * Where one variant trains and whether it continues from a checkpoint.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import { runVariant, type VariantPlace } from "./sweep_run.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // Continue the variant in runs/sweep/ce from its newest checkpoint.
 * const place: VariantPlace = { out: "runs/sweep/ce", resume: "runs/sweep/ce/checkpoints" };
 * await runVariant(base, place, new AbortController().signal, () => {});
 * ```
 */
export interface VariantPlace {
  /** The variant's run folder (events.jsonl, pipeline.json, checkpoints). */
  out?: string;
  /** A checkpoint folder to continue from. */
  resume?: string;
  /** `TrainOptions.tuneMatmul`, for a variant trained in the sweep's own thread. */
  tuneMatmul?: TrainOptions["tuneMatmul"];
}

/**
 * What a variant's training came to: a result, or the non-finite loss that stopped it.
 *
 * @example
 * ```ts
 * import type { VariantOutcome } from "./sweep_run.ts";
 * const text = (o: VariantOutcome) => o.type === "done" ? `loss ${o.loss}` : o.message;
 * console.log(text({ type: "nonfinite", message: "loss is NaN at step 3", loss: NaN, step: 3 }));
 * ```
 */
export type VariantOutcome =
  | {
    type: "done";
    stopped: "completed" | "interrupted";
    metrics: Record<string, number>;
    loss: number;
    steps: number;
    tokensPerSecond: number;
    skipped: number;
    curve: { step: number; loss: number }[];
    /** Which held-out problems the final evaluation got right, when its evaluator tells. */
    problems?: ProblemResults;
  }
  | { type: "nonfinite"; message: string; loss: number; step: number };

/**
 * What the sweep sends a worker: the variant's pipeline as JSON and where it trains.
 *
 * @example
 * ```ts
 * import { pipeline, toJSON } from "@lossforge/core";
 * import type { VariantJob } from "./sweep_run.ts";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const job: VariantJob = { pipeline: toJSON(base), backend: "cpu", out: "runs/ce", imports: [] };
 * const worker = new Worker(new URL("./sweep_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ type: "run", job }); // it answers with VariantMessages
 * ```
 */
export interface VariantJob extends Omit<VariantPlace, "tuneMatmul"> {
  pipeline: PipelineJSON;
  backend: BackendName;
  /** Threads for the CPU backend's matmul (`setCpuThreads`), when the sweep shares out cores. */
  threads?: number;
  /** Modules to import before building the pipeline (where custom parts are registered). */
  imports: string[];
}

/**
 * What a worker sends back: events, then one outcome or one error.
 *
 * @example
 * ```ts
 * import type { VariantMessage } from "./sweep_run.ts";
 * const last = (m: VariantMessage) => m.type !== "event";
 * console.log(last({ type: "error", message: "out of memory" })); // true
 * ```
 */
export type VariantMessage =
  | { type: "event"; event: TrainEvent }
  | { type: "outcome"; outcome: VariantOutcome }
  | {
    type: "error";
    /** The error's message (its stack, for an error that is not the library's own). */
    message: string;
    /** The error class's name. */
    name?: string;
    /** A `RunFolderError`'s path. */
    path?: string;
  };

/**
 * Trains `p` at `place`, stopping on `signal` (with a checkpoint, as `train` does); a
 * non-finite loss becomes an outcome, so the sweep goes on with the other variants.
 *
 * @example
 * ```ts
 * import { pipeline } from "@lossforge/core";
 * import { runVariant } from "./sweep_run.ts";
 * const p = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const o = await runVariant(p, { out: "runs/one" }, new AbortController().signal, () => {});
 * console.log(o.type); // "done"
 * ```
 */
export async function runVariant(
  p: Pipeline,
  place: VariantPlace,
  signal: AbortSignal,
  onEvent: (e: TrainEvent) => void,
): Promise<VariantOutcome> {
  try {
    const r = await train(p, {
      out: place.out,
      resume: place.resume,
      tuneMatmul: place.tuneMatmul,
      signal,
      handleSignals: false,
      progress: false,
      onEvent,
    });
    treeDispose(r.params);
    treeDispose(r.optState);
    return {
      type: "done",
      stopped: r.stopped,
      metrics: r.eval ?? {},
      loss: r.loss,
      steps: r.steps,
      tokensPerSecond: r.tokensPerSecond,
      skipped: r.skipped,
      curve: r.curve.map((c) => ({ step: c.step, loss: c.loss })),
      ...(r.problems ? { problems: r.problems } : {}),
    };
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    return { type: "nonfinite", message: e.message, loss: e.loss, step: e.step };
  }
}
