import fc from "fast-check";
import {
  jaccard,
  lovaszHinge,
  lovaszSoftmax,
  randn,
  rng,
  type Tensor,
  tensor,
  valueAndGrad,
  ValueError,
} from "../../mod.ts";
import { assert, assertClose, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { f64, GRAD_RUNS, i32, logitsOfProbabilities, RUNS, valueOn } from "./_helpers.ts";
import { refLovaszHinge, refLovaszSoftmax } from "./_reference.ts";

Deno.test("lovaszSoftmax: a perfect one-hot prediction gives 0", async () => {
  const p = {
    logits: logitsOfProbabilities([[1, 0, 0], [0, 0, 1], [0, 0, 1]]),
    targets: [0, 2, 2],
  };
  assert((await valueOn(lovaszSoftmax(), p)) === 0);
  assert((await valueOn(lovaszSoftmax({ classes: "all" }), p)) === 0);
});

Deno.test("lovaszSoftmax: on hard predictions it equals the Jaccard loss (known value 0.5)", async () => {
  const p = {
    logits: logitsOfProbabilities([[0, 1], [0, 1], [1, 0], [1, 0]]),
    targets: [1, 1, 1, 1],
  };
  assertClose(await valueOn(lovaszSoftmax(), p), 0.5, { rtol: 1e-12 });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), {
        minLength: 1,
        maxLength: 8,
      }),
      async (pairs) => {
        // Hard predictions: Lovász-Softmax per class is exactly 1 - IoU.
        const q = {
          logits: logitsOfProbabilities(
            pairs.map(([, k]) => [0, 1, 2].map((c) => (c === k ? 1 : 0))),
          ),
          targets: pairs.map(([t]) => t),
        };
        assertClose(await valueOn(lovaszSoftmax(), q), await valueOn(jaccard({ smooth: 0 }), q), {
          rtol: 1e-12,
          atol: 1e-15,
        });
      },
    ),
    RUNS,
  );
});

Deno.test("lovaszSoftmax: a vocabulary far larger than the positions never costs C rows", async () => {
  // N = 6 positions over C = 20,000 classes: K <= 6 class rows are sorted, not 20,000.
  const c = 20_000;
  const logits = randn([6, c], { rng: rng(3), dtype: "float64", backend: "cpu" });
  const targets = [17, 19_999, 17, 0, -100, 123];
  const t0 = performance.now();
  const v = await lovaszSoftmax()(logits, i32(targets)).item();
  const ms = performance.now() - t0;
  const rows = Array.from(await logits.data());
  const p = {
    logits: Array.from({ length: 6 }, (_, i) => rows.slice(i * c, (i + 1) * c)),
    targets,
  };
  assertClose(v, refLovaszSoftmax(p), { rtol: 1e-9 });
  assert(ms < 2_000, `took ${ms} ms`);
});

// ---- Lovász hinge ----

/** Random binary problems [B][T] with 0/1/-100 targets and distinct errors. */
const binary = fc.record({ b: fc.integer({ min: 1, max: 3 }), t: fc.integer({ min: 1, max: 6 }) })
  .chain(({ b, t }) =>
    fc.record({
      logits: fc.array(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: t, maxLength: t }),
        { minLength: b, maxLength: b },
      ),
      targets: fc.array(
        fc.array(fc.constantFrom(0, 1, 1, 0, -100), { minLength: t, maxLength: t }),
        { minLength: b, maxLength: b },
      ),
    })
  );

/** Smallest gap between the hinge errors of one sequence (unique sort order). */
function hingeGap(logits: number[][], targets: number[][], pooled: boolean): number {
  const rows = pooled ? [logits.flat()] : logits;
  const ts = pooled ? [targets.flat()] : targets;
  let gap = Infinity;
  rows.forEach((z, b) => {
    const err = z.map((v, i) => (ts[b][i] === -100 ? NaN : 1 - v * (2 * ts[b][i] - 1)))
      .filter((e) => !Number.isNaN(e)).sort((x, y) => x - y);
    for (let i = 1; i < err.length; i++) gap = Math.min(gap, err[i] - err[i - 1]);
    // relu's kink at 0 too.
    for (const e of err) gap = Math.min(gap, Math.abs(e) * 2);
  });
  return gap;
}

Deno.test("lovaszHinge: per sequence and pooled values match the contract", async () => {
  await fc.assert(
    fc.asyncProperty(binary, async ({ logits, targets }) => {
      const b = logits.length, t = logits[0].length;
      const z = f64(logits.flat(), [b, t]), y = i32(targets.flat(), [b, t]);
      assertClose(await lovaszHinge()(z, y).item(), refLovaszHinge(logits, targets), {
        rtol: 1e-10,
        atol: 1e-14,
      });
      const pooled = await lovaszHinge({ perSequence: false })(z, y).item();
      assertClose(pooled, refLovaszHinge([logits.flat()], [targets.flat()]), {
        rtol: 1e-10,
        atol: 1e-14,
      });
    }),
    RUNS,
  );
});

Deno.test("lovaszHinge: gradient equals central differences where the order is unique", async () => {
  await fc.assert(
    fc.asyncProperty(binary, fc.boolean(), async ({ logits, targets }, pooled) => {
      fc.pre(hingeGap(logits, targets, pooled) > 1e-4);
      const b = logits.length, t = logits[0].length;
      const y = i32(targets.flat(), [b, t]);
      const loss = lovaszHinge({ perSequence: !pooled });
      await gradcheck(([z]) => loss(z, y), [f64(logits.flat(), [b, t])], { tol: 1e-5 });
    }),
    GRAD_RUNS,
  );
});

Deno.test("lovaszHinge: a perfect margin gives 0; all ignored gives 0 with zero gradient", async () => {
  assert(await lovaszHinge()(f64([3, -2, 5]), i32([1, 0, 1])).item() === 0);
  const [v, g] = valueAndGrad((z: Tensor) => lovaszHinge()(z, i32([-100, -100])))(f64([1, 2]));
  assert(await v.item() === 0);
  assertClose(await g.data(), [0, 0], { atol: 0 });
  const masked = await lovaszHinge()(f64([1, 2]), i32([1, 0]), { mask: f64([0, 0]) }).item();
  assert(masked === 0);
});

Deno.test("lovaszHinge: bad targets and shapes are named", () => {
  const e = assertThrows(
    () => lovaszHinge()(f64([1, 2, 3]), i32([0, 2, 1])),
    ValueError,
    "target 2",
  );
  assert(
    e.message.includes("lovaszHinge") && e.message.includes("position [1]") &&
      e.message.includes("{0, 1}"),
    e.message,
  );
  assertThrows(() => lovaszHinge()(f64([1, 2, 3]), i32([0, 1])), Error, "[3]");
  assertThrows(() => lovaszHinge()(f64([1, 2]), i32([0, 1]), { mask: f64([1]) }), Error, "mask");
});

Deno.test("lovaszHinge: NaN propagates and ±1e4 logits stay finite", async () => {
  assert(Number.isNaN(await lovaszHinge()(f64([NaN, 1]), i32([1, 0])).item()));
  const [v, g] = valueAndGrad((z: Tensor) => lovaszHinge()(z, i32([1, 0, 1])))(
    tensor([-1e4, 1e4, 1e4]),
  );
  assert(Number.isFinite(await v.item()));
  assert((await g.data()).every(Number.isFinite));
});
