// Half-precision storage dtypes on the CPU backend: 2 bytes per element, matmul / take / cast
// read them exactly as their float32 widening, everything else refuses them by name.
import fc from "fast-check";
import {
  backendInstance,
  bf16ToF32,
  cast,
  concat,
  DTypeError,
  f32ToBf16,
  f32ToF16,
  full,
  fusedLayerNorm,
  grad,
  type HalfDType,
  matmul,
  rng,
  setBackend,
  take,
  type Tensor,
  tensor,
  valueAndGrad,
  where,
  zerosLike,
} from "../../mod.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";

await setBackend("cpu");

/** Random float32 values (some large, some tiny, as weights are). */
function values(n: number, seed: number): Float32Array {
  const r = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.normal() * (i % 7 === 0 ? 30 : 0.05);
  return out;
}

/** A half tensor of random values and its exact float32 widening. */
function pair(shape: number[], dtype: HalfDType, seed: number): [Tensor, Tensor] {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = values(n, seed);
  const bits = dtype === "bfloat16" ? f32ToBf16(v) : f32ToF16(v);
  const h = tensor(bits, { shape, dtype });
  return [h, cast(h, "float32")];
}

/** Bitwise equality of two float32 arrays (NaN patterns included). */
function assertBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const x = new Uint32Array(Float32Array.from(a).buffer);
  const y = new Uint32Array(Float32Array.from(b).buffer);
  assertEquals(x.length, y.length, `${what}: lengths`);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

Deno.test("half tensors hold 2 bytes per element and read back as their exact values", async () => {
  const cpu = backendInstance("cpu");
  for (const dtype of ["bfloat16", "float16"] as const) {
    const before = cpu.memory().bytes;
    const v = values(1001, 3);
    const t = tensor(v, { shape: [7, 143], dtype });
    assertEquals(cpu.memory().bytes - before, 2002, `${dtype} bytes`);
    assertEquals(t.dtype, dtype);
    const back = await t.data();
    assert(back instanceof Float32Array, "data() widens to float32");
    const bits = dtype === "bfloat16" ? f32ToBf16(v) : f32ToF16(v);
    assertBits(back, await tensor(bits, { dtype }).data(), `${dtype} round trip`);
    if (dtype === "bfloat16") assertBits(back, bf16ToF32(bits), "bf16 widening");
    t.dispose();
  }
  assertThrows(() => tensor(new Uint16Array(2)), DTypeError, '"bfloat16" or "float16"');
  assertThrows(() => tensor(new Uint16Array(2), { dtype: "float32" }), DTypeError, "float32");
  assertThrows(() => full([2], 1, { dtype: "bfloat16" }), DTypeError, "full: bfloat16");
});

const dimArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 13 }), fc.constant(33));

Deno.test("matmul with a half B equals matmul with B widened to float32, bit for bit", () => {
  const arb = fc.record({
    m: dimArb,
    k: dimArb,
    n: dimArb,
    batch: fc.oneof(fc.constant<number[]>([]), fc.constant([2]), fc.constant([1, 3])),
    batchB: fc.boolean(),
    transB: fc.boolean(),
    dtype: fc.constantFrom<HalfDType>("bfloat16", "float16"),
    seed: fc.integer({ min: 0, max: 1000 }),
  });
  fc.assert(
    fc.property(arb, ({ m, k, n, batch, batchB, transB, dtype, seed }) => {
      const x = tensor(values(batch.reduce((a, b) => a * b, 1) * m * k, seed), {
        shape: [...batch, m, k],
      });
      const bShape = [...(batchB ? batch : []), ...(transB ? [n, k] : [k, n])];
      const [h, f] = pair(bShape, dtype, seed + 1);
      const got = matmul(x, h, { transposeB: transB });
      const want = matmul(x, f, { transposeB: transB });
      assertEquals(got.dtype, "float32");
      assertEquals(got.shape, want.shape);
      assertBits(got.storage.buf as Float32Array, want.storage.buf as Float32Array, "matmul");
    }),
    { numRuns: 60 },
  );
});

Deno.test("a large product (threads, several panels) with a half B is bit-identical too", async () => {
  for (const transB of [true, false]) {
    const x = tensor(values(64 * 300, 5), { shape: [64, 300] });
    const [h, f] = pair(transB ? [257, 300] : [300, 257], "bfloat16", 6);
    assertBits(
      await matmul(x, h, { transposeB: transB }).data(),
      await matmul(x, f, { transposeB: transB }).data(),
      `transB ${transB}`,
    );
  }
});

Deno.test("a half A operand and transposed views of half tensors are read in place", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const [h, f] = pair([5, 9], dtype, 11);
    const y = tensor(values(9 * 4, 12), { shape: [9, 4] });
    assertBits(await matmul(h, y).data(), await matmul(f, y).data(), `${dtype} A`);
    // h.transpose() is a view; matmul reads it through the transpose flag.
    const z = tensor(values(4 * 9, 13), { shape: [4, 9] });
    assertBits(
      await matmul(z, h.transpose()).data(),
      await matmul(z, f.transpose()).data(),
      `${dtype} transposed view`,
    );
    // Other views are copied as bits.
    assertBits(await h.slice([1, 2], [4, 7]).data(), await f.slice([1, 2], [4, 7]).data(), "slice");
    assertBits(await h.reshape([45]).data(), await f.reshape([45]).data(), "reshape");
    // Beside float64 (the CPU oracle) the half operand is widened exactly.
    const x64 = tensor(values(3 * 9, 14), { shape: [3, 9], dtype: "float64" });
    const out = matmul(x64, h, { transposeB: true });
    assertEquals(out.dtype, "float64");
    assertEquals(
      Array.from(await out.data()),
      Array.from(await matmul(x64, cast(f, "float64"), { transposeB: true }).data()),
    );
  }
});

Deno.test("take of a half table gives its rows as float32", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const [h, f] = pair([6, 5], dtype, 21);
    const ids = tensor([[5, 0, 2], [2, 2, 1]], { dtype: "int32" });
    const rows = take(h, ids);
    assertEquals(rows.dtype, "float32");
    assertEquals(rows.shape, [2, 3, 5]);
    assertBits(await rows.data(), await take(f, ids).data(), `${dtype} take`);
    assertThrows(() => take(h, tensor([6], { dtype: "int32" })), undefined, "out of range");
  }
});

Deno.test("cast narrows with round-to-nearest-even and widens exactly", async () => {
  const v = values(500, 31);
  v.set([0, -0, Infinity, -Infinity, NaN, 65504, 65520, 1e-8, 3e-5, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
  const x = tensor(v);
  for (const dtype of ["bfloat16", "float16"] as const) {
    const h = cast(x, dtype);
    assertEquals(h.dtype, dtype);
    const bits = new Uint16Array(h.storage.buf as Uint16Array);
    assertEquals(Array.from(bits), Array.from(dtype === "bfloat16" ? f32ToBf16(v) : f32ToF16(v)));
    const wide = cast(h, "float32");
    assertBits(await wide.data(), await h.data(), `${dtype} widen`);
    assertEquals(
      Array.from(await cast(h, "float64").data()),
      Array.from(await wide.data()),
      `${dtype} to float64`,
    );
    assertEquals(
      Array.from(await cast(h, "int32").data()),
      Array.from(await cast(wide, "int32").data()),
    );
  }
  const ints = cast(tensor([3, -7], { dtype: "int32" }), "bfloat16");
  assertEquals(Array.from(await ints.data()), [3, -7]);
});

Deno.test("ops that do not read half storage say so, naming the op and the dtype", () => {
  const [h] = pair([2, 3], "bfloat16", 41);
  const f = tensor(values(6, 42), { shape: [2, 3] });
  const cases: [string, () => unknown][] = [
    ["add", () => h.add(f)],
    ["add", () => f.add(h)],
    ["mul", () => h.mul(2)],
    ["exp", () => h.exp()],
    ["sum", () => h.sum()],
    ["max", () => h.max()],
    ["softmax", () => h.softmax()],
    ["argmax", () => h.argmax()],
    ["argsort", () => h.argsort()],
    ["cumsum", () => h.cumsum()],
    ["gt", () => h.gt(0)],
    ["where", () => where(f.gt(0), h, f)],
    ["gather", () => h.gather(1, tensor([[0], [1]], { dtype: "int32" }))],
    ["concat", () => concat([h, h])],
    ["layerNorm", () => fusedLayerNorm(f, h.reshape([6]).slice([0], [3]), tensor([0, 0, 0]), 1e-5)],
    ["zerosLike", () => zerosLike(h)],
  ];
  for (const [op, fn] of cases) {
    const e = assertThrows(fn, DTypeError, "bfloat16");
    assert(e.message.startsWith(`${op}:`), `${op}: message ${e.message}`);
  }
});

Deno.test("gradients flow through a half operand to the other one, never into it", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const [h, f] = pair([4, 3], dtype, 51);
    const x = tensor(values(2 * 3, 52), { shape: [2, 3] });
    const loss = (w: Tensor) => (a: Tensor) => matmul(a, w, { transposeB: true }).square().sum();
    const [v1, g1] = valueAndGrad(loss(h))(x);
    const [v2, g2] = valueAndGrad(loss(f))(x);
    assertBits(await v1.data(), await v2.data(), `${dtype} loss`);
    assertBits(await g1.data(), await g2.data(), `${dtype} grad`);
    // The embedding path too: take of a half table, then a float32 op.
    const ids = tensor([1, 3], { dtype: "int32" });
    const s = tensor(values(3, 53));
    const gs = grad((s: Tensor) => take(h, ids).mul(s).sum())(s);
    const want = grad((s: Tensor) => take(f, ids).mul(s).sum())(s);
    assertBits(await gs.data(), await want.data(), `${dtype} take grad`);
    const e = assertThrows(() => grad((w: Tensor) => matmul(x, w, { transposeB: true }).sum())(h));
    assert(e.message.includes(`${dtype}, storage for frozen weights`), e.message);
  }
});
