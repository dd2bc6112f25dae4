/**
 * Python / Rust (Oniguruma) regular expressions, as `tokenizer.json` files write their split
 * patterns, translated into JS `RegExp`s that match the same text.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";

/** Unicode White_Space, as onig's `\s` sees it (JS `\s` lacks U+0085, adds U+FEFF). */
const WS_CLASS_BODY = "\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

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

/** `s` with every RegExp syntax character escaped, to match it literally. */
export function escapeLiteral(s: string): string {
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
 * import { translateRegex } from "./regex.ts";
 * const re = translateRegex("(?i:'s|'t)|\\p{L}+");
 * console.log("It'S".match(re)); // ["It", "'S"]
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
      } else if (n === "z" && !inClass) {
        out += "$";
      } else if (n === "Z" && !inClass) {
        out += "(?=\\n?$)";
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
    // Ruby syntax, as onig reads these files: ^ and $ anchor at every line, and . stops
    // only at "\n" (a JS . also stops at "\r", U+2028 and U+2029).
    if (c === "^") out += "(?<![^\\n])";
    else if (c === "$") out += "(?![^\\n])";
    else if (c === ".") out += "[^\\n]";
    else out += c;
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

/**
 * The text of `text` cut at the matches of `re` (a global RegExp), as Hugging Face's
 * `find_matches` cuts it: `[start, end, isMatch]` segments in order covering the whole text.
 * An empty match right where the previous match ended is skipped, as Oniguruma's iterator
 * skips it (a JS `matchAll` would report it). An empty text is one empty non-match.
 *
 * @example
 * ```ts
 * import { findMatches } from "./regex.ts";
 * console.log(findMatches("a-b", /-/gu)); // [[0, 1, false], [1, 2, true], [2, 3, false]]
 * ```
 */
export function findMatches(text: string, re: RegExp): [number, number, boolean][] {
  if (text.length === 0) return [[0, 0, false]];
  const out: [number, number, boolean][] = [];
  let prev = 0;
  let lastEnd = -1;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index;
    const end = start + m[0].length;
    if (start === end && start === lastEnd) continue;
    if (prev !== start) out.push([prev, start, false]);
    out.push([start, end, true]);
    prev = end;
    lastEnd = end;
  }
  if (prev !== text.length) out.push([prev, text.length, false]);
  return out;
}

/** Unicode White_Space (Rust's `char::is_whitespace`, onig's `\s`) as a JS class. */
export const WHITESPACE_CLASS: string = `[${WS_CLASS_BODY}]`;

/**
 * The `pattern` field of a `Replace` (normalizer or decoder) or `Split`: `{"String": s}`
 * (matched literally) or `{"Regex": r}` (Oniguruma syntax), as a global JS RegExp.
 */
export function patternRegex(pattern: unknown, where: string, field: string): RegExp {
  if (isObject<unknown>(pattern)) {
    const p = pattern;
    if (typeof p.String === "string") return new RegExp(escapeLiteral(p.String), "gu");
    if (typeof p.Regex === "string") return translateRegex(p.Regex);
  }
  throw new Error(
    `${where}: ${field} must be {"String": string} or {"Regex": string}, got ${show(pattern)}`,
  );
}
