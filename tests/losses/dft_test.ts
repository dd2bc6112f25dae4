import fc from "fast-check";
import {
  crossEntropy,
  dynamicFineTuning,
  probabilityLoss,
  type Tensor,
  valueAndGrad,
  ValueError,
} from "../../mod.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueAndGradOn, valueOn } from "./_helpers.ts";
import { counted } from "./_reference.ts";

Deno.test("dynamicFineTuning: the JSDoc example, 0.75 log(4/3)", async () => {
  const v = await valueOn(dynamicFineTuning(), { logits: [[Math.log(3), 0]], targets: [0] });
  assertClose(v, 0.75 * Math.log(4 / 3), { rtol: 1e-12 });
});

Deno.test("dynamicFineTuning: per position, the value is p_t times cross-entropy", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true, scale: 10 }), async (p) => {
      const { logits, targets, mask } = tensorsOf(p);
      const dft = await dynamicFineTuning({ reduction: "none" })(logits, targets, { mask }).data();
      const ce = await crossEntropy({ reduction: "none" })(logits, targets, { mask }).data();
      const probs = await logits.softmax().data();
      const c = p.logits[0].length;
      const kept = new Set(counted(p));
      for (let i = 0; i < p.targets.length; i++) {
        const expected = kept.has(i) ? probs[i * c + p.targets[i]] * ce[i] : 0;
        assertClose(dft[i], expected, { rtol: 1e-12, atol: 1e-300 });
      }
    }),
    RUNS,
  );
});

Deno.test("dynamicFineTuning: the gradient is sg(p_t) times cross-entropy's, row by row", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true, scale: 10 }), async (p) => {
      const { logits, targets, mask } = tensorsOf(p);
      const sum = <T>(f: (o: { reduction: "sum" }) => T) => f({ reduction: "sum" });
      const gradOf = async (loss: (z: Tensor) => Tensor) =>
        await valueAndGrad(loss)(logits)[1].data();
      const dft = await gradOf((z) => sum(dynamicFineTuning)(z, targets, { mask }));
      const ce = await gradOf((z) => sum(crossEntropy)(z, targets, { mask }));
      const probs = await logits.softmax().data();
      const c = p.logits[0].length;
      const kept = new Set(counted(p));
      for (let i = 0; i < p.targets.length; i++) {
        const pt = kept.has(i) ? probs[i * c + p.targets[i]] : 0;
        for (let k = 0; k < c; k++) {
          // p_t reaches the two sides by different roundings (exp of the log-softmax, the
          // softmax), and the target's entry p_t - 1 cancels when p_t ≈ 1: its error is a few
          // float64 ulps of 1, not of the entry (entries are at most 1 in size).
          assertClose(dft[i * c + k], pt * ce[i * c + k], { rtol: 1e-12, atol: 1e-15 });
        }
      }
    }),
    RUNS,
  );
});

Deno.test("dynamicFineTuning: its gradient equals probabilityLoss(a=1)'s, its value does not", async () => {
  // d/dz (1 - p_t) = p_t (p - y) = sg(p_t) ∇(-log p_t): the same update, a different value.
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const a = await valueAndGradOn(dynamicFineTuning(), p);
      const b = await valueAndGradOn(probabilityLoss({ a: 1 }), p);
      assertClose(a.grad, b.grad, { rtol: 1e-11, atol: 1e-15 });
    }),
    RUNS,
  );
});

Deno.test("dynamicFineTuning: values lie in [0, 1/e], the maximum at p_t = 1/e", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ scale: 20, mask: true }), async (p) => {
      const v = await valueOn(dynamicFineTuning(), p);
      if (!(v >= 0 && v <= 1 / Math.E + 1e-15)) throw new Error(`${v} outside [0, 1/e]`);
    }),
    RUNS,
  );
  // Two classes with p_t = 1/e: z_t - z_o = log(p / (1 - p)).
  const z = Math.log((1 / Math.E) / (1 - 1 / Math.E));
  assertClose(await valueOn(dynamicFineTuning(), { logits: [[z, 0]], targets: [0] }), 1 / Math.E, {
    rtol: 1e-12,
  });
});

Deno.test("dynamicFineTuning: reductions, names and option errors", async () => {
  const p = { logits: [[0, 0], [2, 0], [1, 1]], targets: [0, 0, -100] };
  const { logits, targets } = tensorsOf(p);
  const none = await dynamicFineTuning({ reduction: "none" })(logits, targets).array();
  const sum = await dynamicFineTuning({ reduction: "sum" })(logits, targets).item();
  const mean = await dynamicFineTuning()(logits, targets).item();
  const p2 = 1 / (1 + Math.exp(-2));
  assertClose(none as number[], [0.5 * Math.log(2), -p2 * Math.log(p2), 0], { rtol: 1e-12 });
  assertClose(sum, (none as number[])[0] + (none as number[])[1], { rtol: 1e-12 });
  assertClose(mean, sum / 2, { rtol: 1e-12 });
  assertEquals(dynamicFineTuning().name, "dynamicFineTuning");
  assertEquals(dynamicFineTuning({ masking: "paper" }).name, "dynamicFineTuning(paper)");
  assertThrows(() => dynamicFineTuning({ reduction: "max" as "sum" }), ValueError, "reduction");
  assertThrows(
    () => dynamicFineTuning({ gamma: 1 } as never),
    ValueError,
    'dynamicFineTuning: unknown option "gamma"',
  );
  // p_t rounding to 1 or 0 keeps everything finite.
  const [v, g] = valueAndGrad((x: Tensor) => dynamicFineTuning()(x, i32([0, 1])))(
    f64([[80, 0, 0], [80, -80, 0]]),
  );
  const grad = await g.data();
  if (!Number.isFinite(await v.item()) || !grad.every(Number.isFinite)) throw new Error("finite");
});
