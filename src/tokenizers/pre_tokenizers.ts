/**
 * Pre-tokenizers of `tokenizer.json`: they cut the normalized text into the pieces the model
 * tokenizes one by one. Each `type` is one entry of {@linkcode PRE_TOKENIZERS}.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import { buildFromTable, type ComponentBuilder, type Json } from "./hf_json.ts";
import { escapeLiteral, translateRegex } from "./regex.ts";

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

/**
 * `text` cut at the matches of `re` (with `invert`, at the text between them), the pieces
 * kept, dropped or joined to a neighbour as `behavior` says; empty pieces are dropped.
 */
function splitWith(
  text: string,
  re: RegExp,
  behavior: SplitBehavior,
  invert: boolean,
): string[] {
  const pieces: [string, boolean][] = [];
  let prev = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index;
    const end = start + m[0].length;
    if (start === end) continue;
    if (prev !== start) pieces.push([text.slice(prev, start), invert]);
    pieces.push([text.slice(start, end), !invert]);
    prev = end;
  }
  if (prev < text.length) pieces.push([text.slice(prev), invert]);
  const out: string[] = [];
  switch (behavior) {
    case "Isolated":
      for (const [s] of pieces) out.push(s);
      break;
    case "Removed":
      for (const [s, isMatch] of pieces) if (!isMatch) out.push(s);
      break;
    case "MergedWithPrevious": {
      let prevWasMatch = true;
      for (const [s, isMatch] of pieces) {
        if (isMatch && out.length > 0 && !prevWasMatch) out[out.length - 1] += s;
        else out.push(s);
        prevWasMatch = isMatch;
      }
      break;
    }
    case "MergedWithNext": {
      let pending = "";
      for (const [s, isMatch] of pieces) {
        if (isMatch) {
          if (pending !== "") out.push(pending);
          pending = s;
        } else {
          out.push(pending + s);
          pending = "";
        }
      }
      if (pending !== "") out.push(pending);
      break;
    }
    case "Contiguous": {
      let prevWasMatch = false;
      for (const [s, isMatch] of pieces) {
        if (isMatch && prevWasMatch && out.length > 0) out[out.length - 1] += s;
        else out.push(s);
        prevWasMatch = isMatch;
      }
      break;
    }
  }
  return out.filter((s) => s.length > 0);
}

// ---------------------------------------------------------------------------------------

/** A pre-tokenizer step: text pieces in, text pieces out (byte-level mapping happens later). */
export type PreStep = (pieces: string[]) => string[];

/** A built pre-tokenizer: its steps in order, and whether a `ByteLevel` step is among them. */
export interface PreTokenizer {
  /** The steps, applied in order. */
  steps: PreStep[];
  /** Whether the pieces are byte-level BPE words (the model maps them through GPT-2's map). */
  byteLevel: boolean;
}

/**
 * The pre-tokenizers by `type`. A new type is one more entry: its builder gets the spec
 * object and where it sits (for error messages).
 */
export const PRE_TOKENIZERS: Record<string, ComponentBuilder<PreTokenizer>> = {
  ByteLevel(spec) {
    const addPrefix = spec.add_prefix_space === true;
    const useRegex = spec.use_regex !== false;
    const re = translateRegex(GPT2_SPLIT_PATTERN);
    const step: PreStep = (pieces) => {
      const out: string[] = [];
      for (let p of pieces) {
        if (addPrefix && !p.startsWith(" ")) p = " " + p;
        if (useRegex) out.push(...splitWith(p, re, "Isolated", false));
        else out.push(p);
      }
      return out;
    };
    return { steps: [step], byteLevel: true };
  },
  Split(spec, where) {
    const pat = spec.pattern;
    let re: RegExp;
    if (isObject<Json>(pat) && typeof pat.Regex === "string") re = translateRegex(pat.Regex);
    else if (isObject<Json>(pat) && typeof pat.String === "string") {
      re = new RegExp(escapeLiteral(pat.String), "gu");
    } else {
      throw new Error(
        `${where}: Split.pattern must be {"Regex": string} or {"String": string}, got ${show(pat)}`,
      );
    }
    const behavior = spec.behavior ?? "Isolated";
    if (!SPLIT_BEHAVIORS.includes(behavior as SplitBehavior)) {
      throw new Error(
        `${where}: unsupported Split.behavior ${show(behavior)} (supported: ${
          SPLIT_BEHAVIORS.join(", ")
        })`,
      );
    }
    const invert = spec.invert === true;
    const step: PreStep = (pieces) =>
      pieces.flatMap((p) => splitWith(p, re, behavior as SplitBehavior, invert));
    return { steps: [step], byteLevel: false };
  },
  Digits(spec) {
    const individual = spec.individual_digits === true;
    const re = individual ? /\p{N}/gu : /\p{N}+/gu;
    const step: PreStep = (pieces) => pieces.flatMap((p) => splitWith(p, re, "Isolated", false));
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
