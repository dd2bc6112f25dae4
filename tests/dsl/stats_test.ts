// The comparison statistics against values computed independently (tests/fixtures/stats/
// make_stats.py: closed forms, exact integer binomials) and their invariants as properties.
import fc from "fast-check";
import {
  holm,
  mcnemarExact,
  normalQuantile,
  pairedBootstrap,
  wilsonInterval,
} from "../../src/dsl/report/stats.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";

interface Reference {
  wilson: { k: number; n: number; confidence: number; interval: [number, number] }[];
  mcnemar: { b: number; c: number; p: number }[];
  bootstrapOneSeed: { k: number; n: number; lo: number; hi: number }[];
}
const ref: Reference = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/stats/stats_reference.json", import.meta.url)),
);

/** n 0/1 cells, the first k of them 1. */
const ones = (k: number, n: number) => Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));

Deno.test("normalQuantile: the 97.5% point, symmetry, and bad input", () => {
  assertClose(normalQuantile(0.975), 1.959963984540054, { rtol: 1e-14, atol: 0 });
  assertClose(normalQuantile(0.001), -normalQuantile(0.999), { rtol: 1e-13, atol: 0 });
  assertEquals(normalQuantile(0.5), 0);
  assertThrows(() => normalQuantile(1), RangeError, "normalQuantile: p must be in (0, 1)");
});

Deno.test("wilsonInterval equals the closed form computed in Python", () => {
  for (const c of ref.wilson) {
    const i = wilsonInterval(c.k, c.n, c.confidence);
    assertClose([i.lo, i.hi], c.interval, { rtol: 1e-12, atol: 1e-15, msg: `${c.k}/${c.n}` });
    assertEquals(i.estimate, c.k / c.n);
  }
  assertEquals(wilsonInterval(0, 0), { estimate: NaN, lo: 0, hi: 1 });
  assertThrows(
    () => wilsonInterval(5, 4),
    RangeError,
    "successes must be an integer in [0, n = 4]",
  );
  assertThrows(() => wilsonInterval(1, 4, 1.5), RangeError, "confidence must be in (0, 1)");
});

Deno.test("wilsonInterval: contains the proportion, inside [0, 1], narrower with more items", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.nat(), (n, draw) => {
      const k = draw % (n + 1);
      const i = wilsonInterval(k, n);
      assert(0 <= i.lo && i.lo <= i.estimate && i.estimate <= i.hi && i.hi <= 1, `${k}/${n}`);
      // The same proportion from four times the items is measured more tightly.
      const more = wilsonInterval(4 * k, 4 * n);
      assert(more.hi - more.lo < i.hi - i.lo, `${k}/${n}: ${more.hi - more.lo}`);
    }),
  );
});

Deno.test("mcnemarExact equals the exact binomial tail, also for tens of thousands of items", () => {
  for (const c of ref.mcnemar) {
    assertClose(mcnemarExact(c.b, c.c), c.p, { rtol: 1e-9, atol: 0, msg: `b=${c.b} c=${c.c}` });
  }
  assertThrows(() => mcnemarExact(-1, 2), RangeError, "mcnemarExact: b must be an integer >= 0");
});

Deno.test("mcnemarExact: in (0, 1], symmetric in b and c, 1 when b = c", () => {
  fc.assert(
    fc.property(fc.nat(600), fc.nat(600), (b, c) => {
      const p = mcnemarExact(b, c);
      assert(p > 0 && p <= 1, `b=${b} c=${c}: ${p}`);
      assertEquals(p, mcnemarExact(c, b));
      assertEquals(mcnemarExact(b, b), 1);
      // One more discordant item on the side that leads makes the evidence stronger.
      if (b > c) assert(mcnemarExact(b + 1, c) <= p, `b=${b} c=${c}`);
    }),
  );
});

Deno.test("holm: adjusted p-values by hand, monotone in the raw ones", () => {
  assertClose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06], { rtol: 1e-12 });
  assertEquals(holm([0.5, 0.9]), [1, 1]);
  assertEquals(holm([]), []);
});

Deno.test("pairedBootstrap: one seed approaches the exact bootstrap quantiles", () => {
  for (const c of ref.bootstrapOneSeed) {
    const i = pairedBootstrap([ones(c.k, c.n)], { resamples: 20000, seed: 3 });
    assertEquals(i.estimate, c.k / c.n);
    // Monte-Carlo quantiles of a lattice distribution: within one step of the exact ones.
    assert(Math.abs(i.lo - c.lo) <= 1 / c.n + 1e-12, `${c.k}/${c.n}: lo ${i.lo} vs ${c.lo}`);
    assert(Math.abs(i.hi - c.hi) <= 1 / c.n + 1e-12, `${c.k}/${c.n}: hi ${i.hi} vs ${c.hi}`);
  }
});

Deno.test("pairedBootstrap: identical seeds resampled add no width; spread seeds add some", () => {
  const same = [ones(30, 100), ones(30, 100), ones(30, 100)];
  const one = pairedBootstrap([ones(30, 100)], { seed: 5 });
  const three = pairedBootstrap(same, { seed: 5 });
  // The same problem draws in every seed: three identical seeds are one seed.
  assertClose(three.hi - three.lo, one.hi - one.lo, { atol: 0.02 });
  const spread = pairedBootstrap([ones(10, 100), ones(30, 100), ones(50, 100)], { seed: 5 });
  assert(spread.hi - spread.lo > 2 * (one.hi - one.lo), `${spread.lo}..${spread.hi}`);
  const fixed = pairedBootstrap([ones(10, 100), ones(30, 100), ones(50, 100)], {
    seed: 5,
    resampleSeeds: false,
  });
  assert(fixed.hi - fixed.lo < spread.hi - spread.lo);
});

Deno.test("pairedBootstrap: a paired difference of a model with itself is exactly zero", () => {
  const d = pairedBootstrap([[0, 0, 0, 0], [0, 0, 0, 0]], { seed: 1 });
  assertEquals(d, { estimate: 0, lo: 0, hi: 0 });
});

Deno.test("pairedBootstrap: contains the estimate, deterministic for a seed", () => {
  const cells = fc.integer({ min: 1, max: 3 }).chain((S) =>
    fc.integer({ min: 1, max: 40 }).chain((n) =>
      fc.array(fc.array(fc.integer({ min: -1, max: 1 }), { minLength: n, maxLength: n }), {
        minLength: S,
        maxLength: S,
      })
    )
  );
  fc.assert(
    fc.property(cells, fc.nat(1000), (x, seed) => {
      const i = pairedBootstrap(x, { seed });
      assert(i.lo <= i.estimate && i.estimate <= i.hi, JSON.stringify({ x, i }));
      assert(i.lo >= -1 && i.hi <= 1);
      assertEquals(pairedBootstrap(x, { seed }), i);
    }),
    { numRuns: 150 },
  );
});

Deno.test("pairedBootstrap: errors name the problem", () => {
  assertThrows(() => pairedBootstrap([]), RangeError, "need at least one seed and one problem");
  assertThrows(
    () => pairedBootstrap([[1, 0], [1]]),
    RangeError,
    "every seed needs the same problems; seed 1 has 1",
  );
  assertThrows(() => pairedBootstrap([[1]], { resamples: 0 }), RangeError, "resamples must be");
});
