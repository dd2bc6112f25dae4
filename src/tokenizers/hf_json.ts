/**
 * The JSON shapes of a Hugging Face `tokenizer.json`, and the one way its typed components
 * (normalizer, pre-tokenizer, decoder, post-processor) are found by their `type` field.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";

/** A parsed JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A parsed JSON object. */
export type JsonObject = { [key: string]: Json };

/** Builds one component from its spec; `where` names the spec's place for error messages. */
export type ComponentBuilder<T> = (spec: JsonObject, where: string) => T;

/**
 * Builds the component that `spec` describes with the builder `table` holds for its `type`.
 * Errors name the component `kind`, `where` the spec sits, and the types the table knows (in
 * the table's order), so a type registered in the table is listed as supported at once.
 */
export function buildFromTable<T>(
  kind: string,
  table: Readonly<Record<string, ComponentBuilder<T>>>,
  spec: Json,
  where: string,
): T {
  if (!isObject<Json>(spec)) {
    throw new Error(`${where}: ${kind} must be an object, got ${show(spec)}`);
  }
  const t = spec.type;
  if (typeof t !== "string" || !Object.hasOwn(table, t)) {
    throw new Error(
      `${where}: unsupported ${kind} type ${show(t)} (supported: ${Object.keys(table).join(", ")})`,
    );
  }
  return table[t](spec, where);
}

/** The string field `field` of `spec`; errors name it and the value found. */
export function stringField(spec: JsonObject, field: string, where: string): string {
  const v = spec[field];
  if (typeof v !== "string") {
    throw new Error(`${where}: ${spec.type}.${field} must be a string, got ${show(v)}`);
  }
  return v;
}
