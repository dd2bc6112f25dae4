import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, i32, seedArb, tensorArb } from "./_prop.ts";

const caseArb = tensorArb("any", 1, 3).chain((t) =>
  fc.tuple(fc.constant(t), fc.integer({ min: -t.shape.length, max: t.shape.length - 1 }), seedArb)
);

Deno.test("grad property: softmax along any axis", async () => {
  await check(caseArb, async ([t, axis, seed]) => {
    await checkGrad(([x]) => x.softmax(axis), [f64(t.values, t.shape)], seed);
  });
});

Deno.test("grad property: logSoftmax along any axis", async () => {
  await check(caseArb, async ([t, axis, seed]) => {
    await checkGrad(([x]) => x.logSoftmax(axis), [f64(t.values, t.shape)], seed);
  });
});

Deno.test("property: softmax sums to 1 and equals exp(logSoftmax)", async () => {
  await check(caseArb, async ([t, axis]) => {
    const x = f64(t.values.map((v) => v * 10), t.shape);
    const s = x.softmax(axis);
    assertClose(await s.sum(axis).data(), await lf.ones(s.sum(axis).shape).data(), { rtol: 1e-12 });
    assertClose(await s.data(), await x.logSoftmax(axis).exp().data(), {
      rtol: 1e-12,
      atol: 1e-15,
    });
    assertClose(await x.logSoftmax(axis).data(), await x.sub(x.logsumexp(axis, true)).data(), {
      rtol: 1e-10,
      atol: 1e-12,
    });
  });
});

Deno.test("softmax / logSoftmax values", async () => {
  const x = tensor([[0, 0], [0, Math.log(3)]], { dtype: "float64" });
  assertClose(await x.softmax().data(), [0.5, 0.5, 0.25, 0.75], { rtol: 1e-12 });
  assertClose(await x.softmax(0).data(), [0.5, 0.25, 0.5, 0.75], { rtol: 1e-12 });
  assertClose(await x.logSoftmax(-1).data(), [
    -Math.log(2),
    -Math.log(2),
    Math.log(0.25),
    Math.log(0.75),
  ], { rtol: 1e-12 });
});

Deno.test("softmax is stable for large inputs", async () => {
  const x = tensor([1000, 1000, -1000], { dtype: "float64" });
  assertClose(await x.softmax().data(), [0.5, 0.5, 0], { atol: 1e-300 });
  assertClose(await x.logSoftmax().data(), [-Math.log(2), -Math.log(2), -2000 - Math.log(2)], {
    rtol: 1e-12,
  });
  const y = tensor([-Infinity, 0], { dtype: "float64" });
  assertEquals(Array.from(await y.softmax().data()), [0, 1]);
  assertEquals(Array.from(await y.logSoftmax().data()), [-Infinity, 0]);
});

Deno.test("softmax propagates NaN along its row only", async () => {
  const x = tensor([[1, NaN], [1, 2]], { dtype: "float64" });
  const s = await x.softmax().data();
  assertEquals(Number.isNaN(s[0]) && Number.isNaN(s[1]), true);
  assertClose([s[2], s[3]], [1 / (1 + Math.E), Math.E / (1 + Math.E)], { rtol: 1e-12 });
  const ls = await x.logSoftmax().data();
  assertEquals(Number.isNaN(ls[0]) && Number.isNaN(ls[1]), true);
});

Deno.test("softmax errors: int input, bad axis", () => {
  assertThrows(
    () => i32([1, 2], [2]).softmax(),
    lf.DTypeError,
    "softmax: needs a float tensor, got int32",
  );
  assertThrows(
    () => i32([1, 2], [2]).logSoftmax(),
    lf.DTypeError,
    "logSoftmax: needs a float tensor",
  );
  assertThrows(
    () => tensor([1, 2]).softmax(1),
    lf.ValueError,
    "softmax: axis 1 out of range for rank 1",
  );
  assertThrows(
    () => tensor([[1, 2]]).logSoftmax(-3),
    lf.ValueError,
    "logSoftmax: axis -3 out of range",
  );
});
