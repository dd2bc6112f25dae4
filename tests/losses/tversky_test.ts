import fc from "fast-check";
import { dice, jaccard, tversky, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { problems, RUNS, valueAndGradOn } from "./_helpers.ts";

Deno.test("tversky: alpha = beta = 0.5 equals Dice (value and gradient)", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true }),
      fc.constantFrom(0, 1e-5, 1),
      fc.constantFrom<"present" | "all">("present", "all"),
      async (p, s, classes) => {
        // (TP + s/2) / (TP + FP/2 + FN/2 + s/2) = (2TP + s) / (S(p) + S(y) + s).
        const a = await valueAndGradOn(tversky({ smooth: s / 2, classes }), p);
        const b = await valueAndGradOn(dice({ smooth: s, classes }), p);
        assertClose(a.value, b.value, { rtol: 1e-12, atol: 1e-15 });
        assertClose(a.grad, b.grad, { rtol: 1e-9, atol: 1e-14 });
      },
    ),
    RUNS,
  );
});

Deno.test("tversky: alpha = beta = 1 equals Jaccard", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const a = await valueAndGradOn(tversky({ alpha: 1, beta: 1 }), p);
      const b = await valueAndGradOn(jaccard(), p);
      assertClose(a.value, b.value, { rtol: 1e-12, atol: 1e-15 });
      assertClose(a.grad, b.grad, { rtol: 1e-9, atol: 1e-14 });
    }),
    RUNS,
  );
});

Deno.test("tversky: bad options are ValueErrors naming the field", () => {
  assertThrows(() => tversky({ alpha: -1 }), ValueError, "alpha");
  assertThrows(() => tversky({ beta: NaN }), ValueError, "beta");
});
