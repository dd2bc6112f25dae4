// cumsum and cast (src/autograd/ops/misc.ts).
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, i32, seedArb, tensorArb } from "./_prop.ts";

Deno.test("grad property: cumsum along any axis, both directions", async () => {
  const arb = tensorArb("any", 1, 3).chain((t) =>
    fc.tuple(
      fc.constant(t),
      fc.integer({ min: -t.shape.length, max: t.shape.length - 1 }),
      fc.boolean(),
      seedArb,
    )
  );
  await check(arb, async ([t, axis, reverse, seed]) => {
    await checkGrad(([x]) => lf.cumsum(x, axis, reverse), [f64(t.values, t.shape)], seed);
  });
});

Deno.test("grad property: cast float64 -> float32 -> float64", async () => {
  await check(fc.tuple(tensorArb("any"), seedArb), async ([t, seed]) => {
    // float32 rounding is piecewise constant, so check with values on the float32 grid and a
    // step the float32 grid represents exactly.
    const v = t.values.map((x) => Math.fround(Math.round(x * 64) / 64));
    await checkGrad(([x]) => x.cast("float32").cast("float64"), [f64(v, t.shape)], seed, {
      h: 2 ** -12,
    });
  });
});

Deno.test("cumsum values", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(await x.cumsum().array(), [[1, 3, 6], [4, 9, 15]]);
  assertEquals(await x.cumsum(0).array(), [[1, 2, 3], [5, 7, 9]]);
  assertEquals(await lf.cumsum(x, -1, true).array(), [[6, 5, 3], [15, 11, 6]]);
  assertEquals(await lf.cumsum(x, 0, true).array(), [[5, 7, 9], [4, 5, 6]]);
  const ic = i32([1, 2, 3], [3]).cumsum();
  assertEquals(ic.dtype, "int32");
  assertEquals(Array.from(await ic.data()), [1, 3, 6]);
  const g = lf.grad((x: lf.Tensor) =>
    x.cumsum().mul(tensor([1, 10, 100], { dtype: "float64" })).sum()
  )(
    tensor([0, 0, 0], { dtype: "float64" }),
  );
  assertEquals(Array.from(await g.data()), [111, 110, 100]);
});

Deno.test("cast values: truncation toward zero, float32 rounding, int to float", async () => {
  const x = tensor([1.7, -1.7, 2.5, -0.2], { dtype: "float64" });
  const i = x.cast("int32");
  assertEquals(i.dtype, "int32");
  assertEquals(Array.from(await i.data()), [1, -1, 2, 0]);
  const f = tensor([0.1], { dtype: "float64" }).cast("float32");
  assertEquals(f.dtype, "float32");
  assertEquals((await f.data())[0], Math.fround(0.1));
  assertEquals(Array.from(await i.cast("float64").data()), [1, -1, 2, 0]);
  // Same dtype: no change.
  assertEquals(x.cast("float64").dtype, "float64");
  // A cast to int cuts the gradient; the grad of a float cast carries its dtype back.
  const g = lf.grad((x: lf.Tensor) => x.cast("float32").sum().cast("float64"))(x);
  assertEquals(g.dtype, "float64");
  assertEquals(Array.from(await g.data()), [1, 1, 1, 1]);
});

Deno.test("cumsum errors", () => {
  assertThrows(
    () => tensor([1, 2]).cumsum(1),
    lf.ValueError,
    "cumsum: axis 1 out of range for rank 1",
  );
  assertThrows(
    () => lf.zeros([]).cumsum(),
    lf.ValueError,
    "cumsum: axis -1 out of range for rank 0",
  );
});
