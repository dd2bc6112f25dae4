import fc from "fast-check";
import * as lf from "../../mod.ts";
import {
  customGrad,
  grad,
  isRecording,
  noGrad,
  stopGradient,
  type Tensor,
  tensor,
  valueAndGrad,
  vjp,
} from "../../mod.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import {
  check,
  checkGrad,
  F64,
  f64,
  fdcheck,
  seedArb,
  shapeArb,
  sizeOf,
  tensorArb,
  valuesArb,
} from "./_prop.ts";

async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

Deno.test("grad: simple functions", async () => {
  assertEquals(await vals(grad((x: Tensor) => x.mul(x).sum())(tensor([1, 2, 3]))), [2, 4, 6]);
  assertEquals(await grad((x: Tensor) => x.pow(3).sum())(tensor(2)).item(), 12);
  // A leaf used twice accumulates.
  const g = grad((x: Tensor) => x.mul(3).add(x.mul(x)).sum())(tensor([1, 2], F64));
  assertEquals(await vals(g), [5, 7]);
  // The output itself may be the (scalar) input.
  assertEquals(await grad((x: Tensor) => x)(tensor(4, F64)).item(), 1);
});

Deno.test("valueAndGrad over trees: objects and arrays, grads shaped like params", async () => {
  const params = {
    w: tensor([[1, 2], [3, 4]], F64),
    layers: [{ b: tensor([1, -1], F64) }, { b: tensor([0.5, 0.5], F64) }],
    name: "mlp",
    n: 3,
  };
  const f = (p: typeof params, x: Tensor) =>
    x.matmul(p.w).add(p.layers[0].b).mul(p.layers[1].b).sum().mul(p.n);
  const x = tensor([[1, 1]], F64);
  const [v, g] = valueAndGrad(f)(params, x);
  assertEquals(await v.item(), ((4 + 1) * 0.5 + (6 - 1) * 0.5) * 3);
  assertEquals(Object.keys(g), ["w", "layers", "name", "n"]);
  assertEquals(g.name, "mlp");
  assertEquals(g.n, 3);
  assertEquals(await g.w.array(), [[1.5, 1.5], [1.5, 1.5]]);
  assertEquals(await g.layers[0].b.array(), [1.5, 1.5]);
  assertEquals(await g.layers[1].b.array(), [15, 15]);
  assertEquals(g.w.shape, [2, 2]);
  // The value is a constant: no tape.
  assert(!v.requiresGrad);
});

Deno.test("grad: leaves that do not influence the output get zeros", async () => {
  const [ga, gb] = grad(([a, _b]: Tensor[]) => a.sum())([tensor([1, 2]), tensor([[3, 4]])]);
  assertEquals(await vals(ga), [1, 1]);
  assertEquals(gb.shape, [1, 2]);
  assertEquals(await vals(gb), [0, 0]);
});

Deno.test("grad property: a tree of several leaves against finite differences", async () => {
  const arb = shapeArb(1, 2, 6).chain((s) =>
    fc.tuple(fc.constant(s), valuesArb(sizeOf(s)), valuesArb(sizeOf(s), "pos"), seedArb)
  );
  await check(arb, async ([s, va, vb, seed]) => {
    await checkGrad(([a, b]) => a.mul(b.log()).add(a.exp().div(b)), [f64(va, s), f64(vb, s)], seed);
  });
});

Deno.test("vjp: cotangent in, gradients out; shape checked", async () => {
  const { out, backward, dispose } = vjp((x: Tensor) => x.mul(x), tensor([1, 2, 3], F64));
  assertEquals(await vals(out), [1, 4, 9]);
  assertEquals(await vals(backward(tensor([1, 1, 1], F64))), [2, 4, 6]);
  assertEquals(await vals(backward(tensor([1, 0, -1], F64))), [2, 0, -6]);
  assertThrows(
    () => backward(tensor([1, 1], F64)),
    lf.ShapeError,
    "vjp: cotangent [2] does not match output [3]",
  );
  dispose();
  const { backward: b2 } = vjp(
    (p: { a: Tensor; b: Tensor }) => p.a.matmul(p.b),
    { a: tensor([[1, 2]], F64), b: tensor([[3], [4]], F64) },
  );
  const g = b2(tensor([[2]], F64));
  assertEquals(await g.a.array(), [[6, 8]]);
  assertEquals(await g.b.array(), [[2], [4]]);
});

Deno.test("noGrad: nothing recorded; inside grad it makes constants", async () => {
  assert(!isRecording());
  const y = noGrad(() => tensor([1, 2]).mul(3));
  assert(!y.requiresGrad);
  const g = grad((x: Tensor) => {
    assert(isRecording());
    const c = noGrad(() => {
      assert(!isRecording());
      return x.mul(x);
    });
    assert(!c.requiresGrad);
    return x.mul(c).sum();
  })(tensor([3], F64));
  assertEquals(await g.item(), 9);
  assert(!isRecording());
});

Deno.test("stopGradient: same values, no gradient", async () => {
  const g = grad((x: Tensor) => x.mul(stopGradient(x)).sum())(tensor([3], F64));
  assertEquals(await g.item(), 3);
  const x = tensor([1, 2]);
  const s = stopGradient(x);
  assertEquals(await vals(s), [1, 2]);
  assert(s !== x);
});

Deno.test("customGrad: hand-written backward is used, and checked by gradcheck", async () => {
  const square = customGrad((x) => x.mul(x), (g, _out, x) => [g.mul(x).mul(2)]);
  assertEquals(await grad((x: Tensor) => square(x).sum())(tensor([3], F64)).item(), 6);
  await check(fc.tuple(tensorArb("any"), seedArb), async ([t, seed]) => {
    await checkGrad(([x]) => square(x), [f64(t.values, t.shape)], seed);
  }, 10);
  // Two inputs, one with no gradient (null).
  const scaled = customGrad((x, s) => x.mul(s), (g, _out, _x, s) => [g.mul(s), null]);
  const [gx, gs] = grad(([x, s]: Tensor[]) => scaled(x, s).sum())([
    tensor([1, 2], F64),
    tensor([5, 7], F64),
  ]);
  assertEquals(await vals(gx), [5, 7]);
  assertEquals(await vals(gs), [0, 0]);
  // The forward is not recorded: the backward rule alone decides.
  const fake = customGrad((x) => x.mul(x), (g) => [g.mul(100)]);
  assertEquals(await grad((x: Tensor) => fake(x).sum())(tensor([1], F64)).item(), 100);
  // And a wrong rule is caught by the finite-difference check (the checker checks).
  await assertRejects(() => gradcheck(([x]) => fake(x).sum(), [tensor([0.5], F64)]));
});

Deno.test("errors from grad: non-scalar output, int leaves, non-tensor result", () => {
  assertThrows(
    () => grad((x: Tensor) => x.mul(2))(tensor([1, 2])),
    lf.ShapeError,
    "valueAndGrad: f must return a scalar, got shape [2]",
  );
  assertThrows(
    () => grad((x: Tensor) => x.sum())(tensor([1], { dtype: "int32" })),
    lf.DTypeError,
    "valueAndGrad: argument leaf 0 is int32; only float tensors have gradients",
  );
  assertThrows(
    () => grad((() => 3) as unknown as (x: Tensor) => Tensor)(tensor([1])),
    lf.ValueError,
    "valueAndGrad: f must return a Tensor",
  );
});

Deno.test("a long chain does not overflow the stack", async () => {
  const g = grad((x: Tensor) => {
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.add(0.0001);
    return y.sum();
  })(tensor([1], F64));
  assertEquals(await g.item(), 1);
});

// ---- gradients of gradients ----

/** Checks grad of x ↦ Σ w ⊙ ∇f(x) against finite differences (second derivatives). */
async function checkSecondOrder(f: (x: Tensor) => Tensor, x: Tensor, seed: number) {
  const w = lf.randn(x.shape, { ...F64, rng: lf.rng(seed) });
  await fdcheck(([y]) => grad(f)(y).mul(w).sum(), [x]);
}

Deno.test("grad of grad: x³ and tanh by hand", async () => {
  const d2 = grad((x: Tensor) => grad((y: Tensor) => y.pow(3).sum())(x).sum());
  assertEquals(await d2(tensor([2], F64)).item(), 12);
  const x = tensor([-1, 0.3, 2], F64);
  const d2t = grad((x: Tensor) => grad((y: Tensor) => y.tanh().sum())(x).sum())(x);
  const xs = [-1, 0.3, 2];
  assertClose(await d2t.data(), xs.map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)), {
    rtol: 1e-12,
  });
  // Third order: d³/dx³ sin = -cos.
  const d3 = grad((a: Tensor) =>
    grad((b: Tensor) => grad((c: Tensor) => lf.sin(c).sum())(b).sum())(a).sum()
  )(x);
  assertClose(await d3.data(), xs.map((v) => -Math.cos(v)), { rtol: 1e-12 });
});

const secondOrder: [string, (x: Tensor) => Tensor, "any" | "pos"][] = [
  ["tanh", (x) => x.tanh().sum(), "any"],
  ["softmax", (x) => x.softmax(-1).mul(x.square()).sum(), "any"],
  ["logSoftmax", (x) => x.logSoftmax(0).mul(x).sum(), "any"],
  ["matmul", (x) => x.matmul(x.transpose()).square().sum(), "any"],
  ["exp·sin", (x) => x.exp().mul(lf.sin(x)).sum(), "any"],
  ["sigmoid·gelu", (x) => x.sigmoid().mul(x.gelu()).sum(), "any"],
  ["log/sqrt/rsqrt", (x) => x.log().mul(x.sqrt()).add(x.rsqrt()).sum(), "pos"],
  ["logsumexp", (x) => x.logsumexp(-1).square().sum(), "any"],
  ["div/recip", (x) => x.div(x.add(3)).add(lf.recip(x.add(4))).sum(), "pos"],
  ["broadcast/reduce", (x) => x.mean(0, true).mul(x).cumsum(-1).square().sum(), "any"],
  [
    "gather/slice/concat",
    (x) =>
      lf.concat([x.slice([0]), x.sort()], 0).gather(0, lf.zeros(x.shape, { dtype: "int32" })).exp()
        .sum(),
    "any",
  ],
];

for (const [name, f, kind] of secondOrder) {
  Deno.test(`grad of grad property: ${name}`, async () => {
    await check(fc.tuple(tensorArb(kind, 2, 2, 12), seedArb), async ([t, seed]) => {
      await checkSecondOrder(f, f64(t.values, t.shape), seed);
    }, 10);
  });
}

Deno.test("grad of grad: a mixed second derivative through a tree", async () => {
  // f(a, b) = Σ a² b  ⇒  ∂f/∂a = 2ab; d/db Σ ∂f/∂a = 2a.
  const h = grad((p: { a: Tensor; b: Tensor }) => {
    const ga = grad((q: { a: Tensor; b: Tensor }) => q.a.square().mul(q.b).sum())(p).a;
    return ga.sum();
  });
  const g = h({ a: tensor([1, 2], F64), b: tensor([3, 4], F64) });
  assertEquals(await vals(g.a), [6, 8]);
  assertEquals(await vals(g.b), [2, 4]);
});

Deno.test("grad inside grad: gradient w.r.t. the inner function's closure", async () => {
  // d/dy [d/dx (x·y)²] at x = 2, y = 3: d/dx = 2xy², d/dy of that = 4xy = 24.
  const outer = grad((y: Tensor) =>
    grad((x: Tensor) => x.mul(y).square().sum())(tensor(2, F64)).sum()
  );
  assertEquals(await outer(tensor(3, F64)).item(), 24);
});

Deno.test("valueAndGrad at depth 0 rejects promises in scope misuse", async () => {
  // f must be synchronous; the value of a plain call is a fresh tensor.
  const [v] = valueAndGrad((x: Tensor) => x.sum())(tensor([1, 2]));
  assertEquals(await v.item(), 3);
});

Deno.test("each leaf gets its own gradient tensor (disposing one keeps the others)", async () => {
  const [ga, gb] = grad(([a, b]: Tensor[]) => a.add(b))([tensor(1, F64), tensor(2, F64)]);
  assert(ga !== gb);
  ga.dispose();
  assertEquals(await gb.item(), 1);
  const g = grad((p: { a: Tensor; b: Tensor }) => p.a.add(p.b).sum())({
    a: tensor([1, 2], F64),
    b: tensor([3, 4], F64),
  });
  lf.treeDispose({ a: g.a });
  assertEquals(await vals(g.b), [1, 1]);
});

Deno.test("grad of grad through a gradient shared by two leaves", async () => {
  // Inner: f(a, b) = Σ (a + b)·x ⇒ ∂f/∂a = ∂f/∂b = x. Outer differentiates Σ (∂f/∂b)² = Σ x².
  const g = grad((x: Tensor) => {
    const [_ga, gb] = grad(([a, b]: Tensor[]) => a.add(b).mul(x).sum())([
      tensor([1, 1], F64),
      tensor([2, 2], F64),
    ]);
    return gb.square().sum();
  })(tensor([3, 4], F64));
  assertEquals(await vals(g), [6, 8]);
});
