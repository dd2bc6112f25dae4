/**
 * A Web Worker that trains one variant of a sweep, so that variants train side by side on
 * the cores of a machine (each CPU-backend training runs on one thread). The sweep sends a
 * `VariantJob`; the worker answers with `VariantMessage`s and stops on `{ type: "stop" }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { setBackend } from "../../autograd/backend.ts";
import { LossforgeError } from "../../autograd/errors.ts";
import { setCpuThreads } from "../../cpu/mod.ts";
// The DSL's public face registers the backends and every built-in part (models, losses,
// data, evaluators).
import "../mod.ts";
import { pipelineFromJSON } from "../spec/json.ts";
import { runVariant, type VariantJob, type VariantMessage } from "./sweep_run.ts";

const stop = new AbortController();

self.onmessage = async (e: MessageEvent<{ type: "stop" } | { type: "run"; job: VariantJob }>) => {
  if (e.data.type === "stop") {
    stop.abort();
    return;
  }
  const job = e.data.job;
  const send = (m: VariantMessage) => self.postMessage(m);
  try {
    for (const m of job.imports) await import(m);
    await setBackend(job.backend);
    if (job.threads !== undefined) setCpuThreads(job.threads);
    const p = pipelineFromJSON(job.pipeline);
    const outcome = await runVariant(
      p,
      job,
      stop.signal,
      (event) => send({ type: "event", event }),
    );
    send({ type: "outcome", outcome });
  } catch (err) {
    if (err instanceof LossforgeError) {
      const path = (err as { path?: unknown }).path;
      send({
        type: "error",
        message: err.message,
        name: err.name,
        ...(typeof path === "string" ? { path } : {}),
      });
    } else {
      send({
        type: "error",
        message: err instanceof Error ? err.stack ?? err.message : String(err),
      });
    }
  }
};
