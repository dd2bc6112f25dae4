import fc from "fast-check";
import { crossEntropy, probabilityLoss, type Tensor, valueAndGrad, ValueError } from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueAndGradOn, valueOn } from "./_helpers.ts";
import { counted, refProbability } from "./_reference.ts";

Deno.test("probabilityLoss: the JSDoc examples", async () => {
  const half = { logits: [[0, 0]], targets: [0] };
  assertClose(await valueOn(probabilityLoss({ a: 1 }), half), 0.5, { rtol: 1e-14 });
  assertClose(await valueOn(probabilityLoss({ a: 0.5 }), half), 2 * (1 - Math.SQRT1_2), {
    rtol: 1e-12,
  });
  assertClose(await valueOn(probabilityLoss({ a: 0 }), half), Math.log(2), { rtol: 1e-14 });
  const threeQuarters = { logits: [[Math.log(3), 0]], targets: [0] };
  assertClose(await valueOn(probabilityLoss(), threeQuarters), 0.25, { rtol: 1e-12 });
});

Deno.test("probabilityLoss: a = 1 is 1 - p_t at every position", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true, scale: 10 }), async (p) => {
      const { logits, targets, mask } = tensorsOf(p);
      const v = await probabilityLoss({ a: 1, reduction: "none" })(logits, targets, { mask })
        .data();
      const probs = await logits.softmax().data();
      const c = p.logits[0].length;
      const kept = new Set(counted(p));
      for (let i = 0; i < p.targets.length; i++) {
        const expected = kept.has(i) ? 1 - probs[i * c + p.targets[i]] : 0;
        assertClose(v[i], expected, { rtol: 1e-10, atol: 1e-15 });
      }
    }),
    RUNS,
  );
});

Deno.test("probabilityLoss: a = 0 is cross-entropy exactly, value and gradient", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true, scale: 30 }), async (p) => {
      const a = await valueAndGradOn(probabilityLoss({ a: 0 }), p);
      const b = await valueAndGradOn(crossEntropy(), p);
      assert(Object.is(a.value, b.value), `${a.value} vs ${b.value}`);
      assertEquals(Array.from(a.grad), Array.from(b.grad));
    }),
    RUNS,
  );
});

Deno.test("probabilityLoss: as a -> 0 it approaches cross-entropy, to within a · log²(p)/2", async () => {
  // (1 - p^a)/a = -log p - a log²p / 2 - ...: the gap shrinks linearly in a, with its digits.
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 6 }),
      fc.constantFrom(1e-3, 1e-6, 1e-9, 1e-12),
      async (p, a) => {
        const v = await valueOn(probabilityLoss({ a }), p);
        const ce = await valueOn(crossEntropy(), p);
        const bound = counted(p).length ? a * 40 * 40 : 0; // |log p| <= 2·6 + log 5 < 40
        assert(v <= ce + 1e-15 && ce - v <= bound, `a=${a}: ${v} vs ce ${ce}`);
        assertClose(v, refProbability(p, a), { rtol: 1e-12, atol: 1e-15 });
      },
    ),
    RUNS,
  );
});

Deno.test("probabilityLoss: falls as p_t rises, and lies in [0, 1/a]", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.double({ min: 0, max: 3, noNaN: true }),
      fc.double({ min: -30, max: 30, noNaN: true }),
      fc.double({ min: 0.01, max: 5, noNaN: true }),
      async (a, z, step) => {
        // Two classes: p_t = sigmoid(z) rises with z.
        const at = (x: number) =>
          valueOn(probabilityLoss({ a }), { logits: [[x, 0]], targets: [0] });
        const [lo, hi] = [await at(z + step), await at(z)];
        // Where p_t is ~1e-13 both sit at 1/a, a rounding apart.
        assert(lo <= hi * (1 + 1e-14), `a=${a}: f at z+${step} = ${lo} > f at z = ${hi}`);
        if (a > 0) assert(hi >= 0 && hi <= 1 / a + 1e-12, `a=${a}: ${hi} outside [0, 1/a]`);
      },
    ),
    RUNS,
  );
});

Deno.test("probabilityLoss: the gradient is p_t^a times cross-entropy's", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 8 }),
      fc.double({ min: 0, max: 3, noNaN: true }),
      async (p, a) => {
        const { logits, targets, mask } = tensorsOf(p);
        const gradOf = async (loss: (z: Tensor) => Tensor) =>
          await valueAndGrad(loss)(logits)[1].data();
        const g = await gradOf((z) =>
          probabilityLoss({ a, reduction: "sum" })(z, targets, { mask })
        );
        const ce = await gradOf((z) => crossEntropy({ reduction: "sum" })(z, targets, { mask }));
        const probs = await logits.softmax().data();
        const c = p.logits[0].length;
        const kept = new Set(counted(p));
        for (let i = 0; i < p.targets.length; i++) {
          const w = kept.has(i) ? Math.pow(probs[i * c + p.targets[i]], a) : 0;
          for (let k = 0; k < c; k++) {
            assertClose(g[i * c + k], w * ce[i * c + k], { rtol: 1e-9, atol: 1e-14 });
          }
        }
      },
    ),
    RUNS,
  );
});

Deno.test("probabilityLoss: reductions, names and option errors", async () => {
  const p = { logits: [[0, 0], [2, 0], [1, 1]], targets: [0, 0, -100] };
  const { logits, targets } = tensorsOf(p);
  const f = (reduction: "none" | "sum" | "mean") =>
    probabilityLoss({ a: 2, reduction })(logits, targets);
  const p2 = 1 / (1 + Math.exp(-2));
  const none = (await f("none").array()) as number[];
  assertClose(none, [(1 - 0.25) / 2, (1 - p2 * p2) / 2, 0], { rtol: 1e-12 });
  assertClose(await f("sum").item(), none[0] + none[1], { rtol: 1e-12 });
  assertClose(await f("mean").item(), (none[0] + none[1]) / 2, { rtol: 1e-12 });
  assertEquals(probabilityLoss().name, "probabilityLoss(a=1)");
  assertEquals(probabilityLoss({ a: 0.5, masking: "paper" }).name, "probabilityLoss(a=0.5, paper)");
  for (const bad of [-0.5, NaN, Infinity]) {
    assertThrows(() => probabilityLoss({ a: bad }), ValueError, "probabilityLoss: a must be");
  }
  assertThrows(() => probabilityLoss({ alpha: 1 } as never), ValueError, 'unknown option "alpha"');
  const [v, g] = valueAndGrad((x: Tensor) => probabilityLoss({ a: 0.5 })(x, i32([0, 1])))(
    f64([[80, 0, 0], [80, -80, 0]]),
  );
  const grad = await g.data();
  assert(Number.isFinite(await v.item()) && grad.every(Number.isFinite), `${grad}`);
});
