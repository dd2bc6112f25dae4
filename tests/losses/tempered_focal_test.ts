import fc from "fast-check";
import {
  crossEntropy,
  focal,
  temperedFocal,
  type Tensor,
  valueAndGrad,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { f64, i32, problems, RUNS, tensorsOf, valueAndGradOn, valueOn } from "./_helpers.ts";
import { counted, refTemperedFocal } from "./_reference.ts";

Deno.test("temperedFocal: the JSDoc examples", async () => {
  const half = { logits: [[0, 0]], targets: [1] };
  const w1 = 0.5 + 0.5 * Math.log(2);
  assertClose(await valueOn(temperedFocal({ gamma: 1, temperature: 1 }), half), w1 * Math.log(2), {
    rtol: 1e-12,
  });
  const w3 = 1 / 8 + (3 / 8) * Math.log(2);
  assertClose(await valueOn(temperedFocal(), half), w3 * 0.8 * Math.log(2), { rtol: 1e-12 });
  assertClose(await valueOn(temperedFocal({ gamma: 0, temperature: 1 }), half), Math.log(2), {
    rtol: 1e-14,
  });
});

Deno.test("temperedFocal: at temperature 1 its gradient is focal's with the same gamma", async () => {
  // w(p, g) is exactly the factor focal's gradient has over cross-entropy's.
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 8 }),
      fc.double({ min: 0, max: 4, noNaN: true }),
      async (p, gamma) => {
        const a = await valueAndGradOn(temperedFocal({ gamma, temperature: 1 }), p);
        const b = await valueAndGradOn(focal({ gamma }), p);
        assertClose(a.grad, b.grad, { rtol: 1e-9, atol: 1e-14 });
      },
    ),
    RUNS,
  );
});

Deno.test("temperedFocal: gamma 0 is cross-entropy at temperature b, times b", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 8 }),
      fc.double({ min: 0.1, max: 4, noNaN: true }),
      async (p, b) => {
        const { logits, targets, mask } = tensorsOf(p);
        const run = (loss: (z: Tensor) => Tensor) => valueAndGrad(loss)(logits);
        const [v1, g1] = run((z) =>
          temperedFocal({ gamma: 0, temperature: b })(z, targets, { mask })
        );
        const [v2, g2] = run((z) => crossEntropy()(z.div(b), targets, { mask }).mul(b));
        assertClose(await v1.item(), await v2.item(), { rtol: 1e-12, atol: 1e-15 });
        assertClose(await g1.data(), await g2.data(), { rtol: 1e-10, atol: 1e-15 });
      },
    ),
    RUNS,
  );
});

Deno.test("temperedFocal: the gradient is sg(w(p_t)) (q - y) with q = softmax(z / b)", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 6 }),
      fc.double({ min: 0, max: 4, noNaN: true }),
      fc.double({ min: 0.2, max: 3, noNaN: true }),
      async (p, gamma, b) => {
        const { logits, targets, mask } = tensorsOf(p);
        const loss = temperedFocal({ gamma, temperature: b, reduction: "sum" });
        const g = await valueAndGrad((z: Tensor) => loss(z, targets, { mask }))(logits)[1].data();
        const c = p.logits[0].length;
        const kept = new Set(counted(p));
        for (let i = 0; i < p.targets.length; i++) {
          const row = p.logits[i];
          const soft = (s: number) => {
            const e = row.map((v) => Math.exp(s * v - Math.max(...row.map((x) => s * x))));
            const sum = e.reduce((x, y) => x + y, 0);
            return e.map((v) => v / sum);
          };
          const pt = soft(1)[p.targets[i]], q = soft(1 / b);
          const u = Math.max(1 - pt, 1e-30);
          const w = Math.pow(u, gamma) -
            (gamma === 0 ? 0 : gamma * pt * Math.pow(u, gamma - 1) * Math.log(pt));
          for (let k = 0; k < c; k++) {
            const expected = kept.has(i) ? w * (q[k] - (k === p.targets[i] ? 1 : 0)) : 0;
            assertClose(g[i * c + k], expected, { rtol: 1e-8, atol: 1e-13 });
          }
        }
      },
    ),
    RUNS,
  );
});

Deno.test("temperedFocal: non-negative, and the reference on random options", async () => {
  await fc.assert(
    fc.asyncProperty(
      problems({ mask: true, scale: 20 }),
      fc.double({ min: 0, max: 5, noNaN: true }),
      fc.double({ min: 0.05, max: 5, noNaN: true }),
      async (p, gamma, b) => {
        const v = await valueOn(temperedFocal({ gamma, temperature: b }), p);
        assert(v >= 0, `${v} < 0`);
        // The loss computes 1 - p_t from p_t, which keeps only eps / (1 - p_t) of its relative
        // accuracy as p_t nears 1 (the reference sums the other classes instead).
        const rest = Math.min(
          ...counted(p).map((i) => {
            const z = p.logits[i], m = Math.max(...z);
            const e = z.map((x) => Math.exp(x - m)), total = e.reduce((a, x) => a + x, 0);
            return e.reduce((a, x, k) => (k === p.targets[i] ? a : a + x), 0) / total;
          }),
        );
        const rtol = 1e-9 + 2 ** -52 / Math.max(rest, 1e-300);
        assertClose(v, refTemperedFocal(p, gamma, b), { rtol, atol: 1e-12 });
      },
    ),
    RUNS,
  );
});

Deno.test("temperedFocal: reductions, names and option errors", async () => {
  const p = { logits: [[0, 0], [2, 0], [1, 1]], targets: [0, 0, -100] };
  const { logits, targets } = tensorsOf(p);
  const f = (reduction: "none" | "sum" | "mean") => temperedFocal({ reduction })(logits, targets);
  const none = (await f("none").array()) as number[];
  assertClose(none[2], 0, { atol: 0 });
  assertClose(none[1], refTemperedFocal({ logits: [[2, 0]], targets: [0] }), { rtol: 1e-12 });
  assertClose(await f("sum").item(), none[0] + none[1], { rtol: 1e-12 });
  assertClose(await f("mean").item(), (none[0] + none[1]) / 2, { rtol: 1e-12 });
  assertEquals(temperedFocal().name, "temperedFocal(gamma=3, temperature=0.8)");
  assertEquals(
    temperedFocal({ masking: "paper" }).name,
    "temperedFocal(gamma=3, temperature=0.8, paper)",
  );
  assertThrows(() => temperedFocal({ gamma: -1 }), ValueError, "temperedFocal: gamma");
  for (const bad of [0, -1, NaN]) {
    assertThrows(
      () => temperedFocal({ temperature: bad }),
      ValueError,
      "temperedFocal: temperature",
    );
  }
  assertThrows(() => temperedFocal({ beta: 1 } as never), ValueError, 'unknown option "beta"');
  const [v, g] = valueAndGrad((x: Tensor) => temperedFocal({ gamma: 0.5 })(x, i32([0, 1])))(
    f64([[80, 0, 0], [80, -80, 0]]),
  );
  const grad = await g.data();
  assert(Number.isFinite(await v.item()) && grad.every(Number.isFinite), `${grad}`);
});
