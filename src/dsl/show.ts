/**
 * How error messages print offending values: short, JSON-like, never throwing.
 *
 * @module
 */

/**
 * A short rendering of `value` for messages: strings quoted, functions named, long
 * values cut at 60 characters.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * console.log(show(-1), show("x"), show(undefined)); // -1 "x" undefined
 * ```
 */
export function show(value: unknown): string {
  let s: string;
  if (typeof value === "function") s = "a function";
  else if (typeof value === "number" || value === undefined) s = String(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}
