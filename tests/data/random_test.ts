import fc from "fast-check";
import { deriveSeed, randomInt, seededRandom, shuffleInPlace } from "../../src/data/random.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";

Deno.test("seededRandom: deterministic, in [0, 1), seed-dependent", () => {
  const a = seededRandom(42), b = seededRandom(42), c = seededRandom(43);
  const xa = Array.from({ length: 100 }, a), xb = Array.from({ length: 100 }, b);
  const xc = Array.from({ length: 100 }, c);
  assertEquals(xa, xb);
  assertNotEquals(xa, xc);
  assert(xa.every((x) => x >= 0 && x < 1));
  assertThrows(() => seededRandom(NaN), RangeError, "NaN");
});

Deno.test("seededRandom: roughly uniform", () => {
  const r = seededRandom(7);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) bins[Math.floor(r() * 10)]++;
  for (const b of bins) assert(Math.abs(b - 10_000) < 500, `bin count ${b}`);
});

Deno.test("randomInt and shuffleInPlace", () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: -50, max: 50 }), fc.nat(100), (seed, lo, span) => {
      const v = randomInt(seededRandom(seed), lo, lo + span);
      return Number.isInteger(v) && v >= lo && v <= lo + span;
    }),
  );
  assertThrows(() => randomInt(Math.random, 3, 2), RangeError, "lo=3, hi=2");
  fc.assert(
    fc.property(fc.integer(), fc.array(fc.integer()), (seed, xs) => {
      const copy = [...xs];
      const out = shuffleInPlace(copy, seededRandom(seed));
      assert(out === copy);
      assertEquals([...out].sort((a, b) => a - b), [...xs].sort((a, b) => a - b));
      assertEquals(shuffleInPlace([...xs], seededRandom(seed)), out);
    }),
  );
});

Deno.test("deriveSeed: deterministic and label-dependent", () => {
  assertEquals(deriveSeed(42, "train"), deriveSeed(42, "train"));
  assertNotEquals(deriveSeed(42, "train"), deriveSeed(42, "test"));
  assertNotEquals(deriveSeed(42, "train"), deriveSeed(43, "train"));
});
