import fc from "fast-check";
import { crossEntropy, tensor, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueOn } from "./_helpers.ts";
import { counted, refCrossEntropyAt } from "./_reference.ts";

Deno.test("crossEntropy: the JSDoc example, log 2", async () => {
  const v = await crossEntropy()(tensor([[0, 0], [2, 0]]), tensor([1, -100], { dtype: "int32" }))
    .item();
  assertClose(v, Math.log(2), { rtol: 1e-6 });
});

Deno.test("crossEntropy: reduction none gives per-position values, 0 where ignored", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const { logits, targets, mask } = tensorsOf(p);
      const none = await crossEntropy({ reduction: "none" })(logits, targets, { mask }).data();
      const valid = new Set(counted(p));
      const expected = p.targets.map((_, i) => (valid.has(i) ? refCrossEntropyAt(p, i) : 0));
      assertClose(none, expected, { rtol: 1e-12, atol: 1e-14 });
      const sum = await crossEntropy({ reduction: "sum" })(logits, targets, { mask }).item();
      assertClose(sum, expected.reduce((a, b) => a + b, 0), { rtol: 1e-12, atol: 1e-14 });
    }),
    RUNS,
  );
});

Deno.test("crossEntropy: label smoothing 1 is the mean of -log p over classes", async () => {
  const p = { logits: [[1, 2, 3], [0, -1, 2]], targets: [2, 0] };
  const z = p.logits.map((r) => {
    const m = Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
    return r.reduce((a, v) => a + (m - v), 0) / r.length;
  });
  assertClose(await valueOn(crossEntropy({ labelSmoothing: 1 }), p), (z[0] + z[1]) / 2, {
    rtol: 1e-12,
  });
});

Deno.test("crossEntropy: a custom ignoreIndex", async () => {
  const z = f64([[1, 2, 3], [3, 1, 0]]);
  const a = await crossEntropy({ ignoreIndex: -1 })(z, i32([2, -1])).item();
  const b = await crossEntropy()(z, i32([2, -100])).item();
  assertClose(a, b, { rtol: 1e-15 });
  // -100 is then an out-of-range target, not an ignored one.
  assertThrows(() => crossEntropy({ ignoreIndex: -1 })(z, i32([2, -100])), ValueError, "-100");
});

Deno.test("crossEntropy: [B, T, C] logits equal their flattened [B·T, C] form", async () => {
  const rows = [[1, 2, 0], [0, 0, 1], [3, -1, 2], [0.5, 0.5, 0]];
  const t = [2, -100, 0, 1];
  const flat = await crossEntropy()(f64(rows), i32(t)).item();
  const batched = await crossEntropy()(f64(rows, [2, 2, 3]), i32(t, [2, 2])).item();
  assertClose(batched, flat, { rtol: 1e-15 });
});

Deno.test("crossEntropy: float32 agrees with float64", async () => {
  await fc.assert(
    fc.asyncProperty(problems({ mask: true }), async (p) => {
      const { targets } = tensorsOf(p);
      const v32 = await crossEntropy()(tensor(p.logits), targets).item();
      const v64 = await crossEntropy()(f64(p.logits), targets).item();
      assertClose(v32, v64, { rtol: 1e-5, atol: 1e-6 });
    }),
    RUNS,
  );
});

Deno.test("crossEntropy: bad options are ValueErrors naming the field", () => {
  assertThrows(() => crossEntropy({ labelSmoothing: 1.5 }), ValueError, "labelSmoothing");
  assertThrows(() => crossEntropy({ labelSmoothing: -0.1 }), ValueError, "labelSmoothing");
  // @ts-expect-error: not a reduction
  assertThrows(() => crossEntropy({ reduction: "avg" }), ValueError, "reduction");
});
