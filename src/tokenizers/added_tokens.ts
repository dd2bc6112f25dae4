/**
 * Added tokens of `tokenizer.json` (`added_tokens`): whole strings, special tokens among
 * them, that are cut out of the text before the model sees it and map straight to their id.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import type { Json } from "./hf_json.ts";

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

  /** Split into text pieces (strings) and matched tokens (ids). */
  split(text: string): (string | number)[] {
    if (this.empty) return [text];
    const out: (string | number)[] = [];
    let start = 0; // start of pending plain text
    let i = 0;
    while (i < text.length) {
      const cands = this.#byFirst.get(text.charCodeAt(i));
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
        i++;
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
