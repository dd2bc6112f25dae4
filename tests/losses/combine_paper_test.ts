// combine({ masking: "paper" }): the published trainer's window for answer terms, against a
// plain slice of the batch done the way the published trainer does it. CPU, float64.
import {
  byteTokenizer,
  combine,
  crossEntropy,
  dice,
  focal,
  generalizedDice,
  type LossFn,
  lovaszSoftmax,
  makeBatch,
  rng,
  tensor,
  trainerWindow,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { f64, i32 } from "./_helpers.ts";
import {
  paperCrossEntropy,
  paperFocal,
  paperGeneralizedDice,
  paperLovaszSoftmax,
  trainerSlice,
} from "./_paper_reference.ts";
import type { Problem } from "./_reference.ts";

// Three left-padded rows (T = 7, C = 5): -100 at padding, prompt targets kept (the
// cross-entropy covers them), answers starting at t = 4, 3 and 5.
const TARGETS = [
  [-100, -100, 1, 3, 2, 0, 4],
  [3, 1, 0, 2, 2, 1, 4],
  [-100, -100, -100, 0, 1, 3, 4],
];
const STARTS = [4, 3, 5];
const ANSWER = STARTS.map((s) => TARGETS[0].map((_, t) => (t >= s ? 1 : 0)));
const C = 5;
const LOGITS = TARGETS.map((row, b) =>
  row.map((_, t) => [...Array(C)].map((_, k) => Math.sin(7 * b + 3 * t + k) * 2))
);

/** The flattened problem of rows `targets` at positions `positions` of LOGITS. */
function windowed(targets: number[][], positions: number[]): Problem {
  return {
    logits: LOGITS.flatMap((rows) => positions.map((t) => rows[t])),
    targets: targets.flat(),
  };
}

const FULL: Problem = { logits: LOGITS.flat(), targets: TARGETS.flat() };
const SLICE = trainerSlice(TARGETS, STARTS);
const INSIDE = windowed(SLICE.targets, SLICE.positions);
const W = SLICE.positions.length;
const SEQUENCES = TARGETS.map((_, b) => [...Array(W)].map((_, k) => b * W + k));

const X: [string, () => LossFn, (p: Problem) => number][] = [
  ["focal", () => focal(), (p) => paperFocal(p)],
  ["generalizedDice", () => generalizedDice(), (p) => paperGeneralizedDice(p, SEQUENCES)],
  ["lovaszSoftmax", () => lovaszSoftmax(), (p) => paperLovaszSoftmax(p)],
];

const z = () => f64(LOGITS.flat(2), [3, 7, C]);
const targets = i32(TARGETS.flat(), [3, 7]);
const answerMask = f64(ANSWER.flat(), [3, 7]);

Deno.test("trainerWindow: from the earliest answer start to the second-to-last position", async () => {
  assertEquals(SLICE.positions, [3, 4, 5]);
  const w = await trainerWindow(answerMask).array();
  assertEquals(w, TARGETS.map(() => [0, 0, 0, 1, 1, 1, 0]));
  assertEquals(await trainerWindow(i32([0, 0, 0, 0], [2, 2])).array(), [[0, 0], [0, 0]]);
  assertEquals(await trainerWindow(i32([0, 1, 1])).array(), [0, 1, 0]);
});

for (const [label, make, reference] of X) {
  Deno.test(`combine paper: 0.6 ce + 0.4 ${label}[answer] is the published trainer's loss`, async () => {
    const loss = combine({
      terms: [[crossEntropy(), 0.6], [make(), 0.4, { mask: "answer" }]],
      masking: "paper",
    });
    const expected = 0.6 * paperCrossEntropy(FULL) + 0.4 * reference(INSIDE);
    assertClose(await loss(z(), targets, { answerMask }).item(), expected, { rtol: 1e-12 });
    await gradcheck(([x]) => loss(x, targets, { answerMask }), [z()], { tol: 1e-5, msg: label });
  });

  Deno.test(`combine exclude: ${label}[answer] is unchanged by masking "exclude"`, async () => {
    const terms = [[crossEntropy(), 0.6], [make(), 0.4, { mask: "answer" }]] as const;
    const plain = await combine(terms)(z(), targets, { answerMask }).item();
    const exclude = await combine({ terms, masking: "exclude" })(z(), targets, { answerMask });
    assert(Object.is(await exclude.item(), plain), `${await exclude.item()} ${plain}`);
    const paper = await combine({ terms, masking: "paper" })(z(), targets, { answerMask }).item();
    assert(paper !== plain, `${label}: paper ${paper} equals exclude ${plain}`);
  });
}

Deno.test("combine paper: a term over all positions runs in paper masking, without the window", async () => {
  const loss = combine({ terms: [[focal(), 1], [dice(), 0.5]], masking: "paper" });
  const { paperDice } = await import("./_paper_reference.ts");
  const expected = paperFocal(FULL) + 0.5 * paperDice(FULL);
  assertClose(await loss(z(), targets, { answerMask }).item(), expected, { rtol: 1e-12 });
});

Deno.test("combine paper: no answer anywhere leaves the answer term at 0", async () => {
  const loss = combine({
    terms: [[crossEntropy(), 0.6], [focal(), 0.4, { mask: "answer" }]],
    masking: "paper",
  });
  const none = f64(new Array(21).fill(0), [3, 7]);
  const v = await loss(z(), targets, { answerMask: none }).item();
  assertClose(v, 0.6 * paperCrossEntropy(FULL), { rtol: 1e-12 });
});

Deno.test("combine: masking is checked and named", () => {
  const terms = [[focal(), 1]] as const;
  const e = assertThrows(
    () => combine({ terms, masking: "zero" as "paper" }),
    ValueError,
    'combine: masking must be one of "exclude", "paper", got "zero"',
  );
  assert(e.message.length > 0);
  assertEquals(
    combine({
      terms: [[crossEntropy(), 0.6], [focal(), 0.4, { mask: "answer" }]],
      masking: "paper",
    })
      .name,
    "0.6·crossEntropy + 0.4·focal(gamma=2)[answer] (paper)",
  );
});

Deno.test("combine paper: a left-padded makeBatch batch over the byte vocabulary", async () => {
  const tok = byteTokenizer();
  const b = makeBatch(tok, [
    { prompt: "Question: 1+1?\nAnswer: ", target: "<<1+1=2>> #### 2" },
    { prompt: "Q: 12*3?\nA: ", target: "#### 36" },
    { prompt: "Question: what is 7-5?\nAnswer: ", target: "2" },
  ], { maxLength: 40, padSide: "left" });
  const B = b.batch, T = b.length, V = 259;
  const r = rng(3);
  const flat = Array.from({ length: B * T * V }, () => r.normal() * 2);
  const rows = [...Array(B)].map((_, i) => [...b.targets.slice(i * T, (i + 1) * T)]);
  const starts = rows.map((_, i) => b.answerMask.slice(i * T, (i + 1) * T).indexOf(1));
  const logitsAt = (i: number, t: number) => flat.slice((i * T + t) * V, (i * T + t + 1) * V);
  const slice = trainerSlice(rows, starts);
  const inside: Problem = {
    logits: rows.flatMap((_, i) => slice.positions.map((t) => logitsAt(i, t))),
    targets: slice.targets.flat(),
  };
  const full: Problem = {
    logits: rows.flatMap((row, i) => row.map((_, t) => logitsAt(i, t))),
    targets: rows.flat(),
  };
  const loss = combine({
    terms: [[crossEntropy(), 0.6], [focal(), 0.4, { mask: "answer" }]],
    masking: "paper",
  });
  const value = await loss(
    tensor(flat, { dtype: "float64", backend: "cpu", shape: [B, T, V] }),
    tensor(b.targets, { dtype: "int32", backend: "cpu", shape: [B, T] }),
    { answerMask: tensor(b.answerMask, { dtype: "float64", backend: "cpu", shape: [B, T] }) },
  ).item();
  assertClose(value, 0.6 * paperCrossEntropy(full) + 0.4 * paperFocal(inside), { rtol: 1e-12 });
});
