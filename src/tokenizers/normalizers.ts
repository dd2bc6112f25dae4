/**
 * Normalizers of `tokenizer.json`: string-to-string maps applied to text before it is split
 * and tokenized. Each `type` is one entry of {@linkcode NORMALIZERS}.
 *
 * Besides the text, a normalizer passes on whether the first character of its output still
 * stands at the first character of its input: Hugging Face keeps an alignment to the original
 * text, and the `Metaspace` pre-tokenizer with `prepend_scheme: "first"` prepends its marker
 * only to a piece that starts where the original text starts (so `Strip` of leading spaces,
 * or a `Replace` that deletes the first characters, turns that prepend off).
 *
 * @module
 */

import { show } from "../util/show.ts";
import { buildFromTable, type ComponentBuilder, type Json, stringField } from "./hf_json.ts";
import { byteLevelEncode } from "./byte_level.ts";
import { findMatches, patternRegex, WHITESPACE_CLASS } from "./regex.ts";

/** Normalized text, and whether its first char still stands at the input's first char. */
export interface NormalizedText {
  /** The text. */
  text: string;
  /** Whether the text's first char is aligned with the first char of the original text. */
  atStart: boolean;
}

/** A normalizer: text in, normalized text out. */
export type Normalizer = (s: NormalizedText) => NormalizedText;

/** A normalizer that maps the text and keeps the start where it is. */
function textMap(f: (s: string) => string): Normalizer {
  return (s) => ({ text: f(s.text), atStart: s.atStart });
}

/** A Unicode normalization form as a normalizer builder. */
function unicodeForm(form: "NFC" | "NFD" | "NFKC" | "NFKD"): ComponentBuilder<Normalizer> {
  return () => textMap((s) => s.normalize(form));
}

/** `text` with every match of `re` replaced by `content` (Hugging Face's match rules). */
export function replaceAll(text: string, re: RegExp, content: string): string {
  let out = "";
  for (const [s, e, isMatch] of findMatches(text, re)) out += isMatch ? content : text.slice(s, e);
  return out;
}

const LEADING_WS = new RegExp(`^${WHITESPACE_CLASS}+`, "u");
const TRAILING_WS = new RegExp(`${WHITESPACE_CLASS}+$`, "u");

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
  /** Each char lowercased on its own (a final sigma is `σ`, as in Rust, not `ς`). */
  Lowercase: () => textMap((s) => s.replace(/[A-Z]+|[^ -~]/gu, (c) => c.toLowerCase())),
  /** `prepend` before a non-empty text (the prepended chars stand at the text's start). */
  Prepend(spec, where) {
    const prepend = stringField(spec, "prepend", where);
    return textMap((s) => (s.length > 0 ? prepend + s : s));
  },
  /** Each match of `pattern` replaced by `content`; deleting the first chars moves the start. */
  Replace(spec, where) {
    const re = patternRegex(spec.pattern, where, "Replace.pattern");
    const content = stringField(spec, "content", where);
    return (s) => {
      let atStart = s.atStart;
      if (content === "" && atStart) {
        const first = findMatches(s.text, re)[0];
        if (first[2] && first[1] > first[0]) atStart = false;
      }
      return { text: replaceAll(s.text, re, content), atStart };
    };
  },
  /** Leading and/or trailing Unicode whitespace removed (`strip_left`, `strip_right`). */
  Strip(spec) {
    const left = spec.strip_left === true;
    const right = spec.strip_right === true;
    return (s) => {
      let text = s.text;
      let atStart = s.atStart;
      if (left) {
        const lead = LEADING_WS.exec(text);
        if (lead) {
          text = text.slice(lead[0].length);
          atStart = false;
        }
      }
      if (right) text = text.replace(TRAILING_WS, "");
      return { text, atStart };
    };
  },
  /** Each UTF-8 byte as its GPT-2 byte-level char. */
  ByteLevel: () => textMap(byteLevelEncode),
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
