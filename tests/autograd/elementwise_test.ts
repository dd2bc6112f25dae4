import fc from "fast-check";
import * as lf from "../../mod.ts";
import { type Tensor, tensor } from "../../mod.ts";
import { assertClose, assertEquals } from "../_assert.ts";
import {
  broadcastPairArb,
  check,
  checkGrad,
  f64,
  i32,
  type Kind,
  seedArb,
  sizeOf,
  tensorArb,
  valuesArb,
} from "./_prop.ts";

// ---- gradients: unary ops ----

const unaryOps: [string, (x: Tensor) => Tensor, Kind][] = [
  ["neg", lf.neg, "any"],
  ["exp", lf.exp, "any"],
  ["log", lf.log, "pos"],
  ["sqrt", lf.sqrt, "pos"],
  ["rsqrt", lf.rsqrt, "pos"],
  ["square", lf.square, "any"],
  ["abs", lf.abs, "away0"],
  ["tanh", lf.tanh, "any"],
  ["sigmoid", lf.sigmoid, "any"],
  ["relu", lf.relu, "away0"],
  ["gelu", lf.gelu, "any"],
  ["silu", lf.silu, "any"],
  ["sin", lf.sin, "any"],
  ["cos", lf.cos, "any"],
  ["recip", lf.recip, "away0"],
];

for (const [name, op, kind] of unaryOps) {
  Deno.test(`grad property: ${name}`, async () => {
    await check(fc.tuple(tensorArb(kind), seedArb), async ([t, seed]) => {
      await checkGrad(([x]) => op(x), [f64(t.values, t.shape)], seed, { msg: name });
    });
  });
}

Deno.test("grad property: unary ops as methods agree with free functions", async () => {
  const x = f64([0.5, 1.5, 2.5], [3]);
  for (const [name, op] of unaryOps) {
    const m = (x as unknown as Record<string, () => Tensor>)[name];
    if (typeof m !== "function") continue;
    assertEquals(await m.call(x).data(), await op(x).data(), name);
  }
});

// ---- gradients: binary ops with broadcasting ----

const binaryOps: [string, (a: Tensor, b: Tensor) => Tensor, Kind, Kind][] = [
  ["add", lf.add, "any", "any"],
  ["sub", lf.sub, "any", "any"],
  ["mul", lf.mul, "any", "any"],
  ["div", lf.div, "any", "away0"],
  ["pow", lf.pow, "pos", "any"],
];

for (const [name, op, ka, kb] of binaryOps) {
  Deno.test(`grad property: ${name} (broadcasting)`, async () => {
    const arb = broadcastPairArb().chain(([sa, sb]) =>
      fc.tuple(valuesArb(sizeOf(sa), ka), valuesArb(sizeOf(sb), kb), seedArb).map((
        [va, vb, seed],
      ) => ({ sa, sb, va, vb, seed }))
    );
    await check(arb, async ({ sa, sb, va, vb, seed }) => {
      await checkGrad(([a, b]) => op(a, b), [f64(va, sa), f64(vb, sb)], seed, { msg: name });
    });
  });
}

for (const [name, op] of [["maximum", lf.maximum], ["minimum", lf.minimum]] as const) {
  Deno.test(`grad property: ${name} (broadcasting, no ties)`, async () => {
    // Distinct values across both operands keep away from ties.
    const arb = broadcastPairArb().chain(([sa, sb]) =>
      fc.tuple(valuesArb(sizeOf(sa) + sizeOf(sb), "distinct"), seedArb).map(([v, seed]) => ({
        sa,
        sb,
        va: v.slice(0, sizeOf(sa)),
        vb: v.slice(sizeOf(sa)),
        seed,
      }))
    );
    await check(arb, async ({ sa, sb, va, vb, seed }) => {
      await checkGrad(([a, b]) => op(a, b), [f64(va, sa), f64(vb, sb)], seed, { msg: name });
    });
  });
}

Deno.test("grad property: where (broadcasting cond, a, b)", async () => {
  const arb = broadcastPairArb().chain(([sa, sb]) =>
    fc.tuple(
      valuesArb(sizeOf(sa), "any"),
      valuesArb(sizeOf(sb), "any"),
      fc.array(fc.boolean(), { minLength: sizeOf(sa), maxLength: sizeOf(sa) }),
      seedArb,
    ).map(([va, vb, c, seed]) => ({ sa, sb, va, vb, c, seed }))
  );
  await check(arb, async ({ sa, sb, va, vb, c, seed }) => {
    const cond = f64(c.map(Number), sa);
    await checkGrad(([a, b]) => lf.where(cond, a, b), [f64(va, sa), f64(vb, sb)], seed);
  });
});

Deno.test("grad property: binary ops with a number operand", async () => {
  await check(fc.tuple(tensorArb("pos"), seedArb), async ([t, seed]) => {
    const x = f64(t.values, t.shape);
    await checkGrad(([a]) => lf.add(2, a).mul(3).sub(1), [x], seed);
    await checkGrad(([a]) => lf.sub(1, a).div(2), [x], seed);
    await checkGrad(([a]) => lf.div(1.5, a), [x], seed);
    await checkGrad(([a]) => lf.pow(a, 2.5), [x], seed);
    await checkGrad(([a]) => lf.pow(1.7, a), [x], seed);
  }, 10);
});

// ---- values ----

async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

Deno.test("unary values", async () => {
  const x = tensor([-2, -0.5, 0, 0.5, 2], { dtype: "float64" });
  const xs = [-2, -0.5, 0, 0.5, 2];
  const map = (f: (v: number) => number) => xs.map(f);
  assertClose(await lf.neg(x).data(), map((v) => -v));
  assertClose(await lf.exp(x).data(), map(Math.exp));
  assertClose(await lf.abs(x).data(), [2, 0.5, 0, 0.5, 2]);
  assertClose(await lf.square(x).data(), [4, 0.25, 0, 0.25, 4]);
  assertClose(await lf.tanh(x).data(), map(Math.tanh));
  assertClose(await lf.sigmoid(x).data(), map((v) => 1 / (1 + Math.exp(-v))));
  assertClose(await lf.relu(x).data(), [0, 0, 0, 0.5, 2]);
  assertClose(await lf.silu(x).data(), map((v) => v / (1 + Math.exp(-v))));
  assertClose(await lf.sin(x).data(), map(Math.sin));
  assertClose(await lf.cos(x).data(), map(Math.cos));
  assertClose(await lf.sign(x).data(), [-1, -1, 0, 1, 1]);
  assertClose(await lf.step(x).data(), [0, 0, 0, 1, 1]);
  assertClose(await lf.floor(x).data(), [-2, -1, 0, 0, 2]);
  // GELU, tanh approximation: gelu(1) = 0.8411919906082768, gelu(-1) = -0.15880800939172324
  assertClose(await lf.gelu(tensor([1, -1, 0], { dtype: "float64" })).data(), [
    0.8411919906082768,
    -0.15880800939172324,
    0,
  ], { rtol: 1e-12 });
  const p = tensor([0.25, 1, 4], { dtype: "float64" });
  assertClose(await lf.log(p).data(), [Math.log(0.25), 0, Math.log(4)]);
  assertClose(await lf.sqrt(p).data(), [0.5, 1, 2]);
  assertClose(await lf.rsqrt(p).data(), [2, 1, 0.5]);
  assertClose(await lf.recip(p).data(), [4, 1, 0.25]);
});

Deno.test("unary ops: NaN propagates, log of 0 is -Infinity", async () => {
  const x = tensor([NaN, 0], { dtype: "float64" });
  for (const op of [lf.exp, lf.tanh, lf.sigmoid, lf.relu, lf.gelu, lf.abs, lf.neg]) {
    const d = await op(x).data();
    assertEquals(Number.isNaN(d[0]), true, op.name);
  }
  assertEquals(Array.from(await lf.log(x).data()), [NaN, -Infinity]);
});

Deno.test("sigmoid is stable for large magnitudes", async () => {
  const d = await lf.sigmoid(tensor([-1000, 1000], { dtype: "float64" })).data();
  assertEquals(Array.from(d), [0, 1]);
});

Deno.test("binary values with broadcasting", async () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);
  const c = tensor([[100], [200]]);
  assertEquals(await a.add(b).array(), [[11, 22, 33], [14, 25, 36]]);
  assertEquals(await a.add(c).array(), [[101, 102, 103], [204, 205, 206]]);
  assertEquals(await b.sub(a).array(), [[9, 18, 27], [6, 15, 24]]);
  assertEquals(await a.mul(c).array(), [[100, 200, 300], [800, 1000, 1200]]);
  assertEquals(await b.div(a).array(), [[10, 10, 10], [2.5, 4, 5]]);
  assertEquals((await c.add(b)).shape, [2, 3]);
  assertEquals(await a.pow(2).array(), [[1, 4, 9], [16, 25, 36]]);
  assertEquals(await lf.pow(2, tensor([0, 1, 3])).array(), [1, 2, 8]);
  assertEquals(await lf.sub(10, tensor([1, 2])).array(), [9, 8]);
  assertEquals(await lf.div(1, tensor([2, 4])).array(), [0.5, 0.25]);
  assertEquals(await a.maximum(tensor([2, 7, 0])).array(), [[2, 7, 3], [4, 7, 6]]);
  assertEquals(await a.minimum(3).array(), [[1, 2, 3], [3, 3, 3]]);
  // Rank-0 with anything.
  assertEquals(await tensor(5).mul(a).array(), [[5, 10, 15], [20, 25, 30]]);
  // [3,1] with [1,4] broadcasts to [3,4].
  const col = tensor([[1], [2], [3]]), row = tensor([[10, 20, 30, 40]]);
  assertEquals(col.add(row).shape, [3, 4]);
  assertEquals(await col.mul(row).sum().item(), 6 * 100);
});

Deno.test("comparisons give 1/0 in the operand dtype", async () => {
  const a = tensor([1, 2, 3]);
  assertEquals(await vals(a.eq(2)), [0, 1, 0]);
  assertEquals(await vals(a.ne(2)), [1, 0, 1]);
  assertEquals(await vals(a.lt(2)), [1, 0, 0]);
  assertEquals(await vals(a.le(2)), [1, 1, 0]);
  assertEquals(await vals(a.gt(2)), [0, 0, 1]);
  assertEquals(await vals(a.ge(2)), [0, 1, 1]);
  assertEquals(a.eq(2).dtype, "float32");
  const n = tensor([NaN]);
  assertEquals(await vals(n.eq(n)), [0]);
  assertEquals(await vals(n.ne(n)), [1]);
});

Deno.test("maximum and minimum propagate NaN", async () => {
  const a = tensor([NaN, 1, 2], { dtype: "float64" });
  const b = tensor([0, NaN, 1], { dtype: "float64" });
  assertEquals(await vals(a.maximum(b)), [NaN, NaN, 2]);
  assertEquals(await vals(a.minimum(b)), [NaN, NaN, 1]);
});

Deno.test("int32 arithmetic: truncating division, exact products", async () => {
  const a = i32([7, -7, 7, -7, 5], [5]);
  const b = i32([2, 2, -2, -2, 0], [5]);
  const q = a.div(b);
  assertEquals(q.dtype, "int32");
  assertEquals(await vals(q), [3, -3, -3, 3, 0]);
  assertEquals(await vals(a.mul(b)), [14, -14, -14, 14, 0]);
  assertEquals(await vals(a.add(1)), [8, -6, 8, -6, 6]);
  assertEquals(a.add(1).dtype, "int32");
  assertEquals(await vals(a.neg()), [-7, 7, -7, 7, -5]);
  assertEquals(await vals(a.abs()), [7, 7, 7, 7, 5]);
  assertEquals(await vals(a.gt(0)), [1, 0, 1, 0, 1]);
  assertEquals(a.gt(0).dtype, "int32");
});

Deno.test("dtype promotion: int32 < float32 < float64", async () => {
  const i = i32([1, 2], [2]);
  const f = tensor([0.5, 0.5]);
  const d = tensor([0.25, 0.25], { dtype: "float64" });
  assertEquals(i.add(f).dtype, "float32");
  assertEquals(f.add(d).dtype, "float64");
  assertEquals(i.add(d).dtype, "float64");
  assertEquals(await vals(i.div(f)), [2, 4]);
  // A number operand takes the tensor's dtype.
  assertEquals(d.mul(3).dtype, "float64");
  assertEquals(i.mul(3).dtype, "int32");
});

Deno.test("where: values, broadcasting, number branches", async () => {
  const cond = tensor([[1], [0]]);
  const a = tensor([1, 2, 3]);
  assertEquals(await lf.where(cond, a, -1).array(), [[1, 2, 3], [-1, -1, -1]]);
  assertEquals(await lf.where(tensor([0, 1, 0]), 5, a).array(), [1, 5, 3]);
  assertEquals(await lf.where(i32([1, 0], [2]), tensor([1, 2]), tensor([3, 4])).array(), [1, 4]);
});

Deno.test("gradients of ties: maximum sends to a; abs and relu give 0 at 0", async () => {
  const [ga, gb] = lf.grad(([a, b]: Tensor[]) => a.maximum(b).sum())([
    tensor([1, 2], { dtype: "float64" }),
    tensor([1, 3], { dtype: "float64" }),
  ]);
  assertEquals(await vals(ga), [1, 0]);
  assertEquals(await vals(gb), [0, 1]);
  const g = lf.grad((x: Tensor) => x.abs().add(x.relu()).sum())(tensor([0, -1, 2]));
  assertEquals(await vals(g), [0, -1, 2]);
});

Deno.test("grad of a broadcast operand sums over the broadcast axes", async () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]], { dtype: "float64" });
  const b = tensor([1, 1, 1], { dtype: "float64" });
  const c = tensor([[2], [3]], { dtype: "float64" });
  const [ga, gb, gc] = lf.grad(([a, b, c]: Tensor[]) => a.mul(b).mul(c).sum())([a, b, c]);
  assertEquals(await ga.array(), [[2, 2, 2], [3, 3, 3]]);
  assertEquals(await gb.array(), [2 + 12, 4 + 15, 6 + 18]);
  assertEquals(await gc.array(), [[6], [15]]);
});
