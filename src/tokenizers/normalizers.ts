/**
 * Normalizers of `tokenizer.json`: string-to-string maps applied to text before it is split
 * and tokenized. Each `type` is one entry of {@linkcode NORMALIZERS}.
 *
 * @module
 */

import { show } from "../util/show.ts";
import { buildFromTable, type ComponentBuilder, type Json } from "./hf_json.ts";

/** A normalizer: text in, normalized text out. */
export type Normalizer = (s: string) => string;

/** A Unicode normalization form as a normalizer builder. */
function unicodeForm(form: "NFC" | "NFD" | "NFKC" | "NFKD"): ComponentBuilder<Normalizer> {
  return () => (s) => s.normalize(form);
}

/**
 * The normalizers by `type`. A new type is one more entry: its builder gets the spec object
 * and where it sits (for error messages), and returns the map, or null for one that changes
 * nothing.
 */
export const NORMALIZERS: Record<string, ComponentBuilder<Normalizer | null>> = {
  NFC: unicodeForm("NFC"),
  NFD: unicodeForm("NFD"),
  NFKC: unicodeForm("NFKC"),
  NFKD: unicodeForm("NFKD"),
  Lowercase: () => (s) => s.toLowerCase(),
  Sequence(spec, where) {
    const list = spec.normalizers;
    if (!Array.isArray(list)) {
      throw new Error(`${where}: normalizer.normalizers must be an array, got ${show(list)}`);
    }
    const fns = list.map((n, i) => buildNormalizer(n, `${where}: normalizer.normalizers[${i}]`))
      .filter((f): f is Normalizer => f !== null);
    return (s) => fns.reduce((acc, f) => f(acc), s);
  },
};

/**
 * The normalizer a `tokenizer.json` `normalizer` spec describes, or null for none (null or
 * an absent field). `where` names the spec in error messages.
 */
export function buildNormalizer(spec: Json | undefined, where: string): Normalizer | null {
  if (spec === null || spec === undefined) return null;
  return buildFromTable("normalizer", NORMALIZERS, spec, where);
}
