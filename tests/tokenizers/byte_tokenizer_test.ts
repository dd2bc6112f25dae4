import fc from "fast-check";
import {
  BYTE_BOS,
  BYTE_EOS,
  BYTE_PAD,
  BYTE_SPECIAL_TOKENS,
  BYTE_VOCAB_SIZE,
  byteTokenizer,
} from "../../src/tokenizers/byte_tokenizer.ts";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.ts";
import { assert, assertEquals, assertThrows } from "../data/_assert.ts";

Deno.test("byteTokenizer: ids and specials", () => {
  const tok: Tokenizer = byteTokenizer();
  assertEquals(tok.vocabSize, 259);
  assertEquals([tok.pad, tok.bos, tok.eos], [256, 257, 258]);
  assertEquals([BYTE_PAD, BYTE_BOS, BYTE_EOS, BYTE_VOCAB_SIZE], [256, 257, 258, 259]);
  assertEquals(BYTE_SPECIAL_TOKENS[256], "<|pad|>");
  assertEquals(BYTE_SPECIAL_TOKENS[257], "<|bos|>");
  assertEquals(BYTE_SPECIAL_TOKENS[258], "<|eos|>");
  assertEquals(tok.encode("Ab 1"), [65, 98, 32, 49]);
  assertEquals(tok.encode("é"), [0xc3, 0xa9]);
  assertEquals(tok.encode(""), []);
  assertEquals(tok.encode("<|eos|>"), Array.from(new TextEncoder().encode("<|eos|>")));
});

Deno.test("byteTokenizer: decode skips specials, is lenient, checks ids", () => {
  const tok = byteTokenizer();
  assertEquals(tok.decode([257, 72, 256, 105, 258, 256]), "Hi");
  assertEquals(tok.decode([0xc3]), "\ufffd");
  assertEquals(tok.decode([0xff, 65]), "\ufffdA");
  assertEquals(tok.decode([]), "");
  assertThrows(() => tok.decode([65, 259]), RangeError, "ids[1] = 259");
  assertThrows(() => tok.decode([-1]), RangeError, "ids[0] = -1");
  assertThrows(() => tok.decode([1.5]), RangeError, "1.5");
});

Deno.test("byteTokenizer: round-trips arbitrary unicode (fast-check)", () => {
  const tok = byteTokenizer();
  fc.assert(
    fc.property(fc.fullUnicodeString(), (s) => {
      const ids = tok.encode(s);
      assert(ids.every((i) => Number.isInteger(i) && i >= 0 && i < 256));
      assertEquals(tok.decode(ids), s);
      assertEquals(tok.decode([tok.bos!, ...ids, tok.eos, tok.pad]), s);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), (s) => tok.decode(tok.encode(s)) === s),
    { numRuns: 200 },
  );
});

Deno.test("byteTokenizer: decode never throws on any byte ids (fast-check)", () => {
  const tok = byteTokenizer();
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 258 })), (ids) => {
      return typeof tok.decode(ids) === "string";
    }),
  );
});
