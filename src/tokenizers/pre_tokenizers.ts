/**
 * Pre-tokenizers of `tokenizer.json`: they cut the normalized text into the pieces the model
 * tokenizes one by one. Each `type` is one entry of {@linkcode PRE_TOKENIZERS}.
 *
 * @module
 */

import { show } from "../util/show.ts";
import { byteLevelEncode } from "./byte_level.ts";
import { buildFromTable, type ComponentBuilder, type Json, type JsonObject } from "./hf_json.ts";
import {
  escapeLiteral,
  findMatches,
  patternRegex,
  translateRegex,
  WHITESPACE_CLASS,
} from "./regex.ts";

/**
 * The GPT-2 / HF `ByteLevel` pre-tokenizer split pattern (Python regex syntax, as
 * `tokenizer.json` files write it).
 *
 * @example
 * ```ts
 * import { GPT2_SPLIT_PATTERN } from "@lossforge/core";
 * // The pattern is also valid JavaScript with the `u` flag: the pieces GPT-2 tokenizes.
 * console.log("I'm 42!".match(new RegExp(GPT2_SPLIT_PATTERN, "gu"))); // ["I", "'m", " 42", "!"]
 * ```
 */
export const GPT2_SPLIT_PATTERN: string =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type SplitBehavior =
  | "Removed"
  | "Isolated"
  | "MergedWithPrevious"
  | "MergedWithNext"
  | "Contiguous";

const SPLIT_BEHAVIORS: readonly SplitBehavior[] = [
  "Removed",
  "Isolated",
  "MergedWithPrevious",
  "MergedWithNext",
  "Contiguous",
];

/** The `behavior` field of a spec (absent: `Isolated`); errors list the accepted values. */
function splitBehavior(spec: JsonObject, where: string): SplitBehavior {
  const behavior = spec.behavior ?? "Isolated";
  if (SPLIT_BEHAVIORS.includes(behavior as SplitBehavior)) return behavior as SplitBehavior;
  throw new Error(
    `${where}: unsupported ${spec.type}.behavior ${show(behavior)} (supported: ${
      SPLIT_BEHAVIORS.join(", ")
    })`,
  );
}

/**
 * A piece of text on its way to the model, and whether it starts where the original text
 * starts (`Metaspace` with `prepend_scheme: "first"` prepends only there).
 */
export interface Piece {
  /** The piece's text. */
  text: string;
  /** Whether the piece starts at the original text's first char. */
  atStart: boolean;
}

/**
 * `piece` cut at the matches of `re` (with `invert`, at the text between them), the pieces
 * kept, dropped or joined to a neighbour as `behavior` says (Hugging Face's rules, in
 * `NormalizedString::split`); empty pieces are dropped.
 */
function splitWith(piece: Piece, re: RegExp, behavior: SplitBehavior, invert: boolean): Piece[] {
  const text = piece.text;
  const matches = findMatches(text, re);
  if (invert) { for (const m of matches) m[2] = !m[2]; }
  // [start, end, removed]
  const spans: [number, number, boolean][] = [];
  let prevMatch = false;
  switch (behavior) {
    case "Isolated":
      for (const [s, e] of matches) spans.push([s, e, false]);
      break;
    case "Removed":
      for (const [s, e, isMatch] of matches) spans.push([s, e, isMatch]);
      break;
    case "Contiguous":
      for (const [s, e, isMatch] of matches) {
        if (isMatch === prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e, false]);
        prevMatch = isMatch;
      }
      break;
    case "MergedWithPrevious":
      for (const [s, e, isMatch] of matches) {
        if (isMatch && !prevMatch && spans.length > 0) spans[spans.length - 1][1] = e;
        else spans.push([s, e, false]);
        prevMatch = isMatch;
      }
      break;
    case "MergedWithNext":
      for (let i = matches.length - 1; i >= 0; i--) {
        const [s, e, isMatch] = matches[i];
        if (isMatch && !prevMatch && spans.length > 0) spans[spans.length - 1][0] = s;
        else spans.push([s, e, false]);
        prevMatch = isMatch;
      }
      spans.reverse();
      break;
  }
  const out: Piece[] = [];
  for (const [s, e, removed] of spans) {
    if (removed || e <= s) continue;
    out.push({ text: text.slice(s, e), atStart: piece.atStart && s === 0 });
  }
  return out;
}

/** A step that cuts every piece with {@linkcode splitWith}. */
function splitStep(re: RegExp, behavior: SplitBehavior, invert = false): PreStep {
  return (pieces) => pieces.flatMap((p) => splitWith(p, re, behavior, invert));
}

/**
 * Punctuation as Hugging Face's `Punctuation` pre-tokenizer sees it: Rust's ASCII
 * punctuation (which counts `$+<=>^`|~` among it) or a Unicode `P*` char.
 */
const PUNCTUATION = /[\p{P}!-\/:-@\[-`{-~]/gu;

// ---------------------------------------------------------------------------------------

/** A pre-tokenizer step: text pieces in, text pieces out. */
export type PreStep = (pieces: Piece[]) => Piece[];

/** A built pre-tokenizer: its steps in order, and whether a `ByteLevel` step is among them. */
export interface PreTokenizer {
  /** The steps, applied in order. */
  steps: PreStep[];
  /** Whether the pieces are byte-level BPE words (mapped through GPT-2's map). */
  byteLevel: boolean;
}

/** The replacement char of a `Metaspace` spec (one code point; default `▁`). */
export function metaspaceReplacement(spec: JsonObject, where: string): string {
  const r = spec.replacement ?? "\u2581";
  if (typeof r !== "string" || [...r].length !== 1) {
    throw new Error(`${where}: Metaspace.replacement must be one character, got ${show(r)}`);
  }
  return r;
}

/** The `prepend_scheme` of a `Metaspace` spec, reading the older `add_prefix_space` too. */
export function metaspaceScheme(spec: JsonObject, where: string): "always" | "first" | "never" {
  const scheme = spec.prepend_scheme ?? "always";
  if (scheme !== "always" && scheme !== "first" && scheme !== "never") {
    throw new Error(
      `${where}: unsupported Metaspace.prepend_scheme ${
        show(scheme)
      } (supported: always, first, never)`,
    );
  }
  if (spec.add_prefix_space === false) {
    if (scheme !== "never" && spec.prepend_scheme !== undefined) {
      throw new Error(
        `${where}: Metaspace.add_prefix_space false does not match prepend_scheme ${show(scheme)}`,
      );
    }
    return "never";
  }
  return scheme;
}

/**
 * The pre-tokenizers by `type`. A new type is one more entry: its builder gets the spec
 * object and where it sits (for error messages).
 */
export const PRE_TOKENIZERS: Record<string, ComponentBuilder<PreTokenizer>> = {
  /**
   * GPT-2's split (unless `use_regex` is false) after an optional prefix space, then each
   * piece's UTF-8 bytes as byte-level chars, so later steps and the model see those chars.
   */
  ByteLevel(spec) {
    const addPrefix = spec.add_prefix_space === true;
    const useRegex = spec.use_regex !== false;
    const re = translateRegex(GPT2_SPLIT_PATTERN);
    const step: PreStep = (pieces) => {
      const out: Piece[] = [];
      for (const p of pieces) {
        const q = addPrefix && !p.text.startsWith(" ") ? { ...p, text: " " + p.text } : p;
        for (const r of useRegex ? splitWith(q, re, "Isolated", false) : [q]) {
          out.push({ text: byteLevelEncode(r.text), atStart: r.atStart });
        }
      }
      return out;
    };
    return { steps: [step], byteLevel: true };
  },
  Split(spec, where) {
    const re = patternRegex(spec.pattern, where, "Split.pattern");
    return {
      steps: [splitStep(re, splitBehavior(spec, where), spec.invert === true)],
      byteLevel: false,
    };
  },
  /** Numbers cut out: each digit alone with `individual_digits`, else runs of digits. */
  Digits(spec) {
    const individual = spec.individual_digits === true;
    return {
      steps: [splitStep(/\p{N}/gu, individual ? "Isolated" : "Contiguous")],
      byteLevel: false,
    };
  },
  /** Punctuation chars cut out as `behavior` says (default `Isolated`). */
  Punctuation(spec, where) {
    return { steps: [splitStep(PUNCTUATION, splitBehavior(spec, where))], byteLevel: false };
  },
  /** Whitespace-separated words (Unicode White_Space), the whitespace dropped. */
  WhitespaceSplit() {
    return {
      steps: [splitStep(new RegExp(WHITESPACE_CLASS, "gu"), "Removed")],
      byteLevel: false,
    };
  },
  /**
   * SentencePiece's word marker: every space becomes `replacement` (default `▁`), which is
   * also prepended as `prepend_scheme` says (`always`: to each piece; `first`: only to the
   * piece at the text's start; `never`), then, with `split` (default true), the text is cut
   * before each marker.
   */
  Metaspace(spec, where) {
    const rep = metaspaceReplacement(spec, where);
    const scheme = metaspaceScheme(spec, where);
    const split = spec.split !== false;
    const markerRe = new RegExp(escapeLiteral(rep), "gu");
    const step: PreStep = (pieces) => {
      const out: Piece[] = [];
      for (const p of pieces) {
        let text = p.text.replaceAll(" ", rep);
        const prepend = scheme === "always" || (scheme === "first" && p.atStart);
        if (prepend && text.length > 0 && !text.startsWith(rep)) text = rep + text;
        const q = { text, atStart: p.atStart };
        if (split) out.push(...splitWith(q, markerRe, "MergedWithNext", false));
        else if (text.length > 0) out.push(q);
      }
      return out;
    };
    return { steps: [step], byteLevel: false };
  },
  Sequence(spec, where) {
    const list = spec.pretokenizers;
    if (!Array.isArray(list)) {
      throw new Error(
        `${where}: pre_tokenizer.pretokenizers must be an array, got ${show(list)}`,
      );
    }
    const parts = list.map((p, i) => buildPreTokenizer(p, `${where}.pretokenizers[${i}]`));
    return { steps: parts.flatMap((p) => p.steps), byteLevel: parts.some((p) => p.byteLevel) };
  },
};

/**
 * The pre-tokenizer a `tokenizer.json` `pre_tokenizer` spec describes (none for null or an
 * absent field). `where` names the spec in error messages.
 */
export function buildPreTokenizer(spec: Json | undefined, where: string): PreTokenizer {
  if (spec === null || spec === undefined) return { steps: [], byteLevel: false };
  return buildFromTable("pre_tokenizer", PRE_TOKENIZERS, spec, where);
}
