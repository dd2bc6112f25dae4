// Strided views: transpose, permute, expand and slice share storage without copying, the
// elementwise primitives read them in place, every other consumer sees logical order, and
// gradients through views match finite differences.
import { assert, assertEquals } from "../_assert.ts";
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { type Backend, backendInstance, liveTensors, type Tensor, tensor } from "../../mod.ts";
import { check, checkGrad, f64, seedArb, sizeOf } from "./_prop.ts";

/** Counts calls of `strided` and `matmul` on the cpu backend while `fn` runs. */
function spy<T>(fn: () => T): { result: T; strided: number; transFlags: boolean[][] } {
  const b = backendInstance("cpu") as { -readonly [K in keyof Backend]: Backend[K] };
  const strided = b.strided, matmul = b.matmul;
  let n = 0;
  const transFlags: boolean[][] = [];
  b.strided = (...args) => (n++, strided.apply(b, args));
  b.matmul = (a, bb, spec, dtype) => {
    transFlags.push([spec.transA, spec.transB]);
    return matmul.call(b, a, bb, spec, dtype);
  };
  try {
    return { result: fn(), strided: n, transFlags };
  } finally {
    b.strided = strided;
    b.matmul = matmul;
  }
}

/** Host-side permute of row-major `v` of `shape`: the oracle for views. */
function hostPermute(v: ArrayLike<number>, shape: number[], dims: number[]): number[] {
  const outShape = dims.map((d) => shape[d]);
  const n = sizeOf(shape);
  const st = shape.map((_, i) => sizeOf(shape.slice(i + 1)));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let rem = i, src = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const c = rem % outShape[d];
      rem = Math.floor(rem / outShape[d]);
      src += c * st[dims[d]];
    }
    out.push(v[src]);
  }
  return out;
}

/** A shape (dims 0..4, rank 0..4), a permutation of its axes and values. */
const permCase = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 })
  .filter((s) => sizeOf(s) <= 200)
  .chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.shuffledSubarray([...shape.keys()], { minLength: shape.length }),
      fc.array(fc.double({ min: -3, max: 3, noNaN: true }), {
        minLength: sizeOf(shape),
        maxLength: sizeOf(shape),
      }),
    )
  );

Deno.test("transpose and permute make views: no copy, no new buffer", () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const cpu = backendInstance("cpu");
  const before = cpu.memory().buffers;
  const { result: [t, p], strided } = spy(
    () => [x.transpose(), x.reshape([1, 2, 3]).permute([2, 0, 1])],
  );
  assertEquals(strided, 0);
  assertEquals(cpu.memory().buffers, before);
  assert(!t.isContiguous && !p.isContiguous);
  assertEquals(t.shape, [3, 2]);
  assertEquals(t.strides, [1, 3]);
  for (const v of [t, p, x]) v.dispose();
});

Deno.test("x.transpose().add(y) makes no copy: one new buffer, the output", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]), y = tensor([[10, 20], [30, 40], [50, 60]]);
  const cpu = backendInstance("cpu");
  const before = cpu.memory().buffers;
  const { result: z, strided } = spy(() => lf.scope(() => lf.keep(x.transpose().add(y))));
  assertEquals(strided, 0);
  assertEquals(cpu.memory().buffers, before + 1);
  assertEquals(await z.array(), [[11, 24], [32, 45], [53, 66]]);
  for (const v of [x, y, z]) v.dispose();
});

Deno.test("data() and array() of views read the logical order; the view stays a view", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const t = x.transpose();
  assertEquals(Array.from(await t.data()), [1, 4, 2, 5, 3, 6]);
  assertEquals(await t.array(), [[1, 4], [2, 5], [3, 6]]);
  assert(!t.isContiguous);
  const e = tensor([1, 2]).reshape([2, 1]).expand([2, 3]);
  assertEquals(await e.array(), [[1, 1, 1], [2, 2, 2]]);
  const s = x.slice([0, 1], [2, 3]);
  assertEquals(await s.array(), [[2, 3], [5, 6]]);
  assertEquals(await s.transpose().array(), [[2, 5], [3, 6]]);
  assertEquals(await x.transpose().slice([1]).item().catch(() => "many"), "many");
  assertEquals(await x.transpose().slice([2, 1]).item(), 6);
  for (const v of [x, t, e, s]) v.dispose();
});

Deno.test("elementwise ops on permuted views equal the contiguous result", async () => {
  await check(fc.tuple(permCase, seedArb), async ([[shape, dims, values], seed]) => {
    const x = f64(values, shape);
    const ref = f64(hostPermute(values, shape, dims), dims.map((d) => shape[d]));
    const y = lf.randn(ref.shape, { dtype: "float64", backend: "cpu", rng: lf.rng(seed) });
    const v = x.permute(dims);
    const fs: ((a: Tensor) => Tensor)[] = [
      (a) => a.exp(),
      (a) => a.neg().relu(),
      (a) => a.add(y),
      (a) => y.mul(a),
      (a) => a.sub(a),
      (a) => a.maximum(0.5),
      (a) => lf.where(a.gt(0), a, y),
      (a) => lf.where(y.gt(0), 1, a),
      (a) => a.sum(),
      (a) => a.reshape([-1]),
      (a) => a.cast("float32"),
    ];
    for (const f of fs) {
      const got = f(v), want = f(ref);
      assertEquals(got.shape, want.shape);
      assertEquals(Array.from(await got.data()), Array.from(await want.data()));
      got.dispose();
      want.dispose();
    }
    for (const t of [x, ref, y, v]) t.dispose();
  });
});

Deno.test("binary ops broadcast views against views and contiguous tensors", async () => {
  // [2,3]ᵀ + [3,1] broadcast, [4]-expanded against a sliced view, int32 views.
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const c = tensor([[100], [200], [300]]);
  assertEquals(await x.transpose().add(c).array(), [[101, 104], [202, 205], [303, 306]]);
  assertEquals(await c.transpose().mul(x).array(), [[100, 400, 900], [400, 1000, 1800]]);
  const e = tensor([1, 2, 3]).expand([2, 3]);
  assertEquals(await e.add(x.slice([0, 0], [2, 3])).array(), [[2, 4, 6], [5, 7, 9]]);
  const sl = x.slice([0, 1]);
  assertEquals(await sl.add(sl.mul(0).add(1)).array(), [[3, 4], [6, 7]]);
  assertEquals(await x.transpose().add(x.transpose()).array(), [[2, 8], [4, 10], [6, 12]]);
  const xi = x.cast("int32");
  assertEquals(await xi.transpose().sub(1).array(), [[0, 3], [1, 4], [2, 5]]);
  assertEquals(await tensor(5).expand([2, 2]).add(x.slice([0, 0], [2, 2])).array(), [
    [6, 7],
    [9, 10],
  ]);
  const z = tensor(new Float32Array(0), { shape: [0, 3] });
  assertEquals((await z.transpose().add(1).data()).length, 0);
  for (const t of [x, c, e, sl, xi, z]) t.dispose();
});

Deno.test("gradients through views pass float64 finite differences", async () => {
  await check(
    fc.tuple(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
      seedArb,
    ),
    async ([[a, b, c], seed]) => {
      const r = lf.rng(seed);
      const x = lf.randn([a, b, c], { dtype: "float64", backend: "cpu", rng: r });
      const y = lf.randn([c, a, b], { dtype: "float64", backend: "cpu", rng: r });
      const w = lf.randn([b, c], { dtype: "float64", backend: "cpu", rng: r });
      // A constant condition: `where` is not differentiable where its condition flips.
      const cond = lf.randn([c, a, b], { dtype: "float64", backend: "cpu", rng: r }).gt(0);
      await checkGrad(
        ([x, y, w]) =>
          x.permute([2, 0, 1]).mul(y).tanh().add(
            y.permute([1, 2, 0]).permute([2, 0, 1]).exp().mul(0.1),
          )
            .add(w.transpose().unsqueeze(1).expand([c, a, b]).sigmoid())
            .add(lf.where(cond, x.permute([2, 0, 1]), w.transpose().reshape([c, 1, b])))
            .add(x.slice([0, 0, 0], [a, b, 1]).permute([2, 0, 1]).square()),
        [x, y, w],
        seed,
      );
      for (const t of [x, y, w, cond]) t.dispose();
    },
    15,
  );
});

Deno.test("matmul of a transposed view uses the transpose flag, not a copy", async () => {
  const a = tensor([[1, 2], [3, 4], [5, 6]]), b = tensor([[1, 0, 2], [0, 1, 3]]);
  const { result: y, strided, transFlags } = spy(() => lf.matmul(a.transpose(), b.transpose()));
  assertEquals(strided, 0);
  assertEquals(transFlags, [[true, true]]);
  assertEquals(await y.array(), [[11, 18], [14, 22]]);
  const { result: y2, strided: s2, transFlags: f2 } = spy(() =>
    lf.matmulT(a.transpose(), a, false, false)
  );
  assertEquals(s2, 0);
  assertEquals(f2, [[true, false]]);
  assertEquals(await y2.array(), [[35, 44], [44, 56]]);
  // Batched: a transpose of the last two axes of a [2,3,2] tensor.
  const bt = lf.arange(12).reshape([2, 3, 2]);
  const { result: y3, strided: s3 } = spy(() => lf.matmul(bt.transpose(), bt));
  assertEquals(s3, 0);
  const bt0 = tensor([[0, 1], [2, 3], [4, 5]]);
  assertEquals(
    (await y3.array() as number[][][])[0],
    await lf.matmul(bt0.transpose(), bt0).array(),
  );
  // Gradients through a transposed operand.
  const [, [ga]] = lf.valueAndGrad(([p]: Tensor[]) =>
    lf.matmul(p.transpose(), b.transpose()).sum()
  )([a]);
  assertEquals(await ga.array(), [[1, 1], [1, 1], [5, 5]]);
  for (const t of [a, b, y, y2, bt, y3, bt0, ga]) t.dispose();
});

Deno.test("views keep refcounting: storage lives while any view does, nothing leaks", async () => {
  const cpu = backendInstance("cpu");
  const n0 = liveTensors(), m0 = cpu.memory().buffers;
  const x = tensor([[1, 2], [3, 4]]);
  const t = x.transpose();
  x.dispose();
  assertEquals(cpu.memory().buffers, m0 + 1); // still held by the view
  assertEquals(await t.array(), [[1, 3], [2, 4]]);
  // Counts are compared within synchronous stretches only: at an await, the garbage
  // collector may release storage that an earlier test dropped without disposing it.
  const m1 = cpu.memory().buffers;
  const s = t.sum(0); // a reduction copies the view once (the view then owns its copy)
  // +1 for the view's copy, −1 for the original storage (x is gone), +1 for s.
  assertEquals(cpu.memory().buffers, m1 + 1);
  assertEquals(await s.array(), [3, 7]);
  const m2 = cpu.memory().buffers;
  t.dispose();
  s.dispose();
  assertEquals(cpu.memory().buffers, m2 - 2);
  assertEquals(liveTensors(), n0);
  const m3 = cpu.memory().buffers;
  lf.scope(() => {
    const y = lf.ones([3, 4]);
    y.transpose().exp().permute([1, 0]).slice([1]).expand([2, 2, 4]).softmax().sum();
  });
  assertEquals(cpu.memory().buffers, m3);
  assertEquals(liveTensors(), n0);
});

Deno.test("a prefix slice is a view: ops that size their output from the buffer see its size", async () => {
  const x = tensor([[1, 2], [3, 4], [5, 6]]);
  const s = x.slice([0], [2]);
  assert(!s.isContiguous);
  assertEquals(await s.softmax().sum(-1).array(), [1, 1]);
  assertEquals(await s.cumsum(0).array(), [[1, 2], [4, 6]]);
  assertEquals(await s.argsort(true).array(), [[1, 0], [1, 0]]);
  const e = x.slice([3]);
  assertEquals(e.shape, [0, 2]);
  assertEquals((await e.cumsum(0).data()).length, 0);
  for (const t of [x, s, e]) t.dispose();
});
