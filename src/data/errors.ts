/**
 * Errors raised by the data loaders.
 *
 * @module
 */
import { LossforgeError } from "../autograd/errors.ts";

/**
 * An error in input data or its location: a malformed JSONL line, a missing file or folder, a
 * checksum mismatch. The message names the file (and line, where there is one) and the
 * offending value.
 *
 * @example
 * ```ts
 * import { DataError, gsm8k } from "@lossforge/core";
 * try {
 *   await gsm8k({ path: "data/gsm8k", split: "train" });
 * } catch (e) {
 *   // A data problem, not a bug: say so and how to fix it.
 *   if (e instanceof DataError) console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export class DataError extends LossforgeError {
  /**
   * Makes a data error.
   *
   * @param message What is wrong, starting with `path:line:` where it applies.
   * @param options Standard error options (a `cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
  }
}
