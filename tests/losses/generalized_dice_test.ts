import fc from "fast-check";
import { generalizedDice, ValueError } from "../../mod.ts";
import { assertClose, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { f64, GRAD_RUNS, i32, problems, RUNS, valueOn } from "./_helpers.ts";
import { type Problem, refGeneralizedDice } from "./_reference.ts";

/** Random [B, T, C] problems (flattened to N = B·T positions). */
const batched = fc.record({ b: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: 4 }) })
  .chain(({ b, t }) =>
    problems({ minN: b * t, maxN: b * t, maxC: 4, mask: true }).map((p) => ({ b, t, p }))
  );

function sequences(b: number, t: number): number[][] {
  return Array.from({ length: b }, (_, s) => Array.from({ length: t }, (_, i) => s * t + i));
}

function batchedTensors(b: number, t: number, p: Problem) {
  const c = p.logits[0].length;
  return {
    logits: f64(p.logits.flat(), [b, t, c]),
    targets: i32(p.targets, [b, t]),
    mask: p.mask ? f64(p.mask, [b, t]) : undefined,
  };
}

for (const weight of ["square", "simple", "uniform"] as const) {
  Deno.test(`generalizedDice(${weight}): [B, T, C] gives one value per sequence, then the mean`, async () => {
    await fc.assert(
      fc.asyncProperty(batched, async ({ b, t, p }) => {
        const { logits, targets, mask } = batchedTensors(b, t, p);
        const v = await generalizedDice({ weight })(logits, targets, { mask }).item();
        assertClose(v, refGeneralizedDice(p, sequences(b, t), weight), {
          rtol: 1e-9,
          atol: 1e-12,
        });
        const pooled = await generalizedDice({ weight, perSequence: false })(logits, targets, {
          mask,
        }).item();
        assertClose(pooled, refGeneralizedDice(p, [p.targets.map((_, i) => i)], weight), {
          rtol: 1e-9,
          atol: 1e-12,
        });
      }),
      RUNS,
    );
  });
}

Deno.test("generalizedDice: per-sequence gradient equals central differences", async () => {
  await fc.assert(
    fc.asyncProperty(batched, async ({ b, t, p }) => {
      const { logits, targets, mask } = batchedTensors(b, t, p);
      await gradcheck(([z]) => generalizedDice()(z, targets, { mask }), [logits], { tol: 1e-5 });
    }),
    GRAD_RUNS,
  );
});

Deno.test("generalizedDice: absent classes take the largest finite weight of the sequence", async () => {
  // Sequence: class 0 twice, class 1 once, class 2 absent. Square weights: 1/4, 1, and 1.
  const p: Problem = { logits: [[1, 0, 0.5], [0.2, 0.1, 0], [0, 2, 1]], targets: [0, 0, 1] };
  const pr = p.logits.map((r) => {
    const e = r.map(Math.exp);
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
  const w = [1 / 4, 1, 1];
  const sp = [0, 1, 2].map((k) => pr.reduce((a, r) => a + r[k], 0));
  const tp = [pr[0][0] + pr[1][0], pr[2][1], 0];
  const sy = [2, 1, 0];
  const s = 1e-5;
  const num = 2 * (w[0] * tp[0] + w[1] * tp[1] + w[2] * tp[2]) + s;
  const den = w.reduce((a, wk, k) => a + wk * (sp[k] + sy[k]), 0) + s;
  assertClose(await valueOn(generalizedDice(), p), 1 - num / den, { rtol: 1e-12 });
});

Deno.test("generalizedDice: a fully ignored sequence is skipped, not counted as 0", async () => {
  const logits = f64([[1, 0], [0, 1], [3, 3], [2, 1]].flat(), [2, 2, 2]);
  const v = await generalizedDice()(logits, i32([0, 1, -100, -100], [2, 2])).item();
  const first = await generalizedDice()(f64([[1, 0], [0, 1]]), i32([0, 1])).item();
  assertClose(v, first, { rtol: 1e-14 });
});

Deno.test("generalizedDice: bad options are ValueErrors naming the field", () => {
  // @ts-expect-error: not a weighting
  assertThrows(() => generalizedDice({ weight: "log" }), ValueError, "weight");
  assertThrows(() => generalizedDice({ smooth: -1 }), ValueError, "smooth");
});
