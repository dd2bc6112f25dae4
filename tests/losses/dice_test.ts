import fc from "fast-check";
import { dice, tensor, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { logitsOfProbabilities, problems, RUNS, valueOn } from "./_helpers.ts";

// The known value: target [1,1,1,1] against prediction [1,1,0,0] as two-class probabilities.
const known = {
  logits: logitsOfProbabilities([[0, 1], [0, 1], [1, 0], [1, 0]]),
  targets: [1, 1, 1, 1],
};

Deno.test("dice: the known value, Dice score 2/3", async () => {
  assertClose(await valueOn(dice({ smooth: 0 }), known), 1 - 2 / 3, { rtol: 1e-12 });
  assertClose(await valueOn(dice(), known), 1 - 2 / 3, { rtol: 1e-5 });
  // The same in float32 with ±large logits.
  const v = await dice({ smooth: 0 })(
    tensor([[-1e4, 1e4], [-1e4, 1e4], [1e4, -1e4], [1e4, -1e4]]),
    tensor([1, 1, 1, 1], { dtype: "int32" }),
  ).item();
  assertClose(v, 1 / 3, { rtol: 1e-6 });
});

Deno.test("dice: classes 'all' also scores the absent classes", async () => {
  // Class 0 is absent but receives half the mass: Dice 0 for it, so 'all' averages 1/3 and 1.
  assertClose(await valueOn(dice({ smooth: 0, classes: "all" }), known), (1 / 3 + 1) / 2, {
    rtol: 1e-12,
  });
});

Deno.test("dice: smoothing 0 with an empty class is 0, not NaN", async () => {
  const p = { logits: logitsOfProbabilities([[1, 0, 0], [1, 0, 0]]), targets: [0, 0] };
  assertClose(await valueOn(dice({ smooth: 0, classes: "all" }), p), 0, { atol: 0 });
});

Deno.test("dice: a larger smoothing moves the value toward 0, never outside [0, 1]", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const a = await valueOn(dice({ smooth: 0 }), p);
      const b = await valueOn(dice({ smooth: 100 }), p);
      if (!(b <= a + 1e-12 && b >= 0)) throw new Error(`${a} -> ${b}`);
    }),
    RUNS,
  );
});

Deno.test("dice: bad options are ValueErrors naming the field", () => {
  assertThrows(() => dice({ smooth: -1 }), ValueError, "smooth");
  // @ts-expect-error: not a choice
  assertThrows(() => dice({ classes: "some" }), ValueError, "classes");
});
