import fc from "fast-check";
import { gsm8kSynthetic, SYNTHETIC_TEMPLATES, syntheticSplitOf } from "../../src/data/synthetic.ts";
import type { SyntheticExample } from "../../src/data/synthetic.ts";
import { formatGsm8k, parseGsm8kAnswer } from "../../src/data/gsm8k.ts";
import { extractAnswer } from "../../src/data/metrics.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";

const FORMULA = /^<<(\d+)([-+*/])(\d+)=(\d+)>>$/;

function checkExample(e: SyntheticExample): void {
  const { formulas, final } = parseGsm8kAnswer(e.answer);
  assertEquals(formulas.length, e.steps, e.answer);
  assert(e.steps >= 1 && e.steps <= 3);
  let last = NaN;
  for (const f of formulas) {
    const m = FORMULA.exec(f);
    assert(m, `formula ${f} is not a binary integer formula`);
    const [a, b, c] = [Number(m[1]), Number(m[3]), Number(m[4])];
    const want = m[2] === "+" ? a + b : m[2] === "-" ? a - b : m[2] === "*" ? a * b : a / b;
    assertEquals(c, want, `${f} is wrong`);
    for (const v of [a, b, c]) assert(Number.isInteger(v) && v >= 0 && v < 1000, `${f}`);
    last = c;
  }
  assertEquals(final, String(last));
  assertEquals(e.final, final);
  assertEquals(extractAnswer(e.answer), last);
  const lines = e.answer.split("\n");
  assertEquals(lines.length, e.steps + 1);
  assertEquals(lines.at(-1), `#### ${final}`);
  lines.slice(0, -1).forEach((l, i) => assert(l.includes(formulas[i]), l));
  assertEquals({ prompt: e.prompt, target: e.target }, formatGsm8k(e));
  assert(SYNTHETIC_TEMPLATES.includes(e.template));
  assert(e.question.length <= 200, e.question);
}

Deno.test("gsm8kSynthetic: annotations are correct, final is the last result", () => {
  for (const difficulty of [1, 2, 3, "mixed"] as const) {
    const xs = gsm8kSynthetic({ difficulty, count: 600 });
    assertEquals(xs.length, 600);
    for (const e of xs) {
      checkExample(e);
      assert(e.steps <= (difficulty === "mixed" ? 3 : difficulty));
    }
  }
});

Deno.test("gsm8kSynthetic: covers templates and step counts; short texts", () => {
  const xs = gsm8kSynthetic({ difficulty: 3, count: 3000 });
  assert(SYNTHETIC_TEMPLATES.length >= 10);
  for (const t of SYNTHETIC_TEMPLATES) {
    for (const s of [1, 2, 3]) {
      assert(xs.some((e) => e.template === t && e.steps === s), `no ${t} with ${s} steps`);
    }
  }
  const short = xs.filter((e) => e.question.length < 150).length;
  assert(short / xs.length > 0.9, `only ${short} of ${xs.length} questions under 150 chars`);
  assert(xs.every((e) => e.target.length <= 60), "targets must be short");
  assert(xs.every((e) => e.prompt.length + e.target.length <= 230));
  assertEquals(new Set(xs.map((e) => e.question)).size, xs.length);
  const d1 = gsm8kSynthetic({ difficulty: 1, count: 300 });
  assert(d1.every((e) => e.steps === 1));
  const mixed = gsm8kSynthetic({ count: 3000 });
  const by = [1, 2, 3].map((s) => mixed.filter((e) => e.steps === s).length);
  assert(by[0] > by[1] && by[1] > by[2] && by[2] > 0, `mixed step counts ${by}`);
});

Deno.test("gsm8kSynthetic: deterministic per seed", () => {
  const a = gsm8kSynthetic({ seed: 3, count: 200 });
  assertEquals(gsm8kSynthetic({ seed: 3, count: 200 }), a);
  assertNotEquals(gsm8kSynthetic({ seed: 4, count: 200 }), a);
  assertEquals(gsm8kSynthetic({ seed: 3, count: 50 }), a.slice(0, 50), "prefix-stable");
  assertEquals(gsm8kSynthetic({ count: 5 }), gsm8kSynthetic({ seed: 42, count: 5 }));
  assertEquals(gsm8kSynthetic().length, 1000);
  assertEquals(gsm8kSynthetic({ split: "test" }).length, 200);
  assertEquals(gsm8kSynthetic({ count: 0 }), []);
});

Deno.test("gsm8kSynthetic: train and test never overlap", () => {
  const train = gsm8kSynthetic({ count: 4000, split: "train" });
  const test = gsm8kSynthetic({ count: 1000, split: "test" });
  const tq = new Set(train.map((e) => e.question));
  assertEquals(new Set(test.map((e) => e.question)).size, 1000);
  assert(test.every((e) => !tq.has(e.question)));
  assert(test.every((e) => syntheticSplitOf(e.question) === "test"));
  assert(train.every((e) => syntheticSplitOf(e.question) === "train"));
  // also across seeds
  const test7 = gsm8kSynthetic({ count: 500, split: "test", seed: 7 });
  assert(test7.every((e) => !tq.has(e.question)));
});

Deno.test("gsm8kSynthetic: solution target and option errors", () => {
  const [e] = gsm8kSynthetic({ count: 1, target: "solution" });
  assertEquals(e.target, e.answer);
  // @ts-expect-error: invalid on purpose
  assertThrows(() => gsm8kSynthetic({ difficulty: 4 }), RangeError, "difficulty");
  // @ts-expect-error: invalid on purpose
  assertThrows(() => gsm8kSynthetic({ split: "validation" }), RangeError, '"validation"');
  assertThrows(() => gsm8kSynthetic({ count: -1 }), RangeError, "-1");
  assertThrows(() => gsm8kSynthetic({ count: 2.5 }), RangeError, "2.5");
  assertThrows(() => gsm8kSynthetic({ seed: Infinity }), RangeError, "Infinity");
});

Deno.test("gsm8kSynthetic: valid for any seed and difficulty (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.constantFrom(1 as const, 2 as const, 3 as const, "mixed" as const),
      fc.constantFrom("train" as const, "test" as const),
      (seed, difficulty, split) => {
        const xs = gsm8kSynthetic({ seed, difficulty, split, count: 20 });
        assertEquals(xs.length, 20);
        xs.forEach(checkExample);
        assertEquals(new Set(xs.map((e) => e.question)).size, 20);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("gsm8kSynthetic: maxNumber bounds every operand and result", () => {
  for (const maxNumber of [10, 50, 100]) {
    const examples = gsm8kSynthetic({ seed: 3, difficulty: "mixed", count: 200, maxNumber });
    assertEquals(examples.length, 200);
    for (const ex of examples) {
      for (const f of ex.target.match(/<<[^>]*>>/g) ?? []) {
        for (const n of f.match(/\d+/g) ?? []) {
          if (Number(n) >= maxNumber) throw new Error(`${f} has ${n} >= ${maxNumber}`);
        }
      }
    }
  }
  for (const bad of [9, 1001, 2.5]) {
    let threw = false;
    try {
      gsm8kSynthetic({ count: 1, maxNumber: bad });
    } catch (e) {
      threw = e instanceof RangeError && e.message.includes("maxNumber");
    }
    if (!threw) throw new Error(`maxNumber ${bad} accepted`);
  }
});
