import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
// The autograd folder's own entry point: `embedding` here is the op (rows by index).
import { embedding } from "../../src/autograd/mod.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, i32, seedArb, shapeArb, sizeOf, valuesArb } from "./_prop.ts";

/** An input shape, an axis, and an index shape that fits it (torch.gather rules). */
const gatherCaseArb = shapeArb(1, 3, 24).chain((shape) => {
  const r = shape.length;
  return fc.tuple(
    fc.constant(shape),
    fc.integer({ min: -r, max: r - 1 }),
    fc.tuple(...shape.map((d) => fc.integer({ min: 1, max: Math.max(1, d) }))),
    fc.integer({ min: 1, max: 4 }),
  ).chain(([shape, axis, idxDims, alongLen]) => {
    const ax = axis < 0 ? axis + r : axis;
    const idxShape = idxDims.map((d, i) => (i === ax ? alongLen : d));
    return fc.tuple(
      fc.constant({ shape, axis, idxShape }),
      valuesArb(sizeOf(shape)),
      fc.array(fc.integer({ min: 0, max: shape[ax] - 1 }), {
        minLength: sizeOf(idxShape),
        maxLength: sizeOf(idxShape),
      }),
      seedArb,
    );
  });
});

Deno.test("grad property: gather (repeated indices accumulate)", async () => {
  await check(gatherCaseArb, async ([{ shape, axis, idxShape }, values, idx, seed]) => {
    const index = i32(idx, idxShape);
    await checkGrad(([x]) => x.gather(axis, index), [f64(values, shape)], seed);
  });
});

Deno.test("grad property: scatterAdd (both base and src)", async () => {
  const arb = gatherCaseArb.chain((c) =>
    fc.tuple(fc.constant(c), valuesArb(sizeOf(c[0].idxShape)))
  );
  await check(arb, async ([[{ shape, axis, idxShape }, values, idx, seed], srcValues]) => {
    const index = i32(idx, idxShape);
    await checkGrad(
      ([x, src]) => x.scatterAdd(axis, index, src),
      [f64(values, shape), f64(srcValues, idxShape)],
      seed,
    );
  });
});

Deno.test("grad property: take / embedding with any index shape", async () => {
  const arb = shapeArb(1, 3, 16).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      valuesArb(sizeOf(shape)),
      shapeArb(0, 2, 6).chain((is) =>
        fc.tuple(
          fc.constant(is),
          fc.array(fc.integer({ min: 0, max: shape[0] - 1 }), {
            minLength: sizeOf(is),
            maxLength: sizeOf(is),
          }),
        )
      ),
      seedArb,
    )
  );
  await check(arb, async ([shape, values, [is, idx], seed]) => {
    const index = i32(idx, is);
    await checkGrad(([x]) => x.take(index), [f64(values, shape)], seed);
    await checkGrad(([x]) => embedding(x, index), [f64(values, shape)], seed);
  });
});

Deno.test("gather values (torch semantics)", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(await x.gather(1, i32([2, 0, 1, 1], [2, 2])).array(), [[3, 1], [5, 5]]);
  assertEquals(await x.gather(0, i32([1, 0, 1], [1, 3])).array(), [[4, 2, 6]]);
  assertEquals(await x.gather(-1, i32([0, 2], [2, 1])).array(), [[1], [6]]);
  // The index may be smaller than the input off the gather axis.
  assertEquals(await x.gather(1, i32([1], [1, 1])).array(), [[2]]);
});

Deno.test("scatterAdd values: duplicates add, out of place", async () => {
  const base = lf.zeros([3]);
  const out = base.scatterAdd(0, i32([0, 0, 2], [3]), tensor([1, 1, 5]));
  assertEquals(await out.array(), [2, 0, 5]);
  assertEquals(await base.array(), [0, 0, 0]);
  const b2 = tensor([[1, 1, 1], [1, 1, 1]]);
  const o2 = b2.scatterAdd(1, i32([2, 2, 0, 1], [2, 2]), tensor([[1, 2], [3, 4]]));
  assertEquals(await o2.array(), [[1, 1, 4], [4, 5, 1]]);
});

Deno.test("gather gradient scatters with duplicates", async () => {
  const g = lf.grad((x: lf.Tensor) => x.gather(0, i32([1, 1, 0, 1], [4])).sum())(
    tensor([10, 20, 30], { dtype: "float64" }),
  );
  assertEquals(Array.from(await g.data()), [1, 3, 0]);
});

Deno.test("take / embedding values", async () => {
  const table = tensor([[1, 2], [3, 4], [5, 6]]);
  assertEquals(await table.take(i32([2, 0, 2], [3])).array(), [[5, 6], [1, 2], [5, 6]]);
  const e = embedding(table, i32([1, 2, 0, 0], [2, 2]));
  assertEquals(e.shape, [2, 2, 2]);
  assertEquals(await e.array(), [[[3, 4], [5, 6]], [[1, 2], [1, 2]]]);
  assertEquals(await table.take(i32([1], [])).array(), [3, 4]);
  assertEquals(await tensor([7, 8, 9]).take(i32([2, 2], [2])).array(), [9, 9]);
  const g = lf.grad((t: lf.Tensor) => embedding(t, i32([1, 1, 2], [3])).sum())(
    tensor([[0, 0], [0, 0], [0, 0]], { dtype: "float64" }),
  );
  assertEquals(await g.array(), [[0, 0], [2, 2], [1, 1]]);
});

Deno.test("oneHot: -100 and out-of-range give zero rows, dtype option", async () => {
  const o = lf.oneHot(i32([2, 0, -100, 3], [4]), 3);
  assertEquals(o.dtype, "float32");
  assertEquals(await o.array(), [[0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0]]);
  const o2 = lf.oneHot(i32([1, -100], [1, 2]), 2, "float64");
  assertEquals(o2.shape, [1, 2, 2]);
  assertEquals(o2.dtype, "float64");
  assertEquals(await o2.array(), [[[0, 1], [0, 0]]]);
});

Deno.test("index op errors", () => {
  const x = lf.zeros([2, 3]);
  assertThrows(
    () => x.gather(1, tensor([[0]])),
    lf.DTypeError,
    "gather: index must be int32, got float32",
  );
  assertThrows(
    () => x.gather(1, i32([0], [1])),
    lf.ShapeError,
    "gather: index rank 1 [1] differs from input rank 2 [2,3]",
  );
  assertThrows(
    () => x.gather(1, i32([0, 0, 0], [3, 1])),
    lf.ShapeError,
    "gather: index [3,1] exceeds input [2,3] at axis 0",
  );
  assertThrows(
    () => x.gather(2, i32([0], [1, 1])),
    lf.ValueError,
    "gather: axis 2 out of range for rank 2",
  );
  assertThrows(() => x.take(tensor([0])), lf.DTypeError, "take: index must be int32, got float32");
  assertThrows(
    () => lf.zeros([]).take(i32([0], [1])),
    lf.ShapeError,
    "take: input must have rank >= 1",
  );
  assertThrows(() => lf.oneHot(tensor([0]), 2), lf.DTypeError, "oneHot: index must be int32");
  assertThrows(
    () => x.scatterAdd(1, i32([0, 1], [1, 2]), lf.zeros([2, 2])),
    lf.ShapeError,
    "scatterAdd: src [2,2] must have the index's shape [1,2]",
  );
  assertThrows(
    () => x.scatterAdd(1, i32([0, 1], [1, 2]), lf.zeros([1, 2], { dtype: "float64" })),
    lf.DTypeError,
    "scatterAdd: src is float64, input is float32",
  );
});
