/**
 * One variant of a sweep, trained where the sweep puts it: in the sweep's own thread or in a
 * Web Worker (`sweep_worker.ts`). Either way it reports the same plain-data outcome, which
 * crosses to the main thread as it is.
 *
 * @module
 */

import { treeDispose } from "../autograd/mod.ts";
import type { BackendName } from "../autograd/backend.ts";
import { NonFiniteLossError } from "./errors.ts";
import type { TrainEvent } from "./events.ts";
import type { PipelineJSON } from "./json.ts";
import type { Pipeline } from "./pipeline.ts";
import { train, type TrainOptions } from "./train.ts";

/** Where one variant trains and whether it continues from a checkpoint. */
export interface VariantPlace {
  /** The variant's run folder (events.jsonl, pipeline.json, checkpoints). */
  out?: string;
  /** A checkpoint folder to continue from. */
  resume?: string;
  /** `TrainOptions.tuneMatmul`, for a variant trained in the sweep's own thread. */
  tuneMatmul?: TrainOptions["tuneMatmul"];
}

/** What a variant's training came to: a result, or the non-finite loss that stopped it. */
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
  }
  | { type: "nonfinite"; message: string; loss: number; step: number };

/** What the sweep sends a worker: the variant's pipeline as JSON and where it trains. */
export interface VariantJob extends Omit<VariantPlace, "tuneMatmul"> {
  pipeline: PipelineJSON;
  backend: BackendName;
  /** Threads for the CPU backend's matmul (`setCpuThreads`), when the sweep shares out cores. */
  threads?: number;
  /** Modules to import before building the pipeline (where custom parts are registered). */
  imports: string[];
}

/** What a worker sends back: events, then one outcome or one error. */
export type VariantMessage =
  | { type: "event"; event: TrainEvent }
  | { type: "outcome"; outcome: VariantOutcome }
  | { type: "error"; message: string };

/**
 * Trains `p` at `place`, stopping on `signal` (with a checkpoint, as `train` does); a
 * non-finite loss becomes an outcome, so the sweep goes on with the other variants.
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
      handleSigint: false,
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
    };
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    return { type: "nonfinite", message: e.message, loss: e.loss, step: e.step };
  }
}
