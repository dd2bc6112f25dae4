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
 * import { DataError } from "./errors.ts";
 * try {
 *   throw new DataError("train.jsonl:3: field \"answer\" is missing");
 * } catch (e) {
 *   if (e instanceof DataError) console.log(e.message);
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
