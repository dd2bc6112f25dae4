/**
 * Hugging Face byte-level BPE tokenizer, loaded from a `tokenizer.json` object.
 *
 * Supports `model.type: "BPE"` with `vocab` and `merges` (strings `"a b"` or pairs
 * `["a", "b"]`), the GPT-2 byte-to-unicode map, the `ByteLevel`, `Split`, `Digits` and
 * `Sequence` pre-tokenizers (the layouts used by GPT-2, Llama-3, SmolLM and Qwen2), the
 * `NFC`/`NFD`/`NFKC`/`NFKD`/`Lowercase`/`Sequence` normalizers, `added_tokens` (matched
 * before BPE), `ignore_merges`, `byte_fallback`, an optional `TemplateProcessing` post
 * processor, and a per-word BPE cache.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";

/**
 * Options for {@linkcode BpeTokenizer.encode}.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * const ids = tok.encode("Hi", { addSpecialTokens: true }); // e.g. BOS first for Llama-3
 * ```
 */
export interface EncodeOptions {
  /**
   * Apply the tokenizer's `TemplateProcessing` post processor (e.g. prepend BOS for
   * Llama-3). Defaults to `false`; post processors of other types add nothing.
   */
  addSpecialTokens?: boolean;
}

/**
 * Options for {@linkcode BpeTokenizer.decode}.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * tok.decode([0, 50, 86], { skipSpecial: true }); // drops <|endoftext|>
 * ```
 */
export interface DecodeOptions {
  /** Drop ids of added tokens marked `special: true`. Defaults to `false`. */
  skipSpecial?: boolean;
}

/**
 * A byte-level BPE tokenizer. Structurally compatible with the data pipeline's
 * `Tokenizer` interface (`vocabSize`, `encode`, `decode`, `eos`, `pad`, `bos?`).
 *
 * @example
 * ```ts
 * const tok: BpeTokenizer = await loadTokenizer("models/tiny-llama-hf/tokenizer.json");
 * const ids = tok.encode("Hello world");
 * console.log(tok.decode(ids)); // "Hello world"
 * ```
 */
export interface BpeTokenizer {
  /** One more than the largest token id (vocab and added tokens). */
  readonly vocabSize: number;
  /** End-of-sequence token id. */
  readonly eos: number;
  /** Padding token id (falls back to {@linkcode BpeTokenizer.eos}). */
  readonly pad: number;
  /** Beginning-of-sequence token id, if the tokenizer has one. */
  readonly bos?: number;
  /** Encode text to token ids (no special tokens are added unless asked for). */
  encode(text: string, options?: EncodeOptions): number[];
  /** Decode token ids to text; special tokens are kept as their text by default. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The id of a token string (vocab or added token), or `undefined`. */
  tokenToId(token: string): number | undefined;
  /** The token string of an id, or `undefined` if the id is unknown. */
  idToToken(id: number): string | undefined;
}

/**
 * Special-token information as found in `tokenizer_config.json` (token strings, possibly
 * serialized `AddedToken` objects with a `content` field) and/or `config.json` /
 * `generation_config.json` (`*_token_id`, where `eos_token_id` may be a list).
 *
 * @example
 * ```ts
 * const special: TokenizerSpecialConfig = { eos_token: "<|im_end|>", pad_token_id: 0 };
 * const json = JSON.parse(await Deno.readTextFile("tokenizer.json"));
 * const tok = bpeTokenizerFromJSON(json, special);
 * ```
 */
export interface TokenizerSpecialConfig {
  /** BOS token text, or an AddedToken-like object `{ content }`. */
  bos_token?: string | { content: string } | null;
  /** EOS token text, or an AddedToken-like object `{ content }`. */
  eos_token?: string | { content: string } | null;
  /** PAD token text, or an AddedToken-like object `{ content }`. */
  pad_token?: string | { content: string } | null;
  /** BOS token id. */
  bos_token_id?: number | null;
  /** EOS token id (the first entry is used for a list). */
  eos_token_id?: number | number[] | null;
  /** PAD token id. */
  pad_token_id?: number | null;
}

// ---------------------------------------------------------------------------------------
// JSON shape helpers

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---------------------------------------------------------------------------------------
// GPT-2 byte <-> unicode map

const BYTE_TO_CHAR: string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) {
      table[b] = String.fromCharCode(256 + n);
      n++;
    }
  }
  return table;
})();

const CHAR_TO_BYTE: Map<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const UTF8_ENCODER = new TextEncoder();

/**
 * Map a string's UTF-8 bytes through the GPT-2 byte-to-unicode table.
 *
 * @example
 * ```ts
 * byteLevelEncode(" hi"); // "Ġhi"
 * ```
 */
export function byteLevelEncode(text: string): string {
  const bytes = UTF8_ENCODER.encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Invert {@linkcode byteLevelEncode} for one token: its chars back to bytes. Returns
 * `undefined` when a char is not in the byte-level alphabet.
 *
 * @example
 * ```ts
 * byteLevelDecodeToken("Ġhi"); // Uint8Array [32, 104, 105]
 * ```
 */
export function byteLevelDecodeToken(token: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------
// Python / Rust (onig) regex -> JS regex translation

/** Unicode White_Space, as onig's `\s` sees it (JS `\s` lacks U+0085, adds U+FEFF). */
const WS_CLASS_BODY = "\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/**
 * The GPT-2 / HF `ByteLevel` pre-tokenizer split pattern.
 *
 * @example
 * ```ts
 * " hello world".match(translateRegex(GPT2_SPLIT_PATTERN)); // [" hello", " world"]
 * ```
 */
export const GPT2_SPLIT_PATTERN: string =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

function propertyEscape(neg: boolean, name: string): string {
  const p = neg ? "P" : "p";
  for (const cand of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\${p}{${cand}}`, "u");
      return `\\${p}{${cand}}`;
    } catch {
      // try the next spelling
    }
  }
  throw new Error(`unsupported unicode property \\${p}{${name}} in regex`);
}

/** Whether this JS engine supports `(?i:...)` regexp modifiers natively. */
const NATIVE_MODIFIERS: boolean = (() => {
  try {
    return new RegExp("(?i:a)b", "u").test("Ab");
  } catch {
    return false;
  }
})();

/** Extra simple case folds of ASCII letters (for engines without regexp modifiers). */
const EXTRA_FOLDS: Record<string, string> = { s: "\u017F", k: "\u212A", "\u00E5": "\u212B" };

function caseVariants(ch: string): string[] {
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  const out = [ch];
  const extra = EXTRA_FOLDS[lo];
  for (const v of [lo, up, ...(extra ? [extra] : [])]) {
    if ([...v].length === 1 && !out.includes(v)) out.push(v);
  }
  return out;
}

function escapeClassChar(ch: string): string {
  return /[\\\]\[^-]/.test(ch) ? "\\" + ch : ch;
}

function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/**
 * Translate a Python/Rust/onig regular expression (as found in `tokenizer.json`) into a
 * JS `RegExp` with the `u` and `g` flags. Handles `(?i:...)` groups (expanded to explicit
 * case classes), `\s`/`\S` (onig's White_Space set), `\p{Script}` names, `\x{HHHH}`,
 * `\A`/`\z`, `(?P<name>...)`, atomic groups and possessive quantifiers (approximated).
 * `(?i:...)` is kept as a native modifier group where the engine supports it, unless
 * `options.nativeModifiers` is `false`.
 *
 * @example
 * ```ts
 * const re = translateRegex("(?i:'s|'t)|\\p{L}+");
 * "It'S".match(re); // ["It", "'S"]
 * ```
 */
export function translateRegex(
  pattern: string,
  options: { nativeModifiers?: boolean } = {},
): RegExp {
  const native = options.nativeModifiers ?? NATIVE_MODIFIERS;
  const chars = [...pattern];
  let out = "";
  let inClass = false;
  // stack of groups: whether each group turned case-insensitivity on
  const groupCi: boolean[] = [];
  let ciDepth = 0;
  let lastWasQuantifier = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const ci = ciDepth > 0;
    if (c === "\\") {
      const n = chars[i + 1];
      if (n === undefined) throw new Error(`regex ${show(pattern)} ends with a backslash`);
      i++;
      lastWasQuantifier = false;
      if (n === "s") {
        out += inClass ? WS_CLASS_BODY : `[${WS_CLASS_BODY}]`;
      } else if (n === "S") {
        out += inClass ? "\\S" : `[^${WS_CLASS_BODY}]`;
      } else if (n === "p" || n === "P") {
        if (chars[i + 1] === "{") {
          const end = chars.indexOf("}", i + 2);
          if (end < 0) throw new Error(`regex ${show(pattern)}: unterminated \\${n}{`);
          let name = chars.slice(i + 2, end).join("");
          let neg = n === "P";
          if (name.startsWith("^")) {
            neg = !neg;
            name = name.slice(1);
          }
          out += propertyEscape(neg, name);
          i = end;
        } else {
          const name = chars[i + 1];
          if (name === undefined) throw new Error(`regex ${show(pattern)}: dangling \\${n}`);
          out += propertyEscape(n === "P", name);
          i++;
        }
      } else if (n === "x" && chars[i + 1] === "{") {
        const end = chars.indexOf("}", i + 2);
        if (end < 0) throw new Error(`regex ${show(pattern)}: unterminated \\x{`);
        out += `\\u{${chars.slice(i + 2, end).join("")}}`;
        i = end;
      } else if (n === "A" && !inClass) {
        out += "^";
      } else if ((n === "z" || n === "Z") && !inClass) {
        out += "$";
      } else if (/[dDwWbBnrtfv0-9xuck]/.test(n)) {
        out += "\\" + n;
      } else if (/[\\^$.*+?()[\]{}|/]/.test(n) || (inClass && n === "-")) {
        out += "\\" + n;
      } else if (ci && !inClass && /\p{L}/u.test(n)) {
        const v = caseVariants(n);
        out += v.length > 1 ? `[${v.map(escapeClassChar).join("")}]` : n;
      } else {
        out += inClass ? escapeClassChar(n) : escapeLiteral(n);
      }
      continue;
    }
    if (inClass) {
      if (c === "]") {
        inClass = false;
        out += "]";
        lastWasQuantifier = false;
        continue;
      }
      if (ci && /\p{L}/u.test(c)) {
        // a range like a-z: add the other-case range as well
        if (chars[i + 1] === "-" && chars[i + 2] !== undefined && chars[i + 2] !== "]") {
          const hi = chars[i + 2];
          out += `${escapeClassChar(c)}-${escapeClassChar(hi)}`;
          const lo2 = c.toLowerCase(), hi2 = hi.toLowerCase();
          const lo3 = c.toUpperCase(), hi3 = hi.toUpperCase();
          if ([...lo2].length === 1 && [...hi2].length === 1 && (lo2 !== c || hi2 !== hi)) {
            out += `${escapeClassChar(lo2)}-${escapeClassChar(hi2)}`;
          }
          if ([...lo3].length === 1 && [...hi3].length === 1 && (lo3 !== c || hi3 !== hi)) {
            out += `${escapeClassChar(lo3)}-${escapeClassChar(hi3)}`;
          }
          i += 2;
          continue;
        }
        out += caseVariants(c).map(escapeClassChar).join("");
        continue;
      }
      out += c;
      continue;
    }
    // outside a class
    if (c === "[") {
      inClass = true;
      out += "[";
      if (chars[i + 1] === "^") {
        out += "^";
        i++;
      }
      if (chars[i + 1] === "]") {
        out += "\\]";
        i++;
      }
      lastWasQuantifier = false;
      continue;
    }
    if (c === "(") {
      lastWasQuantifier = false;
      if (chars[i + 1] === "?") {
        const rest = chars.slice(i + 2, i + 12).join("");
        const mod = /^([imsx]*)(?:-([imsx]*))?([:)])/.exec(rest);
        if (rest.startsWith("P<")) {
          out += "(?<";
          i += 3;
          groupCi.push(false);
          continue;
        }
        if (rest.startsWith("P=")) {
          const end = chars.indexOf(")", i);
          out += `\\k<${chars.slice(i + 4, end).join("")}>`;
          i = end;
          continue;
        }
        if (rest.startsWith(">")) {
          out += "(?:";
          i += 2;
          groupCi.push(false);
          continue;
        }
        if (mod && (mod[1] !== "" || mod[2] !== undefined)) {
          const on = mod[1], off = mod[2] ?? "";
          for (const f of on + off) {
            if (f !== "i") {
              throw new Error(`regex ${show(pattern)}: unsupported inline flag (?${on}-${off})`);
            }
          }
          if (mod[3] === ")") {
            throw new Error(`regex ${show(pattern)}: unsupported global inline flag group`);
          }
          if (native) {
            groupCi.push(false);
            out += mod[2] === undefined ? `(?${on}:` : `(?${on}-${off}:`;
            i += 1 + mod[0].length;
            continue;
          }
          const turnsOn = on.includes("i");
          if (off.includes("i") && ciDepth > 0) {
            throw new Error(`regex ${show(pattern)}: (?-i:...) inside (?i:...) is unsupported`);
          }
          groupCi.push(turnsOn);
          if (turnsOn) ciDepth++;
          out += "(?:";
          i += 1 + mod[0].length;
          continue;
        }
      }
      groupCi.push(false);
      out += "(";
      continue;
    }
    if (c === ")") {
      if (groupCi.pop()) ciDepth--;
      out += ")";
      lastWasQuantifier = false;
      continue;
    }
    if (c === "*" || c === "+" || c === "?") {
      if (lastWasQuantifier && c === "+") {
        lastWasQuantifier = false; // possessive quantifier: approximate as greedy
        continue;
      }
      out += c;
      lastWasQuantifier = c !== "?" || !lastWasQuantifier;
      continue;
    }
    if (c === "{") {
      const m = /^\{\d+(,\d*)?\}/.exec(chars.slice(i, i + 24).join(""));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
        lastWasQuantifier = true;
      } else {
        out += "\\{";
        lastWasQuantifier = false;
      }
      continue;
    }
    lastWasQuantifier = false;
    if (c === "}") {
      out += "\\}";
      continue;
    }
    if (c === "/") {
      out += "\\/";
      continue;
    }
    if (ci && /\p{L}/u.test(c)) {
      const v = caseVariants(c);
      out += v.length > 1 ? `[${v.map(escapeClassChar).join("")}]` : c;
      continue;
    }
    out += c;
  }
  if (inClass) throw new Error(`regex ${show(pattern)}: unterminated character class`);
  try {
    return new RegExp(out, "gu");
  } catch (e) {
    throw new Error(
      `regex ${show(pattern)} could not be translated to JS (${show(out)}): ${
        (e as Error).message
      }`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Splitting

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
// Normalizers and pre-tokenizers

type Normalizer = (s: string) => string;
/** A pre-tokenizer step: text pieces in, text pieces out (byte-level mapping happens later). */
type PreStep = (pieces: string[]) => string[];

function buildNormalizer(spec: Json | undefined, where: string): Normalizer | null {
  if (spec === null || spec === undefined) return null;
  if (!isObject<Json>(spec)) {
    throw new Error(`${where}: normalizer must be an object, got ${show(spec)}`);
  }
  const t = spec.type;
  switch (t) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return (s) => s.normalize(t);
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Sequence": {
      const list = spec.normalizers;
      if (!Array.isArray(list)) {
        throw new Error(`${where}: normalizer.normalizers must be an array, got ${show(list)}`);
      }
      const fns = list.map((n, i) => buildNormalizer(n, `${where}: normalizer.normalizers[${i}]`))
        .filter((f): f is Normalizer => f !== null);
      return (s) => fns.reduce((acc, f) => f(acc), s);
    }
    default:
      throw new Error(
        `${where}: unsupported normalizer type ${
          show(t)
        } (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)`,
      );
  }
}

interface PreTokenizerInfo {
  steps: PreStep[];
  byteLevel: boolean;
}

function buildPreTokenizer(spec: Json | undefined, where: string, info: PreTokenizerInfo): void {
  if (spec === null || spec === undefined) return;
  if (!isObject<Json>(spec)) {
    throw new Error(`${where}: pre_tokenizer must be an object, got ${show(spec)}`);
  }
  const t = spec.type;
  switch (t) {
    case "Sequence": {
      const list = spec.pretokenizers;
      if (!Array.isArray(list)) {
        throw new Error(
          `${where}: pre_tokenizer.pretokenizers must be an array, got ${show(list)}`,
        );
      }
      list.forEach((p, i) => buildPreTokenizer(p, `${where}.pretokenizers[${i}]`, info));
      return;
    }
    case "ByteLevel": {
      info.byteLevel = true;
      const addPrefix = spec.add_prefix_space === true;
      const useRegex = spec.use_regex !== false;
      const re = translateRegex(GPT2_SPLIT_PATTERN);
      info.steps.push((pieces) => {
        const out: string[] = [];
        for (let p of pieces) {
          if (addPrefix && !p.startsWith(" ")) p = " " + p;
          if (useRegex) out.push(...splitWith(p, re, "Isolated", false));
          else out.push(p);
        }
        return out;
      });
      return;
    }
    case "Split": {
      const pat = spec.pattern;
      let re: RegExp;
      if (isObject<Json>(pat) && typeof pat.Regex === "string") re = translateRegex(pat.Regex);
      else if (isObject<Json>(pat) && typeof pat.String === "string") {
        re = new RegExp(escapeLiteral(pat.String), "gu");
      } else {
        throw new Error(
          `${where}: Split.pattern must be {"Regex": string} or {"String": string}, got ${
            show(pat)
          }`,
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
      info.steps.push((pieces) =>
        pieces.flatMap((p) => splitWith(p, re, behavior as SplitBehavior, invert))
      );
      return;
    }
    case "Digits": {
      const individual = spec.individual_digits === true;
      const re = individual ? /\p{N}/gu : /\p{N}+/gu;
      info.steps.push((pieces) => pieces.flatMap((p) => splitWith(p, re, "Isolated", false)));
      return;
    }
    default:
      throw new Error(
        `${where}: unsupported pre_tokenizer type ${
          show(t)
        } (supported: ByteLevel, Split, Digits, Sequence)`,
      );
  }
}

// ---------------------------------------------------------------------------------------
// Added tokens

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  normalized: boolean;
}

/** A matcher that splits text around added tokens (leftmost, then longest). */
class AddedTokenMatcher {
  readonly #byFirst = new Map<string, AddedToken[]>();
  constructor(tokens: AddedToken[]) {
    for (const t of tokens) {
      if (t.content.length === 0) continue;
      const first = String.fromCodePoint(t.content.codePointAt(0)!);
      const list = this.#byFirst.get(first) ?? [];
      list.push(t);
      this.#byFirst.set(first, list);
    }
    for (const list of this.#byFirst.values()) {
      list.sort((a, b) => b.content.length - a.content.length);
    }
  }

  get empty(): boolean {
    return this.#byFirst.size === 0;
  }

  /** Split into text pieces (strings) and matched tokens (ids). */
  split(text: string): (string | number)[] {
    if (this.empty) return [text];
    const out: (string | number)[] = [];
    let start = 0; // start of pending plain text
    let i = 0;
    while (i < text.length) {
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      const cands = this.#byFirst.get(ch);
      let hit: AddedToken | undefined;
      if (cands) {
        for (const t of cands) {
          if (!text.startsWith(t.content, i)) continue;
          if (t.singleWord) {
            const before = i > 0 ? text[i - 1] : "";
            const after = text.slice(i + t.content.length, i + t.content.length + 1);
            if (/[\p{L}\p{N}_]/u.test(before) || /[\p{L}\p{N}_]/u.test(after)) continue;
          }
          hit = t;
          break;
        }
      }
      if (!hit) {
        i += ch.length;
        continue;
      }
      let mStart = i;
      let mEnd = i + hit.content.length;
      if (hit.lstrip) { while (mStart > start && /\s/u.test(text[mStart - 1])) mStart--; }
      if (hit.rstrip) { while (mEnd < text.length && /\s/u.test(text[mEnd])) mEnd++; }
      if (mStart > start) out.push(text.slice(start, mStart));
      out.push(hit.id);
      start = mEnd;
      i = mEnd;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// BPE model

const CACHE_LIMIT = 100_000;

class BpeModel {
  readonly vocab: Map<string, number>;
  readonly ranks: Map<string, number>; // "a\u0000b" -> rank
  readonly merged: Map<string, number>; // "a\u0000b" -> merged id
  readonly ignoreMerges: boolean;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
  readonly cache = new Map<string, number[]>();

  constructor(model: JsonObject, where: string) {
    const vocabJson = model.vocab;
    if (!isObject<Json>(vocabJson)) {
      throw new Error(
        `${where}: model.vocab must be an object of token -> id, got ${show(vocabJson)}`,
      );
    }
    this.vocab = new Map();
    for (const [tok, id] of Object.entries(vocabJson)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new Error(
          `${where}: model.vocab[${show(tok)}] must be a non-negative integer, got ${show(id)}`,
        );
      }
      this.vocab.set(tok, id);
    }
    const mergesJson = model.merges ?? [];
    if (!Array.isArray(mergesJson)) {
      throw new Error(`${where}: model.merges must be an array, got ${show(mergesJson)}`);
    }
    this.ranks = new Map();
    this.merged = new Map();
    mergesJson.forEach((m, rank) => {
      let a: string, b: string;
      if (typeof m === "string") {
        const sp = m.indexOf(" ", 1);
        if (sp < 0) throw new Error(`${where}: model.merges[${rank}] ${show(m)} is not "a b"`);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else if (
        Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string"
      ) {
        [a, b] = [m[0], m[1]];
      } else {
        throw new Error(
          `${where}: model.merges[${rank}] must be "a b" or ["a", "b"], got ${show(m)}`,
        );
      }
      const key = a + "\u0000" + b;
      const id = this.vocab.get(a + b);
      if (id === undefined) {
        throw new Error(
          `${where}: model.merges[${rank}] ${show(m)}: merged token ${
            show(a + b)
          } is not in the vocab`,
        );
      }
      if (!this.ranks.has(key)) {
        this.ranks.set(key, rank);
        this.merged.set(key, id);
      }
    });
    this.ignoreMerges = model.ignore_merges === true;
    this.byteFallback = model.byte_fallback === true;
    const unk = model.unk_token;
    if (typeof unk === "string") {
      this.unkId = this.vocab.get(unk);
      if (this.unkId === undefined) {
        throw new Error(`${where}: model.unk_token ${show(unk)} is not in the vocab`);
      }
    }
    for (const field of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      const v = model[field];
      if (v !== undefined && v !== null && v !== "") {
        throw new Error(`${where}: model.${field} = ${show(v)} is not supported`);
      }
    }
  }

  /** Tokenize one pre-tokenized (byte-level mapped) word. */
  tokenize(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.#bpe(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  #bpe(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    // initial symbols: one per code point
    const sym: string[] = [];
    const ids: number[] = [];
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        sym.push(ch);
        ids.push(id);
      } else if (this.byteFallback) {
        for (const b of UTF8_ENCODER.encode(ch)) {
          const tok = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
          const bid = this.vocab.get(tok);
          if (bid === undefined) throw new Error(`byte-fallback token ${tok} is not in the vocab`);
          sym.push(tok);
          ids.push(bid);
        }
      } else if (this.unkId !== undefined) {
        sym.push(ch);
        ids.push(this.unkId);
      } else {
        throw new Error(
          `BPE: character ${show(ch)} (U+${
            ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
          }) is not in the vocab and there is no unk_token`,
        );
      }
    }
    const n = sym.length;
    if (n <= 1) return ids;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const ver = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // min-heap of candidate merges: [rank, left, right, verLeft, verRight]
    const heap: number[][] = [];
    const less = (x: number[], y: number[]): boolean =>
      x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
    const push = (e: number[]): void => {
      heap.push(e);
      let k = heap.length - 1;
      while (k > 0) {
        const p = (k - 1) >> 1;
        if (!less(heap[k], heap[p])) break;
        [heap[k], heap[p]] = [heap[p], heap[k]];
        k = p;
      }
    };
    const pop = (): number[] => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let k = 0;
        for (;;) {
          const l = 2 * k + 1, r = l + 1;
          let m = k;
          if (l < heap.length && less(heap[l], heap[m])) m = l;
          if (r < heap.length && less(heap[r], heap[m])) m = r;
          if (m === k) break;
          [heap[k], heap[m]] = [heap[m], heap[k]];
          k = m;
        }
      }
      return top;
    };
    const consider = (l: number): void => {
      const r = next[l];
      if (l < 0 || r < 0) return;
      const rank = this.ranks.get(sym[l] + "\u0000" + sym[r]);
      if (rank !== undefined) push([rank, l, r, ver[l], ver[r]]);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const [, l, r, vl, vr] = pop();
      if (ver[l] !== vl || ver[r] !== vr || next[l] !== r) continue;
      const key = sym[l] + "\u0000" + sym[r];
      sym[l] = sym[l] + sym[r];
      ids[l] = this.merged.get(key)!;
      ver[l]++;
      ver[r] = -1; // dead
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      consider(prev[l]);
      consider(l);
    }
    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) result.push(ids[i]);
    return result;
  }
}

// ---------------------------------------------------------------------------------------
// Tokenizer

function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject<Json>(v) && typeof v.content === "string") return v.content;
  return undefined;
}

const EOS_NAMES = ["<|endoftext|>", "</s>", "<|im_end|>", "<eos>", "<|end_of_text|>", "<|eot_id|>"];
const BOS_NAMES = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"];
const PAD_NAMES = ["<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|finetune_right_pad_id|>"];

class HfBpeTokenizer implements BpeTokenizer {
  readonly vocabSize: number;
  readonly eos: number;
  readonly pad: number;
  readonly bos?: number;
  readonly #model: BpeModel;
  readonly #normalizer: Normalizer | null;
  readonly #steps: PreStep[];
  readonly #rawAdded: AddedTokenMatcher;
  readonly #normAdded: AddedTokenMatcher;
  readonly #idToToken: Map<number, string>;
  readonly #addedIds: Map<number, AddedToken>;
  readonly #addedByContent: Map<string, number>;
  readonly #template: (string | number)[] | null;
  readonly #bytesCache = new Map<number, Uint8Array>();

  constructor(json: unknown, special: TokenizerSpecialConfig | undefined, where: string) {
    if (!isObject<Json>(json)) throw new Error(`${where}: tokenizer.json must be a JSON object`);
    const model = json.model;
    if (!isObject<Json>(model)) throw new Error(`${where}: missing "model" object`);
    const type = model.type ??
      (isObject<Json>(model.vocab) && Array.isArray(model.merges) ? "BPE" : undefined);
    if (type !== "BPE") {
      throw new Error(
        `${where}: unsupported model.type ${show(type)}; supported model types: BPE (byte-level)`,
      );
    }
    this.#model = new BpeModel(model, where);
    this.#normalizer = buildNormalizer(json.normalizer, where);
    const info: PreTokenizerInfo = { steps: [], byteLevel: false };
    buildPreTokenizer(json.pre_tokenizer, `${where}: pre_tokenizer`, info);
    if (!info.byteLevel) {
      throw new Error(
        `${where}: pre_tokenizer has no ByteLevel step (got ${
          show(json.pre_tokenizer)
        }); only byte-level BPE is supported`,
      );
    }
    this.#steps = info.steps;

    this.#idToToken = new Map();
    for (const [tok, id] of this.#model.vocab) this.#idToToken.set(id, tok);
    this.#addedIds = new Map();
    this.#addedByContent = new Map();
    const addedJson = json.added_tokens ?? [];
    if (!Array.isArray(addedJson)) {
      throw new Error(`${where}: added_tokens must be an array, got ${show(addedJson)}`);
    }
    const raw: AddedToken[] = [];
    const norm: AddedToken[] = [];
    addedJson.forEach((a, i) => {
      if (!isObject<Json>(a) || typeof a.id !== "number" || typeof a.content !== "string") {
        throw new Error(
          `${where}: added_tokens[${i}] must have numeric id and string content, got ${show(a)}`,
        );
      }
      const t: AddedToken = {
        id: a.id,
        content: a.content,
        special: a.special === true,
        lstrip: a.lstrip === true,
        rstrip: a.rstrip === true,
        singleWord: a.single_word === true,
        normalized: a.normalized === true,
      };
      this.#addedIds.set(t.id, t);
      this.#addedByContent.set(t.content, t.id);
      this.#idToToken.set(t.id, t.content);
      if (t.normalized && this.#normalizer) {
        norm.push({ ...t, content: this.#normalizer(t.content) });
      } else raw.push(t);
    });
    this.#rawAdded = new AddedTokenMatcher(raw);
    this.#normAdded = new AddedTokenMatcher(norm);
    let maxId = -1;
    for (const id of this.#idToToken.keys()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    // special ids
    const lookup = (name: string, field: string): number => {
      const id = this.tokenToId(name);
      if (id === undefined) {
        throw new Error(
          `${where}: special-token config ${field} = ${show(name)} is not a known token`,
        );
      }
      return id;
    };
    const firstId = (v: number | number[] | null | undefined): number | undefined =>
      Array.isArray(v) ? v[0] : v ?? undefined;
    const fromNames = (names: string[]): number | undefined => {
      for (const n of names) {
        const id = this.#addedByContent.get(n) ?? this.#model.vocab.get(n);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    const pick = (
      tokenField: "bos_token" | "eos_token" | "pad_token",
      idField: "bos_token_id" | "eos_token_id" | "pad_token_id",
      names: string[],
    ): number | undefined => {
      const content = tokenContent(special?.[tokenField]);
      if (content !== undefined) return lookup(content, tokenField);
      const id = firstId(special?.[idField]);
      if (id !== undefined) {
        if (!this.#idToToken.has(id)) {
          throw new Error(
            `${where}: special-token config ${idField} = ${id} is not a known token id`,
          );
        }
        return id;
      }
      return fromNames(names);
    };
    const eos = pick("eos_token", "eos_token_id", EOS_NAMES);
    if (eos === undefined) {
      throw new Error(
        `${where}: could not determine the EOS token: no eos_token/eos_token_id given and none of ${
          EOS_NAMES.join(" ")
        } is a token; pass tokenizer_config.json as the second argument`,
      );
    }
    this.eos = eos;
    const bos = pick("bos_token", "bos_token_id", BOS_NAMES);
    if (bos !== undefined) this.bos = bos;
    this.pad = pick("pad_token", "pad_token_id", PAD_NAMES) ?? eos;

    // optional TemplateProcessing post processor (single sequence)
    this.#template = null;
    const post = json.post_processor;
    if (isObject<Json>(post) && post.type === "TemplateProcessing" && Array.isArray(post.single)) {
      const tpl: (string | number)[] = [];
      for (const piece of post.single) {
        if (
          isObject<Json>(piece) && isObject<Json>(piece.SpecialToken) &&
          typeof piece.SpecialToken.id === "string"
        ) {
          const content = piece.SpecialToken.id;
          const specials = post.special_tokens;
          let id: number | undefined;
          if (isObject<Json>(specials) && isObject<Json>(specials[content])) {
            const ids = (specials[content] as JsonObject).ids;
            if (Array.isArray(ids) && typeof ids[0] === "number") id = ids[0];
          }
          id ??= this.tokenToId(content);
          if (id === undefined) {
            throw new Error(
              `${where}: post_processor special token ${show(content)} is not a token`,
            );
          }
          tpl.push(id);
        } else if (isObject<Json>(piece) && isObject<Json>(piece.Sequence)) {
          tpl.push("$");
        }
      }
      this.#template = tpl;
    }
  }

  tokenToId(token: string): number | undefined {
    return this.#addedByContent.get(token) ?? this.#model.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.#idToToken.get(id);
  }

  #encodePlain(text: string, out: number[]): void {
    let pieces = [text];
    for (const step of this.#steps) pieces = step(pieces);
    for (const p of pieces) {
      if (p.length === 0) continue;
      for (const id of this.#model.tokenize(byteLevelEncode(p))) out.push(id);
    }
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const ids: number[] = [];
    for (const part of this.#rawAdded.split(text)) {
      if (typeof part === "number") {
        ids.push(part);
        continue;
      }
      const normalized = this.#normalizer ? this.#normalizer(part) : part;
      for (const sub of this.#normAdded.split(normalized)) {
        if (typeof sub === "number") ids.push(sub);
        else this.#encodePlain(sub, ids);
      }
    }
    if (options?.addSpecialTokens && this.#template) {
      const out: number[] = [];
      for (const t of this.#template) {
        if (typeof t === "number") out.push(t);
        else out.push(...ids);
      }
      return out;
    }
    return ids;
  }

  decode(ids: readonly number[], options?: DecodeOptions): string {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      const added = this.#addedIds.get(id);
      let bytes: Uint8Array;
      if (added) {
        if (added.special && options?.skipSpecial) continue;
        bytes = UTF8_ENCODER.encode(added.content);
      } else {
        let cached = this.#bytesCache.get(id);
        if (cached === undefined) {
          const tok = this.#idToToken.get(id);
          if (tok === undefined) {
            throw new Error(`decode: unknown token id ${show(id)} (vocabSize ${this.vocabSize})`);
          }
          cached = byteLevelDecodeToken(tok) ?? UTF8_ENCODER.encode(tok);
          this.#bytesCache.set(id, cached);
        }
        bytes = cached;
      }
      chunks.push(bytes);
      total += bytes.length;
    }
    const all = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(all);
  }
}

/**
 * Build a byte-level BPE tokenizer from a parsed Hugging Face `tokenizer.json`.
 *
 * `special` supplies special tokens (e.g. the parsed `tokenizer_config.json`); without it,
 * EOS/BOS/PAD are found among tokens with conventional names (`<|endoftext|>`, `</s>`,
 * `<|im_end|>`, `<eos>`, ...), and PAD falls back to EOS.
 *
 * @param json The parsed `tokenizer.json`.
 * @param special Optional special-token config (`tokenizer_config.json`-like).
 * @param source A name for error messages (e.g. the file path).
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("tokenizer.json"));
 * const tok = bpeTokenizerFromJSON(json, { eos_token: "<|endoftext|>" });
 * tok.encode("Hi there"); // e.g. [39, 72, 335]
 * ```
 */
export function bpeTokenizerFromJSON(
  json: unknown,
  special?: TokenizerSpecialConfig,
  source = "tokenizer.json",
): BpeTokenizer {
  return new HfBpeTokenizer(json, special, source);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read file: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Load a tokenizer from a `tokenizer.json` file, or from a directory holding one. Unless
 * `special` is given, a `tokenizer_config.json` next to it is used for special tokens
 * when present.
 *
 * @param path Path (or file URL) of `tokenizer.json` or of its directory.
 * @param special Optional special-token config overriding `tokenizer_config.json`.
 * @example
 * ```ts
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * console.log(tok.vocabSize, tok.eos, tok.pad);
 * ```
 */
export async function loadTokenizer(
  path: string | URL,
  special?: TokenizerSpecialConfig,
): Promise<BpeTokenizer> {
  let file = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let isDir = false;
  try {
    isDir = (await Deno.stat(file)).isDirectory;
  } catch (e) {
    throw new Error(`${file}: cannot read tokenizer: ${(e as Error).message}`);
  }
  if (isDir) file = file.replace(/\/+$/, "") + "/tokenizer.json";
  const json = await readJson(file);
  if (special === undefined) {
    const cfgPath = file.replace(/[^/]*$/, "tokenizer_config.json");
    let exists = false;
    try {
      exists = (await Deno.stat(cfgPath)).isFile;
    } catch {
      exists = false;
    }
    if (exists) {
      const cfg = await readJson(cfgPath);
      if (!isObject<Json>(cfg)) throw new Error(`${cfgPath}: expected a JSON object`);
      special = cfg as TokenizerSpecialConfig;
    }
  }
  return bpeTokenizerFromJSON(json, special, file);
}
