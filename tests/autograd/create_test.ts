import * as lf from "../../mod.ts";
import { arange, eye, full, ones, rand, randn, rng, tensor, zeros } from "../../mod.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";

Deno.test("tensor from nested arrays: shape, default float32, values", async () => {
  const t = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(t.shape, [2, 3]);
  assertEquals(t.dtype, "float32");
  assertEquals(t.size, 6);
  assertEquals(t.rank, 2);
  assertEquals(t.backend.name, "cpu");
  assert((await t.data()) instanceof Float32Array);
  assertEquals(await t.array(), [[1, 2, 3], [4, 5, 6]]);
  assertEquals((await tensor([0.1]).data())[0], Math.fround(0.1));
  assertEquals((await tensor([0.1], { dtype: "float64" }).data())[0], 0.1);
  const s = tensor(3.5);
  assertEquals(s.shape, []);
  assertEquals(await s.item(), 3.5);
  assertEquals(tensor([]).shape, [0]);
  assertEquals(tensor([[], []]).shape, [2, 0]);
  assertEquals(tensor([[[1]], [[2]]]).shape, [2, 1, 1]);
});

Deno.test("tensor from typed arrays: dtype follows the array, shape option, copies", async () => {
  const f64 = new Float64Array([1, 2, 3, 4]);
  const a = tensor(f64, { shape: [2, 2] });
  assertEquals(a.dtype, "float64");
  assertEquals(a.shape, [2, 2]);
  f64[0] = 100; // the tensor holds a copy
  assertEquals(await a.array(), [[1, 2], [3, 4]]);
  assertEquals(tensor(new Int32Array([1, 2])).dtype, "int32");
  assertEquals(tensor(new Float32Array(3)).dtype, "float32");
  // An explicit dtype converts (float to int truncates toward zero).
  const i = tensor(new Float64Array([1.9, -1.9]), { dtype: "int32" });
  assertEquals(i.dtype, "int32");
  assertEquals(Array.from(await i.data()), [1, -1]);
  assertEquals(Array.from(await tensor([2.7, -2.7], { dtype: "int32" }).data()), [2, -2]);
  // data() returns a copy too.
  const d = await a.data();
  d[1] = 99;
  assertEquals((await a.data())[1], 2);
  // Reshaping nested data by the shape option.
  assertEquals(tensor([[1, 2], [3, 4]], { shape: [4] }).shape, [4]);
});

Deno.test("zeros, ones, full with dtypes", async () => {
  assertEquals(await zeros([2, 2]).array(), [[0, 0], [0, 0]]);
  assertEquals(await ones([3]).array(), [1, 1, 1]);
  assertEquals(await full([2], 7).array(), [7, 7]);
  assertEquals(zeros([2]).dtype, "float32");
  assertEquals(ones([2], { dtype: "int32" }).dtype, "int32");
  assertEquals(full([1], 2.5, { dtype: "float64" }).dtype, "float64");
  assertEquals(Array.from(await full([2], 2.5, { dtype: "int32" }).data()), [2, 2]);
  assertEquals(zeros([]).shape, []);
  assertEquals(zeros([0, 3]).size, 0);
  assertEquals(await lf.zerosLike(ones([2], { dtype: "float64" })).array(), [0, 0]);
  assertEquals(lf.onesLike(ones([2], { dtype: "float64" })).dtype, "float64");
  assertEquals(await lf.fullLike(zeros([2]), 4).array(), [4, 4]);
});

Deno.test("arange: one/two/three arguments, int vs float default, negative step", async () => {
  const a = arange(4);
  assertEquals(a.dtype, "int32");
  assertEquals(Array.from(await a.data()), [0, 1, 2, 3]);
  assertEquals(Array.from(await arange(2, 5).data()), [2, 3, 4]);
  assertEquals(Array.from(await arange(5, 0, -2).data()), [5, 3, 1]);
  const f = arange(0, 1, 0.25);
  assertEquals(f.dtype, "float32");
  assertEquals(Array.from(await f.data()), [0, 0.25, 0.5, 0.75]);
  assertEquals(arange(0, 3, 1, { dtype: "float64" }).dtype, "float64");
  assertEquals(arange(3, 3).shape, [0]);
  assertEquals(arange(3, 0).shape, [0]);
});

Deno.test("eye", async () => {
  assertEquals(await eye(3).array(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
  assertEquals(eye(2, { dtype: "int32" }).dtype, "int32");
  assertEquals(eye(0).shape, [0, 0]);
});

Deno.test("rand / randn: deterministic by rng(seed), bounds and moments", async () => {
  const a = await rand([100], { rng: rng(7), dtype: "float64" }).data();
  const b = await rand([100], { rng: rng(7), dtype: "float64" }).data();
  const c = await rand([100], { rng: rng(8), dtype: "float64" }).data();
  assertEquals(a, b);
  assert(Array.from(a).some((v, i) => v !== c[i]));
  assert(Array.from(a).every((v) => v >= 0 && v < 1));
  const r = await rand([1000], { rng: rng(1), low: -2, high: 3 }).data();
  assert(Array.from(r).every((v) => v >= -2 && v < 3));
  const n1 = await randn([4, 5], { rng: rng(3), dtype: "float64" }).data();
  const n2 = await randn([4, 5], { rng: rng(3), dtype: "float64" }).data();
  assertEquals(n1, n2);
  const big = Array.from(
    await randn([20000], { rng: rng(5), mean: 2, std: 0.5, dtype: "float64" }).data(),
  );
  const mu = big.reduce((s, v) => s + v, 0) / big.length;
  const sd = Math.sqrt(big.reduce((s, v) => s + (v - mu) ** 2, 0) / big.length);
  assertClose(mu, 2, { atol: 0.02, rtol: 0 });
  assertClose(sd, 0.5, { atol: 0.02, rtol: 0 });
  const u = Array.from(await rand([20000], { rng: rng(9), dtype: "float64" }).data());
  assertClose(u.reduce((s, v) => s + v, 0) / u.length, 0.5, { atol: 0.01, rtol: 0 });
  // The same generator continues its sequence.
  const g = rng(11);
  const first = await rand([3], { rng: g, dtype: "float64" }).data();
  const second = await rand([3], { rng: g, dtype: "float64" }).data();
  assert(first[0] !== second[0]);
  assertEquals(randn([2, 3]).dtype, "float32");
  assertEquals(rand([2], { dtype: "float64" }).dtype, "float64");
});

Deno.test("seed() resets the default generator", async () => {
  lf.seed(123);
  const a = await rand([5]).data();
  lf.seed(123);
  const b = await rand([5]).data();
  assertEquals(a, b);
});

Deno.test("rng: same seed same sequence, state save/restore, split, int", () => {
  const a = rng(42), b = rng(42);
  for (let i = 0; i < 10; i++) assertEquals(a.uniform(), b.uniform());
  const saved = a.state;
  const next = [a.uniform(), a.normal(), a.int(10)];
  a.state = saved;
  assertEquals([a.uniform(), a.normal(), a.int(10)], next);
  const s1 = rng(1).split(), s2 = rng(1).split();
  assertEquals(s1.uniform(), s2.uniform());
  const r = rng(3);
  for (let i = 0; i < 200; i++) {
    const k = r.int(5);
    assert(Number.isInteger(k) && k >= 0 && k < 5);
  }
  assert(rng(1).uniform() !== rng(2).uniform());
});

Deno.test("backend option and current backend", async () => {
  assertEquals(lf.currentBackendName(), "cpu");
  await lf.setBackend("cpu");
  const t = tensor([1], { backend: "cpu" });
  assertEquals(t.backend.name, "cpu");
  assertEquals(zeros([1], { backend: "cpu" }).backend.name, "cpu");
  assertEquals(String(tensor([[1, 2]], { dtype: "float64" })), "Tensor(float64 [1,2] cpu)");
  const d = tensor([1]);
  d.dispose();
  assertEquals(String(d), "Tensor(float32 [1] disposed)");
});

Deno.test("creation errors", () => {
  assertThrows(() => tensor([[1, 2], [3]]), lf.ShapeError, "tensor: ragged nested array");
  assertThrows(() => tensor([1, [2]] as unknown as number[]), lf.ShapeError, "ragged");
  assertThrows(() => tensor([1, [2, 3]] as unknown as number[]), lf.ShapeError, "ragged");
  assertThrows(() => tensor([[1], 2] as unknown as number[]), lf.ShapeError, "ragged");
  assertThrows(() => tensor([[], [1]]), lf.ShapeError, "ragged");
  assertThrows(
    () => tensor([1, 2, 3], { shape: [2, 2] }),
    lf.ShapeError,
    "tensor: shape [2,2] needs 4 values, got 3",
  );
  assertThrows(() => zeros([2, -1]), lf.ShapeError, "full: invalid shape [2,-1]");
  assertThrows(() => rand([1.5]), lf.ShapeError, "rand: invalid shape [1.5]");
  assertThrows(() => randn([-1]), lf.ShapeError, "randn: invalid shape [-1]");
  assertThrows(() => arange(0, 1, 0), RangeError, "arange: step must not be 0");
  assertThrows(
    () => tensor(["a"] as unknown as number[]),
    TypeError,
    "tensor: expected numbers or arrays",
  );
});
