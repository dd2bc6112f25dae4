/**
 * Added tokens of `tokenizer.json` (`added_tokens`): whole strings, special tokens among
 * them, that are cut out of the text before the model sees it and map straight to their id.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import type { Json } from "./hf_json.ts";
import { WHITESPACE_CLASS } from "./regex.ts";

/** One entry of `added_tokens`, with its flags in camel case. */
export interface AddedToken {
  /** The token's id. */
  id: number;
  /** The text it stands for. */
  content: string;
  /** Whether it is a special token (dropped by `decode` with `skipSpecial`). */
  special: boolean;
  /** Whether it takes the whitespace on its left with it. */
  lstrip: boolean;
  /** Whether it takes the whitespace on its right with it. */
  rstrip: boolean;
  /** Whether it matches only where no word character touches it. */
  singleWord: boolean;
  /** Whether it is matched in the normalized text rather than the raw text. */
  normalized: boolean;
}

/** The `added_tokens` array of a `tokenizer.json` (absent: none); `where` names the file. */
export function parseAddedTokens(json: Json | undefined, where: string): AddedToken[] {
  const addedJson = json ?? [];
  if (!Array.isArray(addedJson)) {
    throw new Error(`${where}: added_tokens must be an array, got ${show(addedJson)}`);
  }
  return addedJson.map((a, i) => {
    if (!isObject<Json>(a) || typeof a.id !== "number" || typeof a.content !== "string") {
      throw new Error(
        `${where}: added_tokens[${i}] must have numeric id and string content, got ${show(a)}`,
      );
    }
    return {
      id: a.id,
      content: a.content,
      special: a.special === true,
      lstrip: a.lstrip === true,
      rstrip: a.rstrip === true,
      singleWord: a.single_word === true,
      normalized: a.normalized === true,
    };
  });
}

/** A matcher that splits text around added tokens (leftmost, then longest). */
export class AddedTokenMatcher {
  /** Tokens by their first UTF-16 code unit, longest first. */
  readonly #byFirst = new Map<number, AddedToken[]>();
  constructor(tokens: AddedToken[]) {
    for (const t of tokens) {
      if (t.content.length === 0) continue;
      const first = t.content.charCodeAt(0);
      const list = this.#byFirst.get(first) ?? [];
      list.push(t);
      this.#byFirst.set(first, list);
    }
    for (const list of this.#byFirst.values()) {
      list.sort((a, b) => b.content.length - a.content.length);
    }
  }

  /** Whether there is no token to match. */
  get empty(): boolean {
    return this.#byFirst.size === 0;
  }

  /**
   * Split into text pieces (strings) and matched tokens (ids), as Hugging Face's
   * leftmost-longest matcher does: at the leftmost position where a token matches, the
   * longest one there; a `single_word` token touching a word char is passed over whole.
   */
  split(text: string): (string | number)[] {
    if (this.empty) return [text];
    const out: (string | number)[] = [];
    let start = 0; // start of pending plain text
    let i = 0;
    while (i < text.length) {
      const cands = this.#byFirst.get(text.charCodeAt(i));
      const hit = cands?.find((t) => text.startsWith(t.content, i));
      if (!hit) {
        i++;
        continue;
      }
      let mStart = i;
      let mEnd = i + hit.content.length;
      if (hit.singleWord && (endsWithWord(text, mStart) || startsWithWord(text, mEnd))) {
        i = mEnd;
        continue;
      }
      if (hit.lstrip) { while (mStart > start && isSpace(text, mStart - 1)) mStart--; }
      if (hit.rstrip) { while (mEnd < text.length && isSpace(text, mEnd)) mEnd++; }
      if (mStart > start) out.push(text.slice(start, mStart));
      out.push(hit.id);
      start = mEnd;
      i = mEnd;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }
}

/** Rust regex's `\w` (Unicode): what `single_word` tokens may not touch. */
const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const SPACE = new RegExp(WHITESPACE_CLASS, "u");

/** Whether the code point ending at `end` (exclusive) is a word char. */
function endsWithWord(text: string, end: number): boolean {
  if (end === 0) return false;
  const lo = text.charCodeAt(end - 1);
  const from = lo >= 0xdc00 && lo <= 0xdfff && end >= 2 ? end - 2 : end - 1;
  return WORD_CHAR.test(text.slice(from, end));
}

/** Whether the code point at `at` is a word char. */
function startsWithWord(text: string, at: number): boolean {
  if (at >= text.length) return false;
  return WORD_CHAR.test(String.fromCodePoint(text.codePointAt(at)!));
}

/** Whether the UTF-16 unit at `at` is Unicode White_Space (all of which are in the BMP). */
function isSpace(text: string, at: number): boolean {
  return SPACE.test(text[at]);
}
