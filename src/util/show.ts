/**
 * How error messages print offending values, and the one plain-object test that parsers
 * of JSON files (config.json, tokenizer.json, safetensors headers, pipelines) share.
 *
 * @module
 */

/**
 * A short rendering of `value` for messages: JSON-like (strings quoted), functions named,
 * never throwing, cut at `max` characters with `...`.
 *
 * @example
 * ```ts
 * import { show } from "./show.ts";
 * console.log(show(-1), show("x"), show(undefined)); // -1 "x" undefined
 * ```
 */
export function show(value: unknown, max = 120): string {
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
  return s.length > max ? s.slice(0, max - 3) + "..." : s;
}

/**
 * Whether `v` is a plain JSON object (not null, not an array). `T` names what its values
 * are known to be (for a tree parsed by `JSON.parse`, the JSON value type).
 *
 * @example
 * ```ts
 * import { isObject } from "./show.ts";
 * console.log(isObject({ a: 1 }), isObject([1]), isObject(null)); // true false false
 * ```
 */
export function isObject<T = unknown>(v: unknown): v is Record<string, T> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
