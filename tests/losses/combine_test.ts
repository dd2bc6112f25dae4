import fc from "fast-check";
import {
  combine,
  crossEntropy,
  dice,
  focal,
  lovaszSoftmax,
  ShapeError,
  type Tensor,
  valueAndGrad,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueAndGradOn } from "./_helpers.ts";

Deno.test("combine: linear in its weights, value and gradient", async () => {
  const w = fc.double({ min: -3, max: 3, noNaN: true });
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), w, w, async (p, a, b) => {
      const ce = await valueAndGradOn(crossEntropy(), p);
      const fl = await valueAndGradOn(focal(), p);
      const both = await valueAndGradOn(combine([[crossEntropy(), a], [focal(), b]]), p);
      assertClose(both.value, a * ce.value + b * fl.value, { rtol: 1e-12, atol: 1e-14 });
      assertClose(both.grad, ce.grad.map((g, i) => a * g + b * fl.grad[i]), {
        rtol: 1e-10,
        atol: 1e-14,
      });
    }),
    RUNS,
  );
});

Deno.test("combine: an 'answer' term sees only the answer positions (and the mask)", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }).chain((p) =>
        fc.tuple(
          fc.constant(p),
          fc.array(fc.constantFrom(0, 1), {
            minLength: p.targets.length,
            maxLength: p.targets.length,
          }),
        )
      ),
      async ([p, answer]) => {
        const { logits, targets, mask } = tensorsOf(p);
        const answerMask = i32(answer);
        const loss = combine([[crossEntropy(), 0.6], [lovaszSoftmax(), 0.4, { mask: "answer" }]]);
        const v = await loss(logits, targets, { mask, answerMask }).item();
        const both = f64(answer.map((a, i) => a * (p.mask ? p.mask[i] : 1)));
        const ce = await crossEntropy()(logits, targets, { mask }).item();
        const lv = await lovaszSoftmax()(logits, targets, { mask: both }).item();
        assertClose(v, 0.6 * ce + 0.4 * lv, { rtol: 1e-12, atol: 1e-14 });
      },
    ),
    RUNS,
  );
});

Deno.test("combine: the { terms } form, names, nesting and gradients", async () => {
  const inner = combine({ terms: [[crossEntropy(), 1], [dice(), 2, { mask: "all" }]] });
  assert(inner.name === "1·crossEntropy + 2·dice(present)", inner.name);
  const outer = combine([[inner, 0.5], [focal(), 0.5, { mask: "answer" }]]);
  assert(outer.name.includes("[answer]"), outer.name);
  const z = f64([[1, 2, 0], [0, 1, 3], [2, 2, 2]]);
  const t = i32([1, 2, -100]);
  const answerMask = i32([0, 1, 1]);
  const [v, g] = valueAndGrad((x: Tensor) => outer(x, t, { answerMask }))(z);
  const expected = 0.5 * (await crossEntropy()(z, t).item() + 2 * await dice()(z, t).item()) +
    0.5 * await focal()(z, t, { mask: answerMask }).item();
  assertClose(await v.item(), expected, { rtol: 1e-12 });
  assert((await g.data()).every(Number.isFinite));
});

Deno.test("combine: mistakes are named", () => {
  assertThrows(() => combine([]), ValueError, "at least one");
  assertThrows(() => combine([[crossEntropy(), NaN]]), ValueError, "weight");
  // @ts-expect-error: not a mask kind
  assertThrows(() => combine([[crossEntropy(), 1, { mask: "prompt" }]]), ValueError, "mask");
  const loss = combine([[crossEntropy(), 1], [dice(), 1, { mask: "answer" }]]);
  const z = f64([[1, 2], [0, 1]]);
  assertThrows(() => loss(z, i32([0, 1])), ValueError, "answerMask");
  assertThrows(() => loss(z, i32([0, 1]), { answerMask: i32([1, 1, 1]) }), ShapeError, "[3]");
});
