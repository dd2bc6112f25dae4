/**
 * What a training run reports: one {@linkcode TrainEvent} per log interval (and per
 * evaluation), handed to `onEvent`, the progress display and the JSONL log.
 *
 * @module
 */

/**
 * One report from the runner. `loss` is the mean over the steps since the previous event
 * (non-finite steps skipped under `onNonFinite: "skip"` are left out of it).
 *
 * @example
 * ```ts
 * import { pipeline, train, type TrainEvent } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const losses: number[] = [];
 * await train(run, { progress: false, onEvent: (e: TrainEvent) => losses.push(e.loss) });
 * console.log(losses.length); // 1: one event per logEvery (10) steps, and one at the end
 * ```
 */
export interface TrainEvent {
  /** Optimizer steps done. */
  step: number;
  /** Steps the run will take. */
  totalSteps: number;
  /** Mean loss since the previous event. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Mean global gradient norm (before clipping) since the previous event. */
  gradNorm: number;
  /** Real (non-padding) tokens per second since the previous event. */
  tokensPerSecond: number;
  /** Seconds since the run began (a resumed run continues the count). */
  elapsed: number;
  /** Completed passes over the training data. */
  epoch: number;
  /** Steps skipped so far for a non-finite loss. */
  skipped: number;
  /** Evaluator metrics, on evaluation steps. */
  eval?: Record<string, number>;
  /** The checkpoint written at this step, if any. */
  checkpoint?: string;
}

/**
 * Appends events as JSON lines to a file (one `write` per event, so a crash loses at most
 * the line being written).
 *
 * @example
 * ```ts
 * import { EventLog } from "./events.ts";
 * const log = await EventLog.open("runs/demo/events.jsonl");
 * await log.write({ step: 1, loss: 2.5 });
 * log.close();
 * ```
 */
export class EventLog {
  readonly #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Opens `path` for appending (creating it and its folder). */
  static async open(path: string): Promise<EventLog> {
    const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
    if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    return new EventLog(await Deno.open(path, { append: true, create: true }));
  }

  /** Appends one JSON line. Non-finite numbers are written as strings (JSON has none). */
  async write(event: object): Promise<void> {
    const line = JSON.stringify(
      event,
      (_k, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    );
    const bytes = new TextEncoder().encode(line + "\n");
    let n = 0;
    while (n < bytes.length) n += await this.#file.write(bytes.subarray(n));
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}
