import fc from "fast-check";
import * as lf from "../../mod.ts";
import { type Tensor, tensor } from "../../mod.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, i32, type Kind, seedArb, tensorArb } from "./_prop.ts";

type Reducer = (x: Tensor, axis?: number | number[], keepdim?: boolean) => Tensor;

/** A tensor and an axis spec for it: undefined (all), a number (maybe negative), or a list. */
const reduceCaseArb = (kind: Kind) =>
  tensorArb(kind, 0, 3).chain((t) => {
    const r = t.shape.length;
    const axisArb: fc.Arbitrary<number | number[] | undefined> = r === 0
      ? fc.constantFrom(undefined, [] as number[])
      : fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: -r, max: r - 1 }),
        fc.subarray([...Array(r).keys()]),
      );
    return fc.tuple(fc.constant(t), axisArb, fc.boolean(), seedArb);
  });

const reducers: [string, Reducer, Kind][] = [
  ["sum", lf.sum, "any"],
  ["mean", lf.mean, "any"],
  ["max", lf.max, "distinct"],
  ["min", lf.min, "distinct"],
  ["logsumexp", lf.logsumexp, "any"],
];

for (const [name, op, kind] of reducers) {
  Deno.test(`grad property: ${name} (axis number / list / all, keepdim both)`, async () => {
    await check(reduceCaseArb(kind), async ([t, axis, keepdim, seed]) => {
      await checkGrad(([x]) => op(x, axis, keepdim), [f64(t.values, t.shape)], seed, {
        msg: `${name} ${JSON.stringify(t.shape)} axis ${JSON.stringify(axis)} ${keepdim}`,
      });
    });
  });
}

Deno.test("sum values: axes, negative axes, lists, keepdim", async () => {
  const x = tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]); // [2,3,2]
  assertEquals(await x.sum().item(), 78);
  assertEquals(x.sum().shape, []);
  assertEquals(await x.sum(0).array(), [[8, 10], [12, 14], [16, 18]]);
  assertEquals(await x.sum(-1).array(), [[3, 7, 11], [15, 19, 23]]);
  assertEquals(await x.sum([0, 2]).array(), [18, 26, 34]);
  assertEquals(x.sum([0, 2], true).shape, [1, 3, 1]);
  assertEquals(await x.sum([-1, 0], true).array(), [[[18], [26], [34]]]);
  assertEquals(x.sum(1, true).shape, [2, 1, 2]);
  assertEquals(x.sum(undefined, true).shape, [1, 1, 1]);
  assertEquals(await x.sum([]).array(), await x.array());
});

Deno.test("mean, max, min, logsumexp values", async () => {
  const x = tensor([[1, 5, 3], [4, 2, 6]], { dtype: "float64" });
  assertEquals(await x.mean().item(), 3.5);
  assertEquals(await x.mean(0).array(), [2.5, 3.5, 4.5]);
  assertEquals(await x.mean(-1, true).array(), [[3], [4]]);
  assertEquals(await x.max().item(), 6);
  assertEquals(await x.max(1).array(), [5, 6]);
  assertEquals(await x.max(0, true).array(), [[4, 5, 6]]);
  assertEquals(await x.min(-1).array(), [1, 2]);
  assertEquals(await x.min([0, 1]).item(), 1);
  assertClose(await x.logsumexp(1).data(), [
    Math.log(Math.exp(1) + Math.exp(5) + Math.exp(3)),
    Math.log(Math.exp(4) + Math.exp(2) + Math.exp(6)),
  ], { rtol: 1e-12 });
  assertClose(
    await x.logsumexp().item(),
    Math.log([1, 5, 3, 4, 2, 6].reduce((s, v) => s + Math.exp(v), 0)),
    {
      rtol: 1e-12,
    },
  );
  assertEquals(x.logsumexp(0, true).shape, [1, 3]);
});

Deno.test("logsumexp is stable for large inputs and handles -Infinity rows", async () => {
  const x = tensor([[1000, 1000], [-Infinity, -Infinity], [-1000, -1000]], { dtype: "float64" });
  assertClose(await x.logsumexp(1).data(), [1000 + Math.log(2), -Infinity, -1000 + Math.log(2)], {
    rtol: 1e-12,
  });
  const g = lf.grad((x: Tensor) => x.logsumexp(1).sum())(
    tensor([[1000, 1000]], { dtype: "float64" }),
  );
  assertClose(await g.data(), [0.5, 0.5]);
});

Deno.test("max/min propagate NaN", async () => {
  const x = tensor([[1, NaN, 3], [1, 2, 3]], { dtype: "float64" });
  assertEquals(Array.from(await x.max(1).data()), [NaN, 3]);
  assertEquals(Array.from(await x.min(1).data()), [NaN, 1]);
  assertEquals(Number.isNaN(await x.max().item()), true);
});

Deno.test("max/min gradient: ties share the gradient equally", async () => {
  const g = lf.grad((x: Tensor) => x.max())(tensor([3, 1, 3, 2], { dtype: "float64" }));
  assertEquals(Array.from(await g.data()), [0.5, 0, 0.5, 0]);
  const g2 = lf.grad((x: Tensor) => x.min(1).sum())(
    tensor([[1, 1, 1], [2, 0, 5]], { dtype: "float64" }),
  );
  assertClose(await g2.data(), [1 / 3, 1 / 3, 1 / 3, 0, 1, 0]);
});

Deno.test("argmax: first on ties, keepdim, axes, NaN wins", async () => {
  const x = tensor([[1, 3, 3], [5, 5, 0]]);
  const a = x.argmax();
  assertEquals(a.dtype, "int32");
  assertEquals(Array.from(await a.data()), [1, 0]);
  assertEquals(Array.from(await x.argmax(0).data()), [1, 1, 0]);
  assertEquals(x.argmax(-1, true).shape, [2, 1]);
  assertEquals(Array.from(await tensor([1, NaN, 7]).argmax().data()), [1]);
  assertEquals(Array.from(await tensor([-Infinity, -Infinity]).argmax().data()), [0]);
});

Deno.test("int32 sum keeps int32", async () => {
  const s = i32([1, 2, 3, 4], [2, 2]).sum(0);
  assertEquals(s.dtype, "int32");
  assertEquals(Array.from(await s.data()), [4, 6]);
});

Deno.test("reduction axis errors", () => {
  const x = tensor([[1, 2], [3, 4]]);
  assertThrows(() => x.sum(2), lf.ValueError, "sum: axis 2 out of range for rank 2");
  assertThrows(() => x.mean(-3), lf.ValueError, "mean: axis -3 out of range for rank 2");
  assertThrows(() => x.max([0, 0]), lf.ValueError, "max: repeated axis in [0,0]");
  assertThrows(() => x.logsumexp(5), lf.ValueError, "logsumexp: axis 5");
  assertThrows(() => lf.zeros([2, 0]).max(1), lf.ValueError, "max: axis 1 has size 0");
  assertThrows(() => x.argmax(2), lf.ValueError, "argmax: axis 2 out of range");
});
