/**
 * What one variant of the gsm8k comparison reports, whether it trained in the main script or
 * in a worker (`gsm8k_worker.ts`): the plain-data summary of a `TrainResult`.
 * @module
 */
import type { TrainResult } from "../mod.ts";

/** The summary of one variant's training, plain data so that it crosses to a worker. */
export interface VariantResult {
  stopped: string;
  eval: Record<string, number>;
  loss: number;
  steps: number;
  tokensPerSecond: number;
  curve: { step: number; loss: number }[];
}

/** Summarises a training run for the results table. */
export function summarize(r: TrainResult): VariantResult {
  return {
    stopped: r.stopped,
    eval: r.eval ?? {},
    loss: r.loss,
    steps: r.steps,
    tokensPerSecond: r.tokensPerSecond,
    curve: r.curve.map((c) => ({ step: c.step, loss: c.loss })),
  };
}
