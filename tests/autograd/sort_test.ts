import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, seedArb, tensorArb } from "./_prop.ts";

async function vals(t: lf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

Deno.test("grad property: sort ascending and descending (distinct values)", async () => {
  await check(
    fc.tuple(tensorArb("distinct", 1, 3), fc.boolean(), seedArb),
    async ([t, desc, seed]) => {
      await checkGrad(([x]) => x.sort(desc), [f64(t.values, t.shape)], seed);
    },
  );
});

Deno.test("property: sort is ordered and is gather(argsort)", async () => {
  await check(fc.tuple(tensorArb("any", 1, 3), fc.boolean()), async ([t, desc]) => {
    const x = f64(t.values, t.shape);
    const s = await vals(x.sort(desc));
    const n = t.shape[t.shape.length - 1];
    for (let r = 0; r < s.length; r += n) {
      for (let k = r + 1; k < r + n; k++) {
        if (desc ? s[k - 1] < s[k] : s[k - 1] > s[k]) throw new Error(`unsorted row ${s}`);
      }
    }
    const idx = x.argsort(desc);
    assertEquals(s, await vals(x.gather(-1, idx)));
  });
});

Deno.test("sort / argsort values along the last axis", async () => {
  const x = tensor([[3, 1, 2], [0, -1, 5]]);
  assertEquals(await x.sort().array(), [[1, 2, 3], [-1, 0, 5]]);
  assertEquals(await x.sort(true).array(), [[3, 2, 1], [5, 0, -1]]);
  const a = x.argsort();
  assertEquals(a.dtype, "int32");
  assertEquals(await a.array(), [[1, 2, 0], [1, 0, 2]]);
  assertEquals(await x.argsort(true).array(), [[0, 2, 1], [2, 0, 1]]);
});

Deno.test("argsort is stable ascending and descending", async () => {
  const x = tensor([2, 1, 2, 1, 3, 2]);
  assertEquals(await vals(x.argsort()), [1, 3, 0, 2, 5, 4]);
  // Descending keeps equal values in index order (not reversed).
  assertEquals(await vals(x.argsort(true)), [4, 0, 2, 5, 1, 3]);
  // A long run of ties.
  const z = lf.zeros([40]);
  assertEquals(await vals(z.argsort(true)), [...Array(40).keys()]);
});

Deno.test("argsort: NaN sorts as the largest value, ties with Infinity after it", async () => {
  const x = tensor([NaN, 1, Infinity, -Infinity, 0]);
  assertEquals(await vals(x.argsort()), [3, 4, 1, 2, 0]);
  assertEquals(await vals(x.argsort(true)), [0, 2, 1, 4, 3]);
});

Deno.test("sort gradient lands on original positions", async () => {
  const w = tensor([1, 10, 100], { dtype: "float64" });
  const g = lf.grad((x: lf.Tensor) => x.sort().mul(w).sum())(
    tensor([5, 3, 4], { dtype: "float64" }),
  );
  assertEquals(await vals(g), [100, 1, 10]);
});

Deno.test("sort errors", () => {
  assertThrows(() => lf.zeros([]).argsort(), lf.ShapeError, "argsort: needs rank >= 1");
  assertThrows(() => lf.zeros([]).sort(), lf.ShapeError, "argsort: needs rank >= 1");
});
