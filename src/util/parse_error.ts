/**
 * The one error class a parser of files throws about its input. The parsers of
 * safetensors files, config.json and tokenizer.json state each problem as a plain `Error`
 * whose message names the file and the field; at their public entry points such an error
 * becomes the library's `ValueError` (same message), so a program can tell bad input
 * (`instanceof LossforgeError`) from a bug (a `TypeError`, which passes unchanged).
 *
 * @module
 */

import { ValueError } from "../autograd/errors.ts";

/**
 * `e` as the library's error: a plain `Error` becomes a `ValueError` with its message (and
 * `e` as its cause); every other value is returned as it is.
 *
 * @example
 * ```ts
 * import { asValueError } from "./parse_error.ts";
 * const e = asValueError(new Error("config.json: hidden_size must be > 0, got 0"));
 * console.log((e as Error).name); // "ValueError"
 * ```
 */
export function asValueError(e: unknown): unknown {
  return e instanceof Error && e.constructor === Error
    ? new ValueError(e.message, { cause: e })
    : e;
}

/**
 * Runs a parser, its plain errors turned into `ValueError`s (see {@linkcode asValueError}).
 *
 * @example
 * ```ts
 * import { parsing } from "./parse_error.ts";
 * const n = parsing(() => JSON.parse("42") as number); // a SyntaxError would pass unchanged
 * console.log(n); // 42
 * ```
 */
export function parsing<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw asValueError(e);
  }
}

/**
 * The async form of {@linkcode parsing}.
 *
 * @example
 * ```ts
 * import { parsingAsync } from "./parse_error.ts";
 * const text = await parsingAsync(() => Promise.resolve("{}"));
 * console.log(text); // "{}"
 * ```
 */
export async function parsingAsync<T>(parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (e) {
    throw asValueError(e);
  }
}
