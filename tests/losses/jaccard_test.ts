import fc from "fast-check";
import { dice, jaccard } from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { logitsOfProbabilities, RUNS, valueOn } from "./_helpers.ts";

Deno.test("jaccard: the known value, IoU 0.5", async () => {
  const p = {
    logits: logitsOfProbabilities([[0, 1], [0, 1], [1, 0], [1, 0]]),
    targets: [1, 1, 1, 1],
  };
  assertClose(await valueOn(jaccard({ smooth: 0 }), p), 0.5, { rtol: 1e-12 });
  assertClose(await valueOn(jaccard(), p), 0.5, { rtol: 1e-5 });
});

Deno.test("jaccard: on hard predictions, IoU = Dice / (2 - Dice)", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), async (hits) => {
      // Every target is class 1; the prediction puts all mass on class 1 where `hit`.
      const p = {
        logits: logitsOfProbabilities(hits.map((h) => (h ? [0, 1] : [1, 0]))),
        targets: hits.map(() => 1),
      };
      const d = 1 - await valueOn(dice({ smooth: 0 }), p);
      const j = 1 - await valueOn(jaccard({ smooth: 0 }), p);
      assertClose(j, d / (2 - d), { rtol: 1e-12, atol: 1e-15 });
    }),
    RUNS,
  );
});
