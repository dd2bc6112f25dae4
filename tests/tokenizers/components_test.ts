/**
 * The parts of tokenizer.json loading that the reference tests do not reach: errors that
 * name the file, the component and the offending value, and the regex semantics
 * (Oniguruma's) that Hugging Face's patterns are written in.
 */

import { bpeTokenizerFromJSON } from "../../src/tokenizers/mod.ts";
import { findMatches, translateRegex } from "../../src/tokenizers/regex.ts";
import { assertEquals, assertThrows } from "../nn/_assert.ts";

/** A SentencePiece-style file: a few pieces, the 256 byte tokens, and the given parts. */
function spJson(parts: Record<string, unknown>, model: Record<string, unknown> = {}) {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) {
    vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  }
  for (const t of ["▁", "a", "b", "▁a", "▁ab"]) vocab[t] = Object.keys(vocab).length;
  return {
    added_tokens: [
      { id: 0, content: "<unk>", special: true },
      { id: 1, content: "<s>", special: true },
      { id: 2, content: "</s>", special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    ...parts,
    model: {
      type: "BPE",
      unk_token: "<unk>",
      byte_fallback: true,
      fuse_unk: true,
      vocab,
      merges: ["▁ a", "▁a b"],
      ...model,
    },
  };
}

Deno.test("SentencePiece-style file: Metaspace, merges, byte fallback, unk fusing", () => {
  const decoder = {
    type: "Sequence",
    decoders: [{ type: "ByteFallback" }, { type: "Metaspace", prepend_scheme: "always" }],
  };
  const tok = bpeTokenizerFromJSON(spJson({ decoder }));
  const id = (t: string) => tok.tokenToId(t)!;
  assertEquals(tok.encode("ab a"), [id("▁ab"), id("▁a")]);
  // "é" is outside the vocab: its two UTF-8 bytes, and they decode back to it
  assertEquals(tok.encode("é"), [id("▁"), id("<0xC3>"), id("<0xA9>")]);
  assertEquals(tok.decode(tok.encode("ab é a")), "ab é a");
  // a lone continuation byte is invalid UTF-8: one U+FFFD per byte, as Hugging Face writes it
  assertEquals(tok.decode([id("<0xC3>"), id("<0xC3>"), id("a")]), "\uFFFD\uFFFDa");
  const unk = bpeTokenizerFromJSON(spJson({}, { byte_fallback: false }));
  assertEquals(unk.encode("aéèb"), [id("▁a"), 0, id("b")], "fused unk");
  const apart = bpeTokenizerFromJSON(spJson({}, { byte_fallback: false, fuse_unk: false }));
  assertEquals(apart.encode("aéèb"), [id("▁a"), 0, 0, id("b")]);
});

Deno.test("unknown component types and bad fields name the file, the type and the value", () => {
  const cases: [Record<string, unknown>, string[]][] = [
    [{ normalizer: { type: "Precompiled" } }, ["normalizer", "Precompiled", "Prepend"]],
    [{ pre_tokenizer: { type: "UnicodeScripts" } }, [
      "pre_tokenizer",
      "UnicodeScripts",
      "Metaspace",
    ]],
    [{ decoder: { type: "CTC" } }, ["decoder", "CTC", "ByteFallback"]],
    [
      { pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "sometimes" } },
      ["prepend_scheme", "sometimes", "always, first, never"],
    ],
    [
      { pre_tokenizer: { type: "Metaspace", replacement: "▁▁" } },
      ["Metaspace.replacement", "one character"],
    ],
    [
      { pre_tokenizer: { type: "Punctuation", behavior: "isolated" } },
      ["Punctuation.behavior", "isolated", "Isolated"],
    ],
    [{ normalizer: { type: "Prepend" } }, ["Prepend.prepend", "string"]],
    [
      { normalizer: { type: "Replace", pattern: { Glob: "*" }, content: "" } },
      ["Replace.pattern", "Glob"],
    ],
    [
      { decoder: { type: "Strip", content: " ", start: -1, stop: 0 } },
      ["Strip.start", "-1"],
    ],
  ];
  for (const [parts, words] of cases) {
    assertThrows(
      () => bpeTokenizerFromJSON(spJson(parts), undefined, "sp.json"),
      "sp.json",
      ...words,
    );
  }
  assertThrows(
    () =>
      bpeTokenizerFromJSON(
        spJson({
          pre_tokenizer: {
            type: "Metaspace",
            replacement: "▁",
            prepend_scheme: "always",
            add_prefix_space: false,
          },
        }),
      ),
    "add_prefix_space",
  );
});

Deno.test("translateRegex: onig's ^ and $ anchor at lines, . stops only at \\n", () => {
  assertEquals("a\nab\r\n".match(translateRegex("^a")), ["a", "a"]);
  assertEquals("xa\nya".match(translateRegex("a$")), ["a", "a"]);
  assertEquals("a\rb\u2028c\nd".match(translateRegex(".+")), ["a\rb\u2028c", "d"]);
  assertEquals("ab\n".match(translateRegex("b\\Z")), ["b"]);
  assertEquals("ab\n".match(translateRegex("b\\z")), null);
});

Deno.test("findMatches: onig skips an empty match right after a match", () => {
  // JS reports the empty match at 2 after "-" (1..2); onig does not (the one at the end,
  // after the non-match "b", it does).
  const got = findMatches("a-b", /-*/gu);
  assertEquals(got, [[0, 0, true], [0, 1, false], [1, 2, true], [2, 3, false], [3, 3, true]]);
  assertEquals(findMatches("", /x/gu), [[0, 0, false]]);
  assertEquals(findMatches("xx", /x/gu), [[0, 1, true], [1, 2, true]]);
});
