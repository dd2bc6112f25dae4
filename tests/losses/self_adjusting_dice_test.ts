import fc from "fast-check";
import { selfAdjustingDice, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { problems, RUNS, tensorsOf, valueOn } from "./_helpers.ts";
import { counted, refSelfAdjustingDiceAt } from "./_reference.ts";

Deno.test("selfAdjustingDice: the JSDoc example, p_t = 0.5 gives 1/3", async () => {
  assertClose(await valueOn(selfAdjustingDice(), { logits: [[0, 0]], targets: [0] }), 1 / 3, {
    rtol: 1e-12,
  });
});

Deno.test("selfAdjustingDice: per-position values match the formula for any alpha, gamma", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.double({ min: 0, max: 3, noNaN: true }),
      fc.double({ min: 0, max: 3, noNaN: true }),
      async (p, alpha, gamma) => {
        const { logits, targets, mask } = tensorsOf(p);
        const none = await selfAdjustingDice({ alpha, gamma, reduction: "none" })(
          logits,
          targets,
          { mask },
        ).data();
        const valid = new Set(counted(p));
        const expected = p.targets.map((_, i) =>
          valid.has(i) ? refSelfAdjustingDiceAt(p, i, alpha, gamma) : 0
        );
        assertClose(none, expected, { rtol: 1e-10, atol: 1e-14 });
      },
    ),
    RUNS,
  );
});

Deno.test("selfAdjustingDice: its minimum over p_t is at p_t = 1/(1 + alpha)", async () => {
  // Two classes, logit difference d gives p_t = sigmoid(d); q peaks at p_t = 1/(1+a).
  for (const alpha of [0.5, 1, 2]) {
    const best = Math.log(1 / (1 + alpha) / (1 - 1 / (1 + alpha)));
    const at = (d: number) =>
      valueOn(selfAdjustingDice({ alpha }), { logits: [[d, 0]], targets: [0] });
    const vBest = await at(best);
    for (const d of [best - 0.3, best + 0.3, -5, 5]) {
      if (!((await at(d)) > vBest)) throw new Error(`alpha ${alpha}: ${d} beats the minimum`);
    }
  }
});

Deno.test("selfAdjustingDice: bad options are ValueErrors naming the field", () => {
  assertThrows(() => selfAdjustingDice({ alpha: -1 }), ValueError, "alpha");
  assertThrows(() => selfAdjustingDice({ gamma: Infinity }), ValueError, "gamma");
});
