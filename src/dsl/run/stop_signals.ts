/**
 * Stopping on a signal as job schedulers ask: Ctrl-C sends SIGINT, and Slurm, Kubernetes,
 * systemd and `docker stop` send SIGTERM (then SIGKILL after a grace period). The first
 * signal asks the run to stop at its next step boundary (with a checkpoint); the listener is
 * then removed, so a second signal takes the default action and ends the process at once,
 * even in the middle of a step.
 *
 * @module
 */

/**
 * A signal that stops a run.
 *
 * @example
 * ```ts
 * import { pipeline, type StopSignal, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const r = await train(run, { out: "runs/demo" });
 * const by: StopSignal | undefined = r.signal; // "SIGTERM" after `kill <pid>`
 * ```
 */
export type StopSignal = "SIGINT" | "SIGTERM";

/**
 * The exit code of a process stopped by `signal`, as a shell reports it: 128 + the signal's
 * number (130 for SIGINT, 143 for SIGTERM).
 *
 * @example
 * ```ts
 * import { signalExitCode } from "@lossforge/core";
 * console.log(signalExitCode("SIGINT"), signalExitCode("SIGTERM")); // 130 143
 * ```
 */
export function signalExitCode(signal: StopSignal): number {
  return signal === "SIGINT" ? 130 : 143;
}

/**
 * Calls `onStop` once, on the first SIGINT or SIGTERM, and stops listening then (so the next
 * signal ends the process). Returns a function that stops listening before any signal came.
 * SIGTERM is not heard on Windows, where Deno cannot listen for it.
 *
 * @example
 * ```ts
 * import { onStopSignal } from "./stop_signals.ts";
 * let stop = false;
 * const unlisten = onStopSignal((signal) => {
 *   console.error(`${signal}: stopping after this step`);
 *   stop = true;
 * });
 * try {
 *   for (let step = 0; step < 1000 && !stop; step++) await new Promise((r) => setTimeout(r, 1));
 * } finally {
 *   unlisten();
 * }
 * ```
 */
export function onStopSignal(onStop: (signal: StopSignal) => void): () => void {
  const signals: StopSignal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const listeners = signals.map((s) => [s, () => fire(s)] as const);
  let listening = true;
  const unlisten = () => {
    if (!listening) return;
    listening = false;
    for (const [s, l] of listeners) Deno.removeSignalListener(s, l);
  };
  const fire = (s: StopSignal) => {
    unlisten();
    onStop(s);
  };
  for (const [s, l] of listeners) Deno.addSignalListener(s, l);
  return unlisten;
}
