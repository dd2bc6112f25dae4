import * as lf from "../../mod.ts";
import {
  grad,
  keep,
  liveTensors,
  scope,
  type Tensor,
  tensor,
  valueAndGrad,
  vjp,
} from "../../mod.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";

const cpu = () => lf.backendInstance("cpu").memory();

Deno.test("scope frees everything it made except the result", async () => {
  const x = tensor([1, 2, 3]);
  const before = liveTensors(), buffers = cpu().buffers;
  const y = scope(() => x.mul(2).add(1).exp().log().sum());
  assertEquals(liveTensors() - before, 1);
  assertEquals(cpu().buffers - buffers, 1);
  assertEquals(await y.item(), 15);
  assert(!x.disposed);
  // Buffer counts are compared within a synchronous stretch: at an await the garbage collector
  // may release storage an earlier test dropped without disposing it.
  const held = cpu().buffers;
  y.dispose();
  assertEquals(liveTensors(), before);
  assertEquals(cpu().buffers, held - 1);
});

Deno.test("scope keeps tensors in returned arrays, objects and Maps", async () => {
  const before = liveTensors();
  const out = scope(() => {
    const a = tensor([1]);
    const b = a.add(1);
    a.mul(5); // dropped
    return { a, list: [b, { c: b.add(1), n: 3 }], m: new Map([["d", b.mul(4)]]) };
  });
  assertEquals(liveTensors() - before, 4);
  assertEquals(await out.a.item(), 1);
  assertEquals(await out.list[0] instanceof lf.Tensor, true);
  assertEquals(await (out.list[1] as { c: Tensor }).c.item(), 3);
  assertEquals(await out.m.get("d")!.item(), 8);
  lf.treeDispose([out.a, out.list[0] as Tensor, (out.list[1] as { c: Tensor }).c, out.m.get("d")!]);
  assertEquals(liveTensors(), before);
});

Deno.test("nested scopes: inner results move to the outer scope", async () => {
  const before = liveTensors();
  let inner: Tensor | undefined;
  const r = scope(() => {
    inner = scope(() => tensor([1, 2]).mul(3));
    assert(!inner.disposed);
    const kept = scope(() => tensor([4]).add(1));
    return kept;
  });
  // `inner` was returned by the inner scope but not by the outer one: freed.
  assert(inner!.disposed);
  assertEquals(await r.item(), 5);
  assertEquals(liveTensors() - before, 1);
  r.dispose();
});

Deno.test("a throwing fn frees what it made and rethrows", () => {
  const before = liveTensors(), buffers = cpu().buffers;
  let made: Tensor | undefined;
  assertThrows(
    () =>
      scope(() => {
        made = tensor([1, 2]).mul(2);
        scope(() => tensor([3]).add(1)); // inner leftovers too
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assert(made!.disposed);
  assertEquals(liveTensors(), before);
  assertEquals(cpu().buffers, buffers);
});

Deno.test("keep lets a tensor outlive every scope", async () => {
  const before = liveTensors();
  let w: Tensor | undefined;
  scope(() => {
    scope(() => {
      w = keep(tensor([7]));
      tensor([0]);
    });
  });
  assertEquals(liveTensors() - before, 1);
  assertEquals(await w!.item(), 7);
  w!.dispose();
});

Deno.test("scope rejects async functions", () => {
  assertThrows(() => scope(() => Promise.resolve(1)), TypeError, "scope: fn returned a Promise");
});

Deno.test("dispose is idempotent and liveTensors counts views", () => {
  const before = liveTensors();
  const x = tensor([1, 2, 3, 4]);
  const v = x.reshape([2, 2]); // shares storage
  assertEquals(liveTensors() - before, 2);
  x.dispose();
  x.dispose();
  assert(x.disposed);
  assertEquals(liveTensors() - before, 1);
  assertEquals(v.shape, [2, 2]); // storage still held by the view
  v.dispose();
  assertEquals(liveTensors(), before);
});

Deno.test("valueAndGrad and grad free every intermediate", async () => {
  const p = {
    w: tensor([[1, 2], [3, 4]], { dtype: "float64" }),
    b: tensor([1, 1], { dtype: "float64" }),
  };
  const x = tensor([[1, -1]], { dtype: "float64" });
  const f = (q: typeof p) => x.matmul(q.w).add(q.b).tanh().square().mean();
  const before = liveTensors(), buffers = cpu().buffers;
  const [v, g] = valueAndGrad(f)(p);
  assertEquals(liveTensors() - before, 3); // value + two grads
  await v.data();
  lf.treeDispose([v, g]);
  assertEquals(liveTensors(), before);
  assertEquals(cpu().buffers, buffers);
  const gw = grad(f)(p);
  assertEquals(liveTensors() - before, 2);
  lf.treeDispose(gw);
  // Grad of grad too.
  const h = grad((q: typeof p) => grad(f)(q).w.sum());
  const gh = h(p);
  assertEquals(liveTensors() - before, 2);
  lf.treeDispose(gh);
  assertEquals(liveTensors(), before);
});

Deno.test("memory stays flat across many training-like steps", () => {
  let w = tensor([0.5, -0.5], { dtype: "float64" });
  const x = tensor([[1, 2], [3, 4]], { dtype: "float64" });
  const before = liveTensors(), buffers = cpu().buffers;
  for (let i = 0; i < 50; i++) {
    const next = scope(() => {
      const g = grad((w: Tensor) => x.matmul(w).sigmoid().sum())(w);
      return w.sub(g.mul(0.1));
    });
    w.dispose();
    w = next;
  }
  assertEquals(liveTensors(), before);
  assertEquals(cpu().buffers, buffers);
});

Deno.test("vjp: dispose frees the leaves and intermediates it made", async () => {
  const x = tensor([1, 2, 3], { dtype: "float64" });
  const before = liveTensors();
  const { out, backward, dispose } = vjp((x: Tensor) => x.mul(x).exp().sum(), x);
  const ct = tensor(1, { dtype: "float64" });
  const g = backward(ct);
  const g2 = backward(ct);
  dispose();
  // What vjp handed out survives dispose.
  assertEquals(await out.item(), Math.exp(1) + Math.exp(4) + Math.exp(9));
  assertEquals(Array.from(await g.data()), Array.from(await g2.data()));
  lf.treeDispose([out, g, g2, ct]);
  assertEquals(liveTensors(), before);
});
