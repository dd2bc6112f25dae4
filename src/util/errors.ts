/**
 * The error of a file or folder that cannot be used, shared by the atomic writes in
 * `src/util` and the run folders of `src/dsl`.
 *
 * @module
 */

import { LossforgeError } from "../autograd/errors.ts";

/**
 * A run folder that cannot be used: another run holds its lock, or one of its files (a
 * checkpoint, the event log, a result) cannot be written (a full disk, no permission).
 * `path` names the file or folder.
 *
 * @example
 * ```ts
 * import { pipeline, RunFolderError, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * try {
 *   await train(run, { out: "runs/busy" });
 * } catch (e) {
 *   if (!(e instanceof RunFolderError)) throw e;
 *   console.log(e.path, e.message); // "runs/busy/run.lock" "runs/busy is in use by ..."
 * }
 * ```
 */
export class RunFolderError extends LossforgeError {
  /** The file or folder that could not be used. */
  readonly path: string;

  /** Makes the error. */
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RunFolderError";
    this.path = path;
  }
}
