import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { check, checkGrad, f64, i32, seedArb, sizeOf, valuesArb } from "./_prop.ts";

const dim = fc.integer({ min: 1, max: 3 });

/** Batch dims for a and b that broadcast (size-1 and missing dims included). */
const batchPairArb = fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }).chain((base) =>
  fc.tuple(
    fc.array(fc.integer({ min: 0, max: 2 }), { minLength: base.length, maxLength: base.length }),
    fc.integer({ min: 0, max: base.length }),
    fc.boolean(),
  ).map(([which, drop, dropA]) => {
    const a = base.map((d, i) => (which[i] === 1 ? 1 : d));
    const b = base.map((d, i) => (which[i] === 2 ? 1 : d));
    return dropA ? [a.slice(drop), b] : [a, b.slice(drop)];
  })
);

Deno.test("grad property: matmul 2-D and batched with broadcast batch dims", async () => {
  const arb = fc.tuple(batchPairArb, dim, dim, dim).chain(([[ba, bb], m, k, n]) => {
    const sa = [...ba, m, k], sb = [...bb, k, n];
    return fc.tuple(valuesArb(sizeOf(sa)), valuesArb(sizeOf(sb)), seedArb).map((
      [va, vb, seed],
    ) => ({ sa, sb, va, vb, seed }));
  });
  await check(arb, async ({ sa, sb, va, vb, seed }) => {
    await checkGrad(([a, b]) => a.matmul(b), [f64(va, sa), f64(vb, sb)], seed, {
      msg: `matmul ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`,
    });
  });
});

Deno.test("grad property: matmul with 1-D operands", async () => {
  const arb = fc.tuple(fc.array(dim, { maxLength: 3 }), dim, fc.constantFrom(0, 1, 2)).chain(
    ([other, k, mode]) => {
      // mode 0: vector @ vector; 1: vector @ [..., k, n]; 2: [..., m, k] @ vector
      const sa = mode === 2 ? [...other.slice(0, -1), other.at(-1) ?? 2, k] : [k];
      const sb = mode === 1 ? [...other.slice(0, -1), k, other.at(-1) ?? 2] : [k];
      return fc.tuple(valuesArb(sizeOf(sa)), valuesArb(sizeOf(sb)), seedArb).map((
        [va, vb, seed],
      ) => ({ sa, sb, va, vb, seed }));
    },
  );
  await check(arb, async ({ sa, sb, va, vb, seed }) => {
    await checkGrad(([a, b]) => a.matmul(b), [f64(va, sa), f64(vb, sb)], seed);
  });
});

Deno.test("grad property: matmulT, all four transpose combinations", async () => {
  const arb = fc.tuple(batchPairArb, dim, dim, dim, fc.boolean(), fc.boolean()).chain(
    ([[ba, bb], m, k, n, ta, tb]) => {
      const sa = [...ba, ...(ta ? [k, m] : [m, k])];
      const sb = [...bb, ...(tb ? [n, k] : [k, n])];
      return fc.tuple(valuesArb(sizeOf(sa)), valuesArb(sizeOf(sb)), seedArb).map((
        [va, vb, seed],
      ) => ({ sa, sb, va, vb, ta, tb, seed }));
    },
  );
  await check(arb, async ({ sa, sb, va, vb, ta, tb, seed }) => {
    await checkGrad(([a, b]) => lf.matmulT(a, b, ta, tb), [f64(va, sa), f64(vb, sb)], seed, {
      msg: `matmulT ${ta} ${tb}`,
    });
  });
});

Deno.test("matmulT equals matmul of explicit transposes", async () => {
  const a = f64([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = f64([1, -1, 2, 0, 3, 1], [3, 2]);
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const A = ta ? a.transpose() : a, B = tb ? b.transpose() : b;
      const lhs = lf.matmulT(A, B, ta, tb);
      assertEquals(await lhs.array(), await a.matmul(b).array(), `${ta} ${tb}`);
    }
  }
});

Deno.test("matmul values: 2-D, 1-D, batched broadcast", async () => {
  const a = tensor([[1, 2], [3, 4]]);
  const b = tensor([[5, 6], [7, 8]]);
  assertEquals(await a.matmul(b).array(), [[19, 22], [43, 50]]);
  const v = tensor([1, 1]);
  assertEquals(await a.matmul(v).array(), [3, 7]);
  assertEquals(await v.matmul(a).array(), [4, 6]);
  assertEquals(await v.matmul(v).array(), 2);
  assertEquals(v.matmul(v).shape, []);
  // [2,1,2,2] @ [3,2,2] -> [2,3,2,2]
  const A = tensor([[[[1, 0], [0, 1]]], [[[2, 0], [0, 2]]]]);
  const B = tensor([[[1, 2], [3, 4]], [[0, 1], [1, 0]], [[1, 1], [1, 1]]]);
  const C = A.matmul(B);
  assertEquals(C.shape, [2, 3, 2, 2]);
  assertEquals(await C.array(), [
    [[[1, 2], [3, 4]], [[0, 1], [1, 0]], [[1, 1], [1, 1]]],
    [[[2, 4], [6, 8]], [[0, 2], [2, 0]], [[2, 2], [2, 2]]],
  ]);
  // Batched @ 1-D.
  assertEquals(await B.matmul(v).array(), [[3, 7], [1, 1], [2, 2]]);
  // Rectangular.
  assertEquals(await tensor([[1, 2, 3]]).matmul(tensor([[1], [2], [3]])).array(), [[14]]);
});

Deno.test("matmul int32 and dtype promotion", async () => {
  const a = i32([1, 2, 3, 4], [2, 2]);
  const c = a.matmul(a);
  assertEquals(c.dtype, "int32");
  assertEquals(await c.array(), [[7, 10], [15, 22]]);
  assertEquals(a.matmul(tensor([[1, 0], [0, 1]], { dtype: "float64" })).dtype, "float64");
});

Deno.test("matmul propagates NaN and Infinity (even against zeros)", async () => {
  const a = tensor([[NaN, 1], [0, 0]], { dtype: "float64" });
  const b = tensor([[0, 0], [1, 1]], { dtype: "float64" });
  assertEquals(await a.matmul(b).array(), [[NaN, NaN], [0, 0]]);
  const z = tensor([[0, 1]], { dtype: "float64" });
  const inf = tensor([[Infinity], [1]], { dtype: "float64" });
  assertEquals(await z.matmul(inf).array(), [[NaN]]);
});

Deno.test("matmul gradient values", async () => {
  const a = f64([1, 2, 3, 4], [2, 2]);
  const b = f64([5, 6, 7, 8], [2, 2]);
  const [ga, gb] = lf.grad(([a, b]: lf.Tensor[]) => a.matmul(b).sum())([a, b]);
  assertClose(await ga.data(), [11, 15, 11, 15]); // ones @ bᵀ
  assertClose(await gb.data(), [4, 4, 6, 6]); // aᵀ @ ones
});

Deno.test("matmul shape errors", () => {
  const msg = "matmul: inner dimensions differ: a is [2,3], b is [4,5]";
  assertThrows(() => lf.zeros([2, 3]).matmul(lf.zeros([4, 5])), lf.ShapeError, msg);
  assertThrows(() => lf.matmul(lf.zeros([]), lf.zeros([2])), lf.ShapeError, "matmul: scalars");
  assertThrows(
    () => lf.zeros([2, 2, 3]).matmul(lf.zeros([3, 3, 2])),
    lf.ShapeError,
    "matmul: shapes cannot broadcast: [2] and [3]",
  );
  assertThrows(
    () => lf.matmulT(lf.zeros([2, 3]), lf.zeros([2, 3]), false, false),
    lf.ShapeError,
    "matmul: inner dimensions differ: a is [2,3], b is [2,3]",
  );
  assertThrows(
    () => lf.matmulT(lf.zeros([3]), lf.zeros([3, 3]), false, false),
    lf.ShapeError,
    "rank >= 2",
  );
});

Deno.test("matmul's transpose options equal the positional matmulT alias, bit for bit", async () => {
  const a = lf.randn([2, 3, 4], { rng: lf.rng(1) }), b = lf.randn([2, 4, 3], { rng: lf.rng(2) });
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      const x = ta ? lf.randn([2, 4, 3], { rng: lf.rng(3) }) : a;
      const y = tb ? lf.randn([2, 3, 4], { rng: lf.rng(4) }) : b;
      const got = await lf.matmul(x, y, { transposeA: ta, transposeB: tb }).data();
      const want = await lf.matmulT(x, y, ta, tb).data();
      assertEquals(Array.from(got), Array.from(want), `${ta} ${tb}`);
    }
  }
});
