/**
 * Runs one variant of the gsm8k comparison in a Web Worker, so that on a machine with several
 * cores the variants train side by side (the CPU backend is single-threaded). The main script
 * (`examples/gsm8k.ts`) sends the pipeline as JSON and receives events and the result.
 * @module
 */
/// <reference lib="deno.worker" />
import {
  type BackendName,
  pipelineFromJSON,
  type PipelineJSON,
  resume,
  setBackend,
  train,
  type TrainEvent,
} from "../mod.ts";
import { summarize, type VariantResult } from "./gsm8k_variant.ts";

/** What the main script asks a worker to do. */
export interface VariantJob {
  pipeline: PipelineJSON;
  out: string;
  /** Continue from the checkpoints in `out/checkpoints` instead of starting afresh. */
  resume: boolean;
  backend: BackendName;
}

/** What a worker sends back: progress events, then one result or one error. */
export type VariantMessage =
  | { type: "event"; event: TrainEvent }
  | { type: "done"; result: VariantResult }
  | { type: "error"; message: string };

const stop = new AbortController();

self.onmessage = async (e: MessageEvent) => {
  if (e.data?.type === "stop") {
    stop.abort();
    return;
  }
  const job = e.data.job as VariantJob;
  const send = (m: VariantMessage) => self.postMessage(m);
  try {
    await setBackend(job.backend);
    const p = pipelineFromJSON(job.pipeline);
    const opts = {
      out: job.out,
      signal: stop.signal,
      progress: false,
      onEvent: (event: TrainEvent) => send({ type: "event", event }),
    };
    const r = job.resume
      ? await resume(`${job.out}/checkpoints`, { ...opts, pipeline: p })
      : await train(p, opts);
    send({ type: "done", result: summarize(r) });
  } catch (err) {
    send({ type: "error", message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
};
