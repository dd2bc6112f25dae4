import fc from "fast-check";
import { encodeExample, IGNORE_INDEX, makeBatch, promptBatch } from "../../src/data/batch.ts";
import { byteTokenizer } from "../../src/tokenizers/byte_tokenizer.ts";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.ts";
import { gsm8kSynthetic } from "../../src/data/synthetic.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

const tok = byteTokenizer();
const [BOS, EOS, PAD] = [257, 258, 256];
const c = (s: string) => s.charCodeAt(0);

Deno.test("encodeExample: right padding, shifted targets, masks", () => {
  const row = encodeExample(tok, "Q", "A", { maxLength: 5 });
  assertEquals(row, {
    ids: [BOS, c("Q"), c("A"), PAD, PAD],
    targets: [c("Q"), c("A"), EOS, IGNORE_INDEX, IGNORE_INDEX],
    answerMask: [0, 1, 1, 0, 0],
    attention: [1, 1, 1, 0, 0],
    promptLength: 2,
    length: 3,
  });
  assertEquals(IGNORE_INDEX, -100);
});

Deno.test("encodeExample: left padding", () => {
  const row = encodeExample(tok, "Q", "A", { maxLength: 5, padSide: "left" });
  assertEquals(row.ids, [PAD, PAD, BOS, c("Q"), c("A")]);
  assertEquals(row.targets, [-100, -100, c("Q"), c("A"), EOS]);
  assertEquals(row.answerMask, [0, 0, 0, 1, 1]);
  assertEquals(row.attention, [0, 0, 1, 1, 1]);
});

Deno.test("encodeExample: prompt tokens keep their targets (paper's CE over all)", () => {
  const row = encodeExample(tok, "Hi: ", "7", { maxLength: 8 });
  // seq = bos H i : ' ' 7 eos -> inputs bos H i : ' ' 7, targets H i : ' ' 7 eos
  assertEquals(row.targets.slice(0, 6), [...tok.encode("Hi: 7"), EOS]);
  assertEquals(row.answerMask, [0, 0, 0, 0, 1, 1, 0, 0]);
  assertEquals(row.promptLength, 5);
});

Deno.test("encodeExample: truncation keeps the answer", () => {
  const row = encodeExample(tok, "abcdef", "XY", { maxLength: 5 });
  assertEquals(row.ids, [BOS, c("e"), c("f"), c("X"), c("Y")]);
  assertEquals(row.targets, [c("e"), c("f"), c("X"), c("Y"), EOS]);
  assertEquals(row.answerMask, [0, 0, 1, 1, 1]);
  assertEquals(row.promptLength, 3);
  // exact fit: no truncation
  const fit = encodeExample(tok, "ab", "XY", { maxLength: 5 });
  assertEquals(fit.ids, [BOS, c("a"), c("b"), c("X"), c("Y")]);
  // the answer alone is too long: prompt dropped, answer's end cut
  const long = encodeExample(tok, "ab", "WXYZ", { maxLength: 3 });
  assertEquals(long.ids, [BOS, c("W"), c("X")]);
  assertEquals(long.targets, [c("W"), c("X"), c("Y")]);
  assertEquals(long.answerMask, [1, 1, 1]);
  assertEquals(long.promptLength, 1);
});

Deno.test("encodeExample: addBos false and tokenizers without bos", () => {
  const row = encodeExample(tok, "Q", "A", { maxLength: 3, addBos: false });
  assertEquals(row.ids, [c("Q"), c("A"), PAD]);
  assertEquals(row.targets, [c("A"), EOS, -100]);
  assertEquals(row.answerMask, [1, 1, 0]);
  const noBos: Tokenizer = {
    vocabSize: 10,
    encode: (s) => [...s].map((ch) => Number(ch)),
    decode: (ids) => ids.filter((i) => i < 8).join(""),
    eos: 8,
    pad: 9,
  };
  const r2 = encodeExample(noBos, "12", "3", { maxLength: 4, padSide: "left" });
  assertEquals(r2.ids, [9, 1, 2, 3]);
  assertEquals(r2.targets, [-100, 2, 3, 8]);
  assertEquals(r2.answerMask, [0, 0, 1, 1]);
});

Deno.test("encodeExample: option errors", () => {
  assertThrows(() => encodeExample(tok, "a", "b", { maxLength: 0 }), RangeError, "maxLength");
  assertThrows(() => encodeExample(tok, "a", "b", { maxLength: 2.5 }), RangeError, "2.5");
  assertThrows(
    // @ts-expect-error: invalid on purpose
    () => encodeExample(tok, "a", "b", { maxLength: 4, padSide: "middle" }),
    RangeError,
    '"middle"',
  );
});

Deno.test("makeBatch: layout of two rows", () => {
  const b = makeBatch(tok, [{ prompt: "Q", target: "A" }, { prompt: "xy", target: "7" }], {
    maxLength: 5,
  });
  assertEquals([b.batch, b.length], [2, 5]);
  assertEquals(
    Array.from(b.ids),
    [BOS, c("Q"), c("A"), PAD, PAD, BOS, c("x"), c("y"), c("7"), PAD],
  );
  assertEquals(
    Array.from(b.targets),
    [c("Q"), c("A"), EOS, -100, -100, c("x"), c("y"), c("7"), EOS, -100],
  );
  assertEquals(Array.from(b.answerMask), [0, 1, 1, 0, 0, 0, 0, 1, 1, 0]);
  assertEquals(Array.from(b.attention), [1, 1, 1, 0, 0, 1, 1, 1, 1, 0]);
  assertEquals(b.promptLengths, [2, 3]);
  assertEquals(b.lengths, [3, 4]);
  assert(b.ids instanceof Int32Array && b.targets instanceof Int32Array);
  assert(b.answerMask instanceof Float32Array && b.attention instanceof Float32Array);

  const longest = makeBatch(tok, [{ prompt: "Q", target: "A" }, { prompt: "xy", target: "7" }], {
    maxLength: 50,
    padTo: "longest",
    padSide: "left",
  });
  assertEquals(longest.length, 4);
  assertEquals(Array.from(longest.ids), [PAD, BOS, c("Q"), c("A"), BOS, c("x"), c("y"), c("7")]);
  assertEquals(Array.from(longest.answerMask), [0, 0, 1, 1, 0, 0, 1, 1]);
  assertThrows(() => makeBatch(tok, [], { maxLength: 4 }), RangeError, "empty");
});

Deno.test("makeBatch: invariants on random rows (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ prompt: fc.string(), target: fc.string() }), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.integer({ min: 1, max: 40 }),
      (examples, maxLength) => {
        const right = makeBatch(tok, examples, { maxLength });
        const left = makeBatch(tok, examples, { maxLength, padSide: "left" });
        const T = maxLength;
        examples.forEach((ex, b) => {
          const row = <A extends ArrayLike<number>>(a: A) => Array.from(a).slice(b * T, b * T + T);
          const [ids, tg, am, at] = [
            row(right.ids),
            row(right.targets),
            row(right.answerMask),
            row(right.attention),
          ];
          const n = right.lengths[b];
          assertEquals(at, ids.map((_, t) => (t < n ? 1 : 0)));
          for (let t = 0; t < T; t++) {
            assertEquals(tg[t] === -100, at[t] === 0);
            if (at[t] === 0) assertEquals([ids[t], am[t]], [PAD, 0]);
            if (t + 1 < n) assertEquals(tg[t], ids[t + 1], "targets are inputs shifted by one");
          }
          // answer mask is a contiguous suffix of the real positions
          const first = am.indexOf(1);
          if (first >= 0) assertEquals(am.slice(first, n), new Array(n - first).fill(1));
          // when everything fits, the masked targets are exactly target + eos
          const full = 1 + tok.encode(ex.prompt).length + tok.encode(ex.target).length + 1;
          if (full - 1 <= T) {
            const answer = tg.filter((_, t) => am[t] === 1);
            assertEquals(answer, [...tok.encode(ex.target), EOS]);
            assertEquals(right.promptLengths[b], full - answer.length);
          } else {
            assertEquals(n, T);
            assertEquals(tg[T - 1] === EOS || am.every((m) => m === 1), true);
          }
          // left padding is the same row moved right
          const shift = T - n;
          assertEquals(row(left.ids).slice(shift), ids.slice(0, n));
          assertEquals(row(left.targets).slice(shift), tg.slice(0, n));
          assertEquals(row(left.answerMask).slice(shift), am.slice(0, n));
          assertEquals(row(left.attention).slice(0, shift), new Array(shift).fill(0));
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("makeBatch: synthetic GSM8K fits a 256 context", () => {
  const data = gsm8kSynthetic({ count: 64, difficulty: 3 });
  const b = makeBatch(tok, data, { maxLength: 256 });
  assertEquals(b.ids.length, 64 * 256);
  data.forEach((e, i) => {
    const n = b.lengths[i];
    const tg = Array.from(b.targets.slice(i * 256, i * 256 + n));
    const am = Array.from(b.answerMask.slice(i * 256, i * 256 + n));
    assertEquals(tok.decode(tg.filter((_, t) => am[t] === 1)), e.target);
    assertEquals(tok.decode(tg), e.prompt + e.target);
  });
});

Deno.test("promptBatch: left padding for generation", () => {
  const p = promptBatch(tok, ["a", "bcd"]);
  assertEquals([p.batch, p.length], [2, 4]);
  assertEquals(Array.from(p.ids), [PAD, PAD, BOS, c("a"), BOS, c("b"), c("c"), c("d")]);
  assertEquals(Array.from(p.attention), [0, 0, 1, 1, 1, 1, 1, 1]);
  assertEquals(p.lengths, [2, 4]);
  const r = promptBatch(tok, ["a", "bcd"], { padSide: "right", addBos: false });
  assertEquals(Array.from(r.ids), [c("a"), PAD, PAD, c("b"), c("c"), c("d")]);
  const t = promptBatch(tok, ["abcdef"], { maxLength: 3 });
  assertEquals(Array.from(t.ids), [BOS, c("e"), c("f")]);
  assertEquals(Array.from(promptBatch(tok, ["abc"], { maxLength: 1 }).ids), [BOS]);
  assertThrows(() => promptBatch(tok, []), RangeError, "empty");
});
