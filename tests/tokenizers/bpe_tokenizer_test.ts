import fc from "fast-check";
import {
  type BpeTokenizer,
  bpeTokenizerFromJSON,
  byteLevelDecodeToken,
  byteLevelEncode,
  loadTokenizer,
} from "../../src/tokenizers/mod.ts";
import { translateRegex } from "../../src/tokenizers/regex.ts";
import {
  assert,
  assertEquals,
  assertThrows,
  haveTinyLlama,
  TINY_LLAMA_DIR,
} from "../nn/_assert.ts";

// ---------------------------------------------------------------------------------------
// A hand-made tokenizer.json: the 256 byte-level chars (id = byte value) plus merges.

/** GPT-2 byte -> char table, built independently of the implementation. */
function gpt2ByteChars(): string[] {
  const keep = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    table.push(keep(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++));
  }
  return table;
}

const BYTE_CHARS = gpt2ByteChars();

const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface TinyOptions {
  merges: (string | [string, string])[];
  preTokenizer?: unknown;
  added?: { id: number; content: string; special?: boolean }[];
  ignoreMerges?: boolean;
  modelType?: string;
}

function tinyTokenizerJson(o: TinyOptions): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_CHARS.forEach((c, b) => (vocab[c] = b));
  let next = 256;
  for (const m of o.merges) {
    const [a, b] = typeof m === "string" ? m.split(" ") : m;
    if (vocab[a + b] === undefined) vocab[a + b] = next++;
  }
  const added = (o.added ?? [{ id: next, content: "<|endoftext|>", special: true }]).map((
    t,
  ) => ({
    id: t.id,
    content: t.content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: t.special ?? true,
  }));
  for (const t of added) vocab[t.content] = t.id;
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: o.preTokenizer ??
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: o.modelType ?? "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: o.ignoreMerges ?? false,
      vocab,
      merges: o.merges,
    },
  };
}

const b = (s: string): number => {
  const bytes = new TextEncoder().encode(s);
  assert(bytes.length === 1, `not a single byte: ${s}`);
  return bytes[0];
};

Deno.test("tiny tokenizer: known merges give known ids (string merges)", () => {
  // ids: 256 "Ġt", 257 "he", 258 "Ġthe", 259 <|endoftext|>
  const tok = bpeTokenizerFromJSON(tinyTokenizerJson({ merges: ["Ġ t", "h e", "Ġt he"] }));
  assertEquals(tok.tokenToId("Ġthe"), 258);
  assertEquals(tok.idToToken(257), "he");
  assertEquals(tok.vocabSize, 260);
  // "the" -> t + he (no "t he" merge); " the" -> Ġthe
  assertEquals(tok.encode("the the"), [b("t"), 257, 258]);
  assertEquals(tok.encode(" t"), [256]);
  assertEquals(tok.decode([b("t"), 257, 258]), "the the");
  assertEquals(tok.eos, 259);
  assertEquals(tok.pad, 259, "pad falls back to eos");
  assertEquals(tok.bos, undefined);
});

Deno.test("tiny tokenizer: pair merges, rank order decides", () => {
  // "b c" ranks before "a b": "abc" -> a + bc, not ab + c
  const tok = bpeTokenizerFromJSON(tinyTokenizerJson({ merges: [["b", "c"], ["a", "b"]] }));
  const bc = tok.tokenToId("bc")!, ab = tok.tokenToId("ab")!;
  assertEquals(tok.encode("abc"), [b("a"), bc]);
  assertEquals(tok.encode("abab"), [ab, ab]);
  // leftmost first among equal ranks: "bbb" with "b b" -> bb + b
  const tok2 = bpeTokenizerFromJSON(tinyTokenizerJson({ merges: [["b", "b"]] }));
  assertEquals(tok2.encode("bbb"), [tok2.tokenToId("bb")!, b("b")]);
});

Deno.test("tiny tokenizer: ignore_merges uses whole-word vocab entries", () => {
  const json = tinyTokenizerJson({ merges: [["a", "b"], ["ab", "c"]], ignoreMerges: true });
  const model = json.model as { vocab: Record<string, number> };
  model.vocab["xyz"] = 900; // in the vocab but not reachable by merges
  const tok = bpeTokenizerFromJSON(json, { eos_token: "<|endoftext|>" });
  assertEquals(tok.encode("xyz"), [900]);
  assertEquals(tok.encode("abc"), [tok.tokenToId("abc")!]);
  const noIgnore = tinyTokenizerJson({ merges: [["a", "b"]] });
  (noIgnore.model as { vocab: Record<string, number> }).vocab["xyz"] = 900;
  assertEquals(bpeTokenizerFromJSON(noIgnore).encode("xyz"), [b("x"), b("y"), b("z")]);
});

Deno.test("tiny tokenizer: added tokens are split out before BPE; skipSpecial", () => {
  const tok = bpeTokenizerFromJSON(
    tinyTokenizerJson({
      merges: ["h e"],
      added: [
        { id: 300, content: "<|im_start|>" },
        { id: 301, content: "<|im_end|>" },
        { id: 302, content: "<tool>", special: false },
      ],
    }),
  );
  const he = tok.tokenToId("he")!;
  const ids = tok.encode("<|im_start|>he<tool>he<|im_end|>");
  assertEquals(ids, [300, he, 302, he, 301]);
  assertEquals(tok.decode(ids), "<|im_start|>he<tool>he<|im_end|>");
  assertEquals(tok.decode(ids, { skipSpecial: true }), "he<tool>he");
  assertEquals(tok.eos, 301, "<|im_end|> is found as eos by name");
  assertEquals(tok.encode("<|im_end"), [...new TextEncoder().encode("<|im_end")]);
});

Deno.test("tiny tokenizer: special tokens from a tokenizer_config-like object", () => {
  const json = tinyTokenizerJson({
    merges: [],
    added: [{ id: 256, content: "<s>" }, { id: 257, content: "</s>" }, {
      id: 258,
      content: "<pad>",
    }],
  });
  const byName = bpeTokenizerFromJSON(json);
  assertEquals([byName.bos, byName.eos, byName.pad], [256, 257, 258]);
  const cfg = bpeTokenizerFromJSON(json, {
    bos_token: { content: "</s>" },
    eos_token: "<s>",
    pad_token: null,
  });
  assertEquals([cfg.bos, cfg.eos, cfg.pad], [257, 256, 258]);
  const ids = bpeTokenizerFromJSON(json, { eos_token_id: [257, 256], pad_token_id: 256 });
  assertEquals([ids.eos, ids.pad], [257, 256]);
  assertThrows(
    () => bpeTokenizerFromJSON(json, { eos_token: "<|nope|>" }),
    "eos_token",
    "<|nope|>",
  );
  const none = tinyTokenizerJson({ merges: [], added: [] });
  assertThrows(
    () => bpeTokenizerFromJSON(none, undefined, "x/tokenizer.json"),
    "x/tokenizer.json",
    "EOS",
  );
});

Deno.test("tiny tokenizer: add_prefix_space and Digits", () => {
  const tok = bpeTokenizerFromJSON(
    tinyTokenizerJson({
      merges: ["Ġ h", "Ġh i", "1 2"],
      preTokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Digits", individual_digits: true },
          { type: "ByteLevel", add_prefix_space: true, use_regex: true },
        ],
      },
    }),
  );
  // "hi" gets a prefix space; each digit is isolated (then prefixed with a space, as in HF)
  assertEquals(tok.encode("hi"), [tok.tokenToId("Ġhi")!]);
  assertEquals(tok.encode("12"), [b(" "), b("1"), b(" "), b("2")]);
});

Deno.test("tiny tokenizer: Llama-3 style Sequence[Split, ByteLevel] differs from GPT-2 split", () => {
  const merges = ["' M", "3 4", "Ġ 1"];
  const gpt2 = bpeTokenizerFromJSON(tinyTokenizerJson({ merges }));
  const llama3 = bpeTokenizerFromJSON(
    tinyTokenizerJson({
      merges,
      preTokenizer: {
        type: "Sequence",
        pretokenizers: [
          {
            type: "Split",
            pattern: { Regex: LLAMA3_PATTERN },
            behavior: "Isolated",
            invert: false,
          },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
    }),
  );
  const aM = gpt2.tokenToId("'M")!, n34 = gpt2.tokenToId("34")!, sp1 = gpt2.tokenToId("Ġ1")!;
  const text = "I'M 12345";
  // GPT-2: 'M is not a contraction (case-sensitive) and " 12345" is one piece
  assertEquals(gpt2.encode(text), [b("I"), b("'"), b("M"), sp1, b("2"), n34, b("5")]);
  // Llama-3: (?i:'m) matches, digits split in threes, the space stands alone
  assertEquals(llama3.encode(text), [b("I"), aM, b(" "), b("1"), b("2"), b("3"), b("4"), b("5")]);
  for (const t of [gpt2, llama3]) assertEquals(t.decode(t.encode(text)), text);
});

Deno.test("Split behaviors: Removed, MergedWithPrevious, MergedWithNext, Contiguous, invert", () => {
  const mk = (behavior: string, invert = false): BpeTokenizer =>
    bpeTokenizerFromJSON(
      tinyTokenizerJson({
        merges: ["a -", "- b", "a b", "- -", "-- b"],
        preTokenizer: {
          type: "Sequence",
          pretokenizers: [
            { type: "Split", pattern: { String: "-" }, behavior, invert },
            { type: "ByteLevel", add_prefix_space: false, use_regex: false },
          ],
        },
      }),
    );
  const id = (t: BpeTokenizer, s: string): number => t.tokenToId(s)!;
  let t = mk("Removed");
  assertEquals(t.encode("a-b"), [b("a"), b("b")]);
  t = mk("Isolated");
  assertEquals(t.encode("a-b"), [b("a"), b("-"), b("b")]);
  t = mk("MergedWithPrevious");
  assertEquals(t.encode("a-b"), [id(t, "a-"), b("b")]);
  t = mk("MergedWithNext");
  assertEquals(t.encode("a-b"), [b("a"), id(t, "-b")]);
  t = mk("Contiguous");
  assertEquals(t.encode("a--b"), [b("a"), id(t, "--"), b("b")]);
  t = mk("Isolated", true);
  // invert: the non-"-" parts are the matches; isolated either way
  assertEquals(t.encode("a-b"), [b("a"), b("-"), b("b")]);
  t = mk("Removed", true);
  assertEquals(t.encode("a-b"), [b("-")]);
});

Deno.test("unsupported model types and malformed input give clear errors", () => {
  for (const type of ["Unigram", "WordPiece", "WordLevel"]) {
    assertThrows(
      () =>
        bpeTokenizerFromJSON(
          tinyTokenizerJson({ merges: [], modelType: type }),
          undefined,
          "t.json",
        ),
      "t.json",
      type,
      "supported model types: BPE",
    );
  }
  const badMerge = tinyTokenizerJson({ merges: ["q zz"] });
  delete (badMerge.model as { vocab: Record<string, number> }).vocab["qzz"];
  assertThrows(() => bpeTokenizerFromJSON(badMerge), "model.merges[0]", "qzz", "not in the vocab");
  assertThrows(
    () =>
      bpeTokenizerFromJSON(
        tinyTokenizerJson({ merges: [], preTokenizer: { type: "BertPreTokenizer" } }),
      ),
    "BertPreTokenizer",
    "supported",
  );
  assertThrows(
    () => bpeTokenizerFromJSON(tinyTokenizerJson({ merges: [] })).decode([99999]),
    "99999",
  );
});

Deno.test("translateRegex: onig/Python constructs", () => {
  const re = translateRegex("(?i:'s|'t)|\\p{L}+");
  assertEquals("It'S".match(re), ["It", "'S"]);
  // \s follows Unicode White_Space (U+0085 yes, U+FEFF no), unlike JS \s
  assertEquals("a\u0085b\uFEFFc".match(translateRegex("\\s")), ["\u0085"]);
  assertEquals("x{1}".match(translateRegex("x\\{1}|\\x{41}")), ["x{1}"]);
  assertEquals("A".match(translateRegex("\\x{41}")), ["A"]);
  assertEquals("中a".match(translateRegex("\\p{Han}")), ["中"]);
  assertEquals("aab".match(translateRegex("(?P<x>a)(?P=x)")), ["aa"]);
  assertEquals("aaa".match(translateRegex("a++")), ["aaa"]);
  assertThrows(() => translateRegex("[abc"), "unterminated");
});

Deno.test("translateRegex: expanded (?i:) agrees with native modifiers on the Llama-3 pattern", () => {
  let nativeOk = true;
  try {
    new RegExp("(?i:a)", "u");
  } catch {
    nativeOk = false;
  }
  if (!nativeOk) {
    console.log("skipping: engine lacks regexp modifiers");
    return;
  }
  const native = translateRegex(LLAMA3_PATTERN, { nativeModifiers: true });
  const expanded = translateRegex(LLAMA3_PATTERN, { nativeModifiers: false });
  assert(!expanded.source.includes("(?i"), expanded.source);
  const alphabet = fc.constantFrom(
    ..."aSsTtMmLlDdRrVvEe'’ \n\r\t12٣ſK.,!?-é中😀\u00a0\u0085".split(""),
    "'S",
    "'ll",
    "'VE",
  );
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 24 }).map((a) => a.join("")), (s) => {
      assertEquals(s.match(expanded), s.match(native), JSON.stringify(s));
    }),
    { numRuns: 500 },
  );
});

Deno.test("byte-level map round-trips every byte", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const chars = Array.from(all, (x) => BYTE_CHARS[x]).join("");
  assertEquals(byteLevelDecodeToken(chars), all);
  assertEquals(byteLevelEncode(" hi\n"), "ĠhiĊ");
  assertEquals(byteLevelDecodeToken("<oops☃>"), undefined);
});

Deno.test("tiny tokenizer: decode(encode(s)) === s (fast-check)", () => {
  const tok = bpeTokenizerFromJSON(tinyTokenizerJson({ merges: ["Ġ t", "h e", "Ġt he"] }));
  fc.assert(
    fc.property(fc.fullUnicodeString(), (s) => tok.decode(tok.encode(s)) === s),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------
// tiny-llama fixture: transformers' reference ids

interface Reference {
  prompts: string[];
  ids: number[][];
  decoded: string[];
  vocab: number;
}

async function fixture(): Promise<{ tok: BpeTokenizer; ref: Reference } | null> {
  if (!(await haveTinyLlama())) return null;
  const tok = await loadTokenizer(new URL("tokenizer.json", TINY_LLAMA_DIR));
  const ref = JSON.parse(
    await Deno.readTextFile(new URL("reference.json", TINY_LLAMA_DIR)),
  ) as Reference;
  return { tok, ref };
}

Deno.test("tiny-llama: encode reproduces transformers' ids exactly; decode round-trips", async () => {
  const f = await fixture();
  if (!f) return;
  const { tok, ref } = f;
  assertEquals(tok.vocabSize, ref.vocab);
  assert(ref.prompts.length > 0);
  ref.prompts.forEach((p, i) => {
    assertEquals(tok.encode(p), ref.ids[i], `prompt ${i}`);
    assertEquals(tok.decode(ref.ids[i]), ref.decoded[i], `decode ${i}`);
    assertEquals(tok.decode(tok.encode(p)), p);
  });
  // tokenizer_config.json next to tokenizer.json: bos = eos = <|endoftext|>, pad = <|pad|>
  assertEquals([tok.bos, tok.eos, tok.pad], [0, 0, 1]);
  assertEquals(tok.idToToken(0), "<|endoftext|>");
  // the directory form loads the same thing
  const viaDir = await loadTokenizer(TINY_LLAMA_DIR);
  assertEquals(viaDir.encode(ref.prompts[1]), ref.ids[1]);
  // specials: kept as text, or skipped
  const ids = tok.encode("<|endoftext|>Answer: 42<|pad|>");
  assertEquals(ids[0], 0);
  assertEquals(ids[ids.length - 1], 1);
  assertEquals(tok.decode(ids), "<|endoftext|>Answer: 42<|pad|>");
  assertEquals(tok.decode(ids, { skipSpecial: true }), "Answer: 42");
});

Deno.test("tiny-llama: decode(encode(s)) === s for arbitrary unicode (fast-check)", async () => {
  const f = await fixture();
  if (!f) return;
  const { tok } = f;
  fc.assert(
    fc.property(fc.fullUnicodeString({ maxLength: 64 }), (s) => tok.decode(tok.encode(s)) === s),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => {
      const ids = tok.encode(s);
      return ids.every((id) => id >= 0 && id < tok.vocabSize) && tok.decode(ids) === s;
    }),
    { numRuns: 500 },
  );
});
