import fc from "fast-check";
import {
  aggregateMetrics,
  exactMatch,
  extractAnswer,
  extractFormulas,
  parseNumber,
  stepMetrics,
} from "../../src/data/metrics.ts";
import { assert, assertAlmostEquals, assertEquals } from "./_assert.ts";

Deno.test("extractAnswer: hand-written cases", () => {
  const cases: [string, number | null][] = [
    ["<<16-3-4=9>> <<9*2=18>> #### 18", 18],
    ["#### 18", 18],
    ["####18", 18],
    ["#### -5", -5],
    ["#### - 5", -5],
    ["#### −7", -7],
    ["#### 3.25", 3.25],
    ["#### .5", 0.5],
    ["#### 1,000", 1000],
    ["#### 1,234,567.89", 1234567.89],
    ["#### $1,000", 1000],
    ["#### -$20", -20],
    ["#### $-20", -20],
    ["#### 42.", 42],
    ["#### 42 apples", 42],
    ["#### +3", 3],
    ["#### 7\n", 7],
    ["#### 1 #### 2", 2],
    ["#### 5\nmore text #### 6.", 6],
    ["#### 3 then ####", null],
    ["no answer here 42", null],
    ["", null],
    ["#### ", null],
    ["#### twelve", null],
    ["#### $", null],
    ["#### 0", 0],
    ["#### 007", 7],
  ];
  for (const [text, want] of cases) assertEquals(extractAnswer(text), want, JSON.stringify(text));
});

Deno.test("parseNumber", () => {
  assertEquals(parseNumber("12"), 12);
  assertEquals(parseNumber("  $3.50."), 3.5);
  assertEquals(parseNumber("1,000,000"), 1000000);
  assertEquals(parseNumber("x1"), null);
  assertEquals(parseNumber("-"), null);
});

Deno.test("exactMatch: numeric comparison", () => {
  assert(exactMatch("<<9*2=18>> #### 18", "#### 18"));
  assert(exactMatch("#### 18.0", "18"));
  assert(exactMatch("#### 1,000", "#### 1000"));
  assert(exactMatch("#### $1000.", "1,000"));
  assert(exactMatch("#### -3", -3));
  assert(exactMatch("#### 0.1", "#### .10"));
  assert(exactMatch("#### 0.3", 0.1 + 0.2));
  assert(!exactMatch("#### 17", "#### 18"));
  assert(!exactMatch("18", "#### 18"), "no #### in the prediction");
  assert(!exactMatch("#### 18", "no number"));
  assert(!exactMatch("#### 18", "text #### none"));
  assert(!exactMatch("#### -18", "18"));
  assert(!exactMatch("#### x", NaN));
  assert(!exactMatch("", ""));
});

Deno.test("extractFormulas: normalised set", () => {
  assertEquals(
    extractFormulas("a <<2 * 3 = 6>> b <<6+1=7>> c <<2*3=6>> #### 7"),
    new Set(["<<2*3=6>>", "<<6+1=7>>"]),
  );
  assertEquals(extractFormulas("no formulas #### 1"), new Set<string>());
  assertEquals(extractFormulas("<<1+\n1=2>>"), new Set(["<<1+1=2>>"]));
  assertEquals(extractFormulas("<<1+1=2"), new Set<string>());
});

Deno.test("stepMetrics: values", () => {
  assertEquals(stepMetrics("#### 1", "#### 1"), {
    iou: 1,
    dice: 1,
    precision: 1,
    recall: 1,
    missing: 0,
    extra: 0,
  });
  assertEquals(stepMetrics("<<1+1=2>> <<2*3=6>>", "<<2*3=6>> <<1 + 1 = 2>>"), {
    iou: 1,
    dice: 1,
    precision: 1,
    recall: 1,
    missing: 0,
    extra: 0,
  });
  const m = stepMetrics("<<1+1=2>> <<2*5=10>> #### 10", "<<1+1=2>> <<2*4=8>> #### 8");
  assertAlmostEquals(m.iou, 1 / 3);
  assertEquals([m.dice, m.precision, m.recall, m.missing, m.extra], [0.5, 0.5, 0.5, 1, 1]);
  const partial = stepMetrics("<<1+1=2>>", "<<1+1=2>> <<2*3=6>> <<6-1=5>>");
  assertAlmostEquals(partial.iou, 1 / 3);
  assertAlmostEquals(partial.dice, 0.5);
  assertEquals([partial.precision, partial.missing, partial.extra], [1, 2, 0]);
  assertAlmostEquals(partial.recall, 1 / 3);
  assertEquals(stepMetrics("#### 5", "<<2+3=5>> #### 5"), {
    iou: 0,
    dice: 0,
    precision: 0,
    recall: 0,
    missing: 1,
    extra: 0,
  });
  assertEquals(stepMetrics("<<2+3=5>> #### 5", "#### 5"), {
    iou: 0,
    dice: 0,
    precision: 0,
    recall: 0,
    missing: 0,
    extra: 1,
  });
  assertEquals(stepMetrics(new Set(["<<1+1=2>>"]), "<<1+1=2>>").iou, 1);
});

Deno.test("stepMetrics: properties (fast-check)", () => {
  const formula = fc.tuple(fc.nat(20), fc.constantFrom("+", "-", "*"), fc.nat(20)).map((
    [a, o, b],
  ) => `<<${a}${o}${b}=${a}>>`);
  const text = fc.array(formula, { maxLength: 6 }).map((fs) => fs.join(" ") + " #### 1");
  fc.assert(
    fc.property(text, text, (p, r) => {
      const m = stepMetrics(p, r), back = stepMetrics(r, p);
      for (const v of [m.iou, m.dice, m.precision, m.recall]) assert(v >= 0 && v <= 1);
      assertAlmostEquals(m.iou, back.iou);
      assertAlmostEquals(m.dice, back.dice);
      assertAlmostEquals(m.precision, back.recall);
      assertEquals([m.missing, m.extra], [back.extra, back.missing]);
      assertAlmostEquals(m.dice, (2 * m.iou) / (1 + m.iou), 1e-12);
      assertEquals(stepMetrics(p, p).iou, 1);
    }),
  );
});

Deno.test("aggregateMetrics", () => {
  const m = aggregateMetrics([
    { prediction: "<<2*3=6>> #### 6", reference: "<<2*3=6>> #### 6" },
    { prediction: "<<2*3=5>> #### 5", reference: "<<2*3=6>> #### 6" },
    { prediction: "<<2*3=6>> <<6+1=7>> #### 7", reference: "<<2*3=6>> #### 6" },
    { prediction: "garbage", reference: "#### 1" },
  ]);
  assertEquals(m.count, 4);
  assertEquals(m.exactMatch, 0.25);
  // the last pair has no formulas on either side: its step scores are 1 by definition
  assertAlmostEquals(m.iou, (1 + 0 + 0.5 + 1) / 4);
  assertAlmostEquals(m.dice, (1 + 0 + 2 / 3 + 1) / 4);
  assertAlmostEquals(m.precision, (1 + 0 + 0.5 + 1) / 4);
  assertAlmostEquals(m.recall, (1 + 0 + 1 + 1) / 4);
  assertAlmostEquals(m.missing, (0 + 1 + 0 + 0) / 4);
  assertAlmostEquals(m.extra, (0 + 1 + 1 + 0) / 4);
  assertEquals(aggregateMetrics([]), {
    count: 0,
    exactMatch: 0,
    iou: 0,
    dice: 0,
    precision: 0,
    recall: 0,
    missing: 0,
    extra: 0,
  });
});
