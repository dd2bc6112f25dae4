import fc from "fast-check";
import {
  exactMatch,
  formulaList,
  formulaMetrics,
  mathMetrics,
  stepMetrics,
} from "../../src/data/metrics.ts";
import { parseFormula } from "../../src/data/formula.ts";
import {
  choiceMetrics,
  extractLetter,
  letterMatch,
  rouge1,
  rougeTokens,
} from "../../src/data/choice_metrics.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./_assert.ts";

Deno.test("exactMatch: numeric, within 1e-6 relative", () => {
  assert(exactMatch("#### 27.675", "#### 27.675"));
  assert(exactMatch("#### 27.6750001", "#### 27.675"), "3.6e-9 relative");
  assert(exactMatch("#### 1000000.5", 1000000), "5e-7 relative");
  assert(!exactMatch("#### 100.001", "#### 100"), "1e-5 relative");
  assert(!exactMatch("#### 0.000001", 0), "nothing but 0 is close to 0");
  assert(exactMatch("#### 0", 0));
  assert(exactMatch("#### 400.0", "#### 400"));
  assert(exactMatch("#### 101", 100, { relTol: 0.02 }));
  assertThrows(() => exactMatch("#### 1", 1, { relTol: -1 }), RangeError, "relTol");
});

Deno.test("parseFormula: infix annotations and program steps", () => {
  const cases: [string, string[], string[], string][] = [
    ["<<48/2=24>>", ["div"], ["48", "2"], "(48/2)=24"],
    ["<<16-3-4=9>>", ["sub", "sub"], ["16", "3", "4"], "((16-3)-4)=9"],
    ["<<2+3*4=14>>", ["add", "mul"], ["2", "3", "4"], "((3*4)+2)=14"],
    ["<<(5+3)*2=16>>", ["add", "mul"], ["5", "3", "2"], "((3+5)*2)=16"],
    ["<<-3+5=2>>", ["neg", "add"], ["3", "5"], "((-3)+5)=2"],
    ["<<$1,200*2=2400>>", ["mul"], ["1200", "2"], "(1200*2)=2400"],
    ["<<2^3=8>>", ["pow"], ["2", "3"], "(2^3)=8"],
    ["<<2**3=8>>", ["pow"], ["2", "3"], "(2^3)=8"],
    ["<<50%*10=5>>", ["mul"], ["50%", "10"], "(10*50%)=5"],
    ["<<1 + 2 + 3 = 6>>", ["add", "add"], ["1", "2", "3"], "(1+2+3)=6"],
    ["divide(n0,n1)", ["div"], ["n0", "n1"], "div(n0,n1)"],
    ["<<multiply(#0,const_100)>>", ["mul"], ["#0", "const_100"], "mul(#0,const_100)"],
    ["add(n1,n0)", ["add"], ["n1", "n0"], "add(n0,n1)"],
    ["<<circle_area(n0)>>", ["circle_area"], ["n0"], "circle_area(n0)"],
  ];
  for (const [f, ops, args, canonical] of cases) {
    const p = parseFormula(f);
    assertEquals([p.operators, p.operands, p.canonical, p.parsed], [ops, args, canonical, true], f);
  }
  const bad = parseFormula("<<2+=5>>");
  assertEquals([bad.parsed, bad.canonical, bad.operators], [false, "2+=5", []]);
  assertEquals(parseFormula("<<=5>>").parsed, false);
  // Commutative swaps share a canonical form; non-commutative ones do not.
  const same = (a: string, b: string) => parseFormula(a).canonical === parseFormula(b).canonical;
  assert(same("<<2+3=5>>", "<<3+2=5>>"));
  assert(same("<<2*3*4=24>>", "<<4*(3*2)=24>>"));
  assert(same("multiply(n0,n1)", "multiply(n1,n0)"));
  assert(!same("<<5-3=2>>", "<<3-5=2>>"));
  assert(!same("divide(n0,n1)", "divide(n1,n0)"));
  assert(!same("<<2+3=5>>", "<<2+3=6>>"), "the result is part of the step");
});

Deno.test("formulaMetrics: overlap, repetitions, wrong operators, inverted operands", () => {
  // GSM8K style: a wrong operator (48*2 for 48/2) and swapped operands (6-24 for 24-6).
  const m = formulaMetrics(
    "<<48*2=96>> <<6-24=-18>> <<6-24=-18>> #### -18",
    "<<48/2=24>> <<24-6=18>> #### 18",
  );
  assertEquals(
    [m.iou, m.missing, m.extra, m.repetitions, m.wrongOperators, m.invertedOperands],
    [0, 2, 2, 1, 1, 1],
  );
  // MathQA style.
  const q = formulaMetrics(
    "<<multiply(n0,n1)>> <<subtract(n1,#0)>> <<add(#1,n2)>> #### 3.0",
    "<<divide(n0,n1)>> <<subtract(#0,n1)>> <<add(#1,n2)>> #### 7.0",
  );
  assertAlmostEquals(q.iou, 1 / 5);
  assertEquals([q.wrongOperators, q.invertedOperands, q.overlap], [1, 1, 1 / 3]);
  // A commutative swap is not an inverted operand: it counts in commutativeIou instead.
  const c = formulaMetrics("<<3+2=5>> <<5*4=20>>", "<<2+3=5>> <<4*5=20>>");
  assertEquals([c.iou, c.commutativeIou, c.invertedOperands, c.wrongOperators], [0, 1, 0, 0]);
  // Each reference step explains one predicted step at most.
  const once = formulaMetrics("<<48+2=50>> <<48*2=96>>", "<<48/2=24>>");
  assertEquals(once.wrongOperators, 1);
  // Same operands and operators but a wrong result is neither kind of error.
  const arith = formulaMetrics("<<2*3=5>>", "<<2*3=6>>");
  assertEquals([arith.wrongOperators, arith.invertedOperands, arith.commutativeIou], [0, 0, 0]);
  // Overlap index: |P ∩ R| / min(|P|, |R|).
  const o = formulaMetrics("<<1+1=2>>", "<<1+1=2>> <<2*3=6>> <<6-1=5>>");
  assertEquals([o.overlap, o.repetitions], [1, 0]);
  assertAlmostEquals(o.iou, 1 / 3);
  const empty = formulaMetrics("#### 5", "#### 5");
  assertEquals([empty.iou, empty.overlap, empty.commutativeIou], [1, 1, 1]);
  const oneEmpty = formulaMetrics("#### 5", "<<2+3=5>> #### 5");
  assertEquals([oneEmpty.overlap, oneEmpty.commutativeIou], [0, 0]);
  // The StepMetrics fields are exactly stepMetrics'.
  const p = "<<1+1=2>> <<2*5=10>> <<2*5=10>>", r = "<<1+1=2>> <<2*4=8>>";
  const full = formulaMetrics(p, r);
  const base = stepMetrics(p, r);
  for (const k of Object.keys(base) as (keyof typeof base)[]) assertEquals(full[k], base[k], k);
  assertEquals(formulaList(p), ["<<1+1=2>>", "<<2*5=10>>", "<<2*5=10>>"]);
  assertEquals(formulaMetrics(new Set(["<<1+1=2>>"]), "<<1+1=2>>").iou, 1);
});

Deno.test("mathMetrics: means over pairs", () => {
  const m = mathMetrics([
    { prediction: "<<divide(n0,n1)>> #### 30.0", reference: "<<divide(n0,n1)>> #### 30.0" },
    { prediction: "<<divide(n1,n0)>> #### 0.03", reference: "<<divide(n0,n1)>> #### 30.0" },
    { prediction: "<<2+3=5>> <<2+3=5>> #### 5", reference: "<<3+2=5>> #### 5" },
  ]);
  assertEquals(m.count, 3);
  assertAlmostEquals(m.exactMatch, 2 / 3);
  assertAlmostEquals(m.iou, 1 / 3);
  assertAlmostEquals(m.commutativeIou, 2 / 3);
  assertAlmostEquals(m.invertedOperands, 1 / 3);
  assertAlmostEquals(m.repetitions, 1 / 3);
  const none = mathMetrics([]);
  assertEquals([none.count, none.exactMatch, none.iou, none.commutativeIou], [0, 0, 0, 0]);
});

Deno.test("letters and ROUGE-1", () => {
  const letters: [string, string | null][] = [
    ["B", "B"],
    [" d. plants", "D"],
    ["Question: x\nA. y\nAnswer: C", "C"],
    ["Answer:   b because", "B"],
    ["42. A", "A"],
    ["the answer is B", "T"], // the first letter generated, as the paper reads it
    ["", null],
    ["1234", null],
  ];
  for (const [text, want] of letters) assertEquals(extractLetter(text), want, text);
  assert(letterMatch("B. quit eating lunch out", "B"));
  assert(!letterMatch("A", "B"));
  assert(!letterMatch("", ""));
  assertEquals(rougeTokens("B. Quit eating—lunch out!"), ["b", "quit", "eating", "lunch", "out"]);
  assertEquals(rouge1("B", "B"), { precision: 1, recall: 1, f1: 1 });
  assertEquals(rouge1("", "B"), { precision: 0, recall: 0, f1: 0 });
  const r = rouge1("the the cat", "the cat sat on the mat");
  assertEquals([r.precision, r.recall], [1, 0.5]);
  assertAlmostEquals(r.f1, 2 / 3);
  assertEquals(rouge1("a b", "c d").f1, 0);
  assertEquals(
    choiceMetrics([
      { prediction: "D", reference: "D" },
      { prediction: "C. the moon", reference: "D" },
    ]),
    { count: 2, accuracy: 0.5, rouge1: 0.5 },
  );
  assertEquals(choiceMetrics([]), { count: 0, accuracy: 0, rouge1: 0 });
});

const step = fc.oneof(
  fc.tuple(fc.nat(9), fc.constantFrom("+", "-", "*", "/"), fc.nat(9)).map(([a, o, b]) =>
    `<<${a}${o}${b}=${a}>>`
  ),
  fc.tuple(fc.constantFrom("add", "subtract", "multiply"), fc.nat(3), fc.nat(3)).map((
    [f, a, b],
  ) => `<<${f}(n${a},n${b})>>`),
);
const text = fc.array(step, { maxLength: 6 }).map((s) => `${s.join(" ")} #### 1`);

Deno.test("formulaMetrics: properties (fast-check)", () => {
  fc.assert(
    fc.property(text, text, (p, r) => {
      const m = formulaMetrics(p, r), back = formulaMetrics(r, p);
      for (const v of [m.iou, m.dice, m.overlap, m.commutativeIou]) assert(v >= 0 && v <= 1);
      assertAlmostEquals(m.iou, back.iou);
      assertAlmostEquals(m.overlap, back.overlap);
      assertAlmostEquals(m.commutativeIou, back.commutativeIou);
      assert(m.commutativeIou >= m.iou - 1e-12, "commutative IoU is never below IoU");
      assert(m.overlap >= m.iou - 1e-12, "overlap index is never below IoU");
      assert(m.wrongOperators + m.invertedOperands <= Math.min(m.extra, m.missing));
      assert(m.repetitions >= 0 && m.repetitions <= formulaList(p).length);
      const self = formulaMetrics(p, p);
      assertEquals([self.commutativeIou, self.wrongOperators, self.invertedOperands], [1, 0, 0]);
    }),
  );
});

Deno.test("rouge1: properties (fast-check)", () => {
  const words = fc.array(fc.constantFrom("a", "b", "the", "sun", "B", "C."), { maxLength: 8 })
    .map((w) => w.join(" "));
  fc.assert(
    fc.property(words, words, (p, r) => {
      const x = rouge1(p, r), y = rouge1(r, p);
      assert(x.f1 >= 0 && x.f1 <= 1);
      assertAlmostEquals(x.f1, y.f1);
      assertAlmostEquals(x.precision, y.recall);
      if (rougeTokens(p).length > 0) assertEquals(rouge1(p, p).f1, 1);
    }),
  );
});
