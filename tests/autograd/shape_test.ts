import fc from "fast-check";
import * as lf from "../../mod.ts";
import { tensor } from "../../mod.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { check, checkGrad, f64, seedArb, shapeArb, sizeOf, tensorArb, valuesArb } from "./_prop.ts";

/** A random permutation of 0..n-1. */
const permArb = (n: number) =>
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }).map((k) =>
    [...k.keys()].sort((i, j) => k[i] - k[j] || i - j)
  );

Deno.test("grad property: reshape (including -1 and to rank 0)", async () => {
  const arb = tensorArb("any").chain((t) =>
    fc.tuple(fc.constant(t), fc.shuffledSubarray(factorsOf(sizeOf(t.shape))), fc.boolean(), seedArb)
  );
  await check(arb, async ([t, factors, hole, seed]) => {
    const target = factors.length
      ? [...factors, sizeOf(t.shape) / prod(factors)]
      : [sizeOf(t.shape)];
    if (hole) target[0] = -1;
    await checkGrad(([x]) => x.reshape(target), [f64(t.values, t.shape)], seed);
    await checkGrad(([x]) => x.flatten(), [f64(t.values, t.shape)], seed);
  });
});

function prod(xs: number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

/** The prime factors of n (with repeats), so any subset divides it. */
function factorsOf(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) while (n % p === 0) (out.push(p), n /= p);
  return out;
}

Deno.test("grad property: permute and transpose", async () => {
  const arb = tensorArb("any", 1, 3).chain((t) =>
    fc.tuple(
      fc.constant(t),
      permArb(t.shape.length),
      fc.integer({ min: -t.shape.length, max: t.shape.length - 1 }),
      fc.integer({ min: -t.shape.length, max: t.shape.length - 1 }),
      seedArb,
    )
  );
  await check(arb, async ([t, perm, a, b, seed]) => {
    await checkGrad(([x]) => x.permute(perm), [f64(t.values, t.shape)], seed);
    await checkGrad(([x]) => x.transpose(a, b), [f64(t.values, t.shape)], seed);
  });
});

Deno.test("grad property: expand (new leading dims, size-1 dims, -1)", async () => {
  const arb = shapeArb(0, 3, 12).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      valuesArb(sizeOf(shape)),
      fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      fc.array(fc.integer({ min: 1, max: 3 }), {
        minLength: shape.length,
        maxLength: shape.length,
      }),
      fc.boolean(),
      seedArb,
    )
  );
  await check(arb, async ([shape, values, lead, grow, useHole, seed]) => {
    // Only size-1 dims may grow; others keep their size (or -1).
    const target = [
      ...lead,
      ...shape.map((d, i) => (d === 1 ? grow[i] : useHole ? -1 : d)),
    ];
    await checkGrad(([x]) => x.expand(target), [f64(values, shape)], seed);
  });
});

Deno.test("grad property: slice (negative and clamped bounds)", async () => {
  const arb = tensorArb("any", 1, 3).chain((t) =>
    fc.tuple(
      fc.constant(t),
      fc.array(fc.tuple(fc.integer({ min: -5, max: 4 }), fc.integer({ min: -5, max: 5 })), {
        minLength: 0,
        maxLength: t.shape.length,
      }),
      seedArb,
    )
  );
  await check(arb, async ([t, bounds, seed]) => {
    const x0 = f64(t.values, t.shape);
    const starts = bounds.map((b) => b[0]), ends = bounds.map((b) => b[1]);
    const out = x0.slice(starts, ends);
    if (out.size === 0) return;
    await checkGrad(([x]) => x.slice(starts, ends), [x0], seed);
  });
});

Deno.test("grad property: concat and stack along any axis", async () => {
  const arb = shapeArb(1, 3, 8).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.integer({ min: -shape.length, max: shape.length - 1 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      seedArb,
    )
  ).chain(([shape, axis, sizes, seed]) => {
    const ax = axis < 0 ? axis + shape.length : axis;
    const shapes = sizes.map((s) => shape.map((d, i) => (i === ax ? s : d)));
    return fc.tuple(...shapes.map((s) => valuesArb(sizeOf(s)))).map((vs) => ({
      shape,
      axis,
      shapes,
      vs,
      seed,
    }));
  });
  await check(arb, async ({ shape, axis, shapes, vs, seed }) => {
    await checkGrad((xs) => lf.concat(xs, axis), shapes.map((s, i) => f64(vs[i], s)), seed);
    const n = sizeOf(shape);
    const same = vs.map((v) => f64(Array.from({ length: n }, (_, j) => v[j % v.length]), shape));
    const sAxis = axis < 0 ? axis - 1 : axis; // stack accepts -(rank+1)..rank
    await checkGrad((xs) => lf.stack(xs, sAxis), same, seed);
  });
});

Deno.test("grad property: squeeze and unsqueeze", async () => {
  const arb = tensorArb("any", 0, 3).chain((t) =>
    fc.tuple(fc.constant(t), fc.integer({ min: -t.shape.length - 1, max: t.shape.length }), seedArb)
  );
  await check(arb, async ([t, axis, seed]) => {
    const x = f64(t.values, t.shape);
    await checkGrad(([x]) => x.unsqueeze(axis), [x], seed);
    await checkGrad(([x]) => x.squeeze(), [x], seed);
    await checkGrad(([x]) => x.unsqueeze(axis).squeeze(axis), [x], seed);
  });
});

Deno.test("reshape values: shares data, -1 inferred", async () => {
  const x = tensor([1, 2, 3, 4, 5, 6]);
  assertEquals(await x.reshape([2, 3]).array(), [[1, 2, 3], [4, 5, 6]]);
  assertEquals(x.reshape([3, -1]).shape, [3, 2]);
  assertEquals(x.reshape([-1]).shape, [6]);
  assertEquals(tensor([7]).reshape([]).shape, []);
  assertEquals(await tensor([7]).reshape([]).item(), 7);
  assertEquals(lf.zeros([0, 3]).reshape([3, 0]).shape, [3, 0]);
});

Deno.test("permute / transpose values", async () => {
  const x = tensor([[[1, 2], [3, 4], [5, 6]]]); // [1,3,2]
  assertEquals(await x.permute([2, 0, 1]).array(), [[[1, 3, 5]], [[2, 4, 6]]]);
  assertEquals(await x.permute([-1, -3, -2]).array(), [[[1, 3, 5]], [[2, 4, 6]]]);
  assertEquals(await x.transpose().array(), [[[1, 3, 5], [2, 4, 6]]]);
  assertEquals(x.transpose(0, 2).shape, [2, 3, 1]);
  assertEquals(await x.transpose(0, 2).array(), [[[1], [3], [5]], [[2], [4], [6]]]);
});

Deno.test("expand values", async () => {
  assertEquals(await tensor([1, 2]).expand([2, 2]).array(), [[1, 2], [1, 2]]);
  assertEquals(await tensor([[1], [2]]).expand([-1, 3]).array(), [[1, 1, 1], [2, 2, 2]]);
  assertEquals(await tensor(5).expand([2]).array(), [5, 5]);
});

Deno.test("slice values", async () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  assertEquals(await x.slice([0, 1], [1, 3]).array(), [[2, 3]]);
  assertEquals(await x.slice([1]).array(), [[4, 5, 6]]);
  assertEquals(await x.slice([0, -2]).array(), [[2, 3], [5, 6]]);
  assertEquals(await x.slice([0, 0], [undefined, -1]).array(), [[1, 2], [4, 5]]);
  assertEquals(x.slice([0, 5]).shape, [2, 0]);
  assertEquals(await x.slice([-10], [10]).array(), [[1, 2, 3], [4, 5, 6]]);
});

Deno.test("concat / stack values", async () => {
  const a = tensor([[1, 2]]), b = tensor([[3, 4], [5, 6]]);
  assertEquals(await lf.concat([a, b]).array(), [[1, 2], [3, 4], [5, 6]]);
  assertEquals(await lf.concat([b, b], -1).array(), [[3, 4, 3, 4], [5, 6, 5, 6]]);
  assertEquals(await lf.stack([tensor([1, 2]), tensor([3, 4])]).array(), [[1, 2], [3, 4]]);
  assertEquals(await lf.stack([tensor([1, 2]), tensor([3, 4])], 1).array(), [[1, 3], [2, 4]]);
  assertEquals(await lf.stack([tensor([1, 2]), tensor([3, 4])], -1).array(), [[1, 3], [2, 4]]);
  assertEquals(lf.stack([tensor(1), tensor(2)]).shape, [2]);
});

Deno.test("squeeze / unsqueeze values", () => {
  const x = lf.zeros([1, 3, 1]);
  assertEquals(x.squeeze().shape, [3]);
  assertEquals(x.squeeze(0).shape, [3, 1]);
  assertEquals(x.squeeze(-1).shape, [1, 3]);
  assertEquals(x.unsqueeze(0).shape, [1, 1, 3, 1]);
  assertEquals(x.unsqueeze(-1).shape, [1, 3, 1, 1]);
  assertEquals(x.unsqueeze(2).shape, [1, 3, 1, 1]);
  assertEquals(lf.zeros([]).unsqueeze(0).shape, [1]);
});

Deno.test("shape op errors name the op and the shapes", () => {
  const x = lf.zeros([2, 3]);
  assertThrows(
    () => x.reshape([4, 2]),
    lf.ShapeError,
    "reshape: cannot reshape [2,3] (6 elements) to [4,2]",
  );
  assertThrows(() => x.reshape([-1, -1]), lf.ShapeError, "reshape: more than one -1 in [-1,-1]");
  assertThrows(() => x.reshape([4, -1]), lf.ShapeError, "reshape: cannot reshape [2,3]");
  assertThrows(() => x.permute([0, 0]), lf.ValueError, "permute: dims [0,0] are not a permutation");
  assertThrows(() => x.permute([0]), lf.ValueError, "permute");
  assertThrows(() => x.permute([0, 2]), lf.ValueError, "permute: axis 2 out of range for rank 2");
  assertThrows(() => x.transpose(0, 5), lf.ValueError, "transpose: axis 5 out of range");
  assertThrows(() => x.expand([2, 4]), lf.ShapeError, "expand: cannot expand [2,3] to [2,4]");
  assertThrows(() => x.expand([3]), lf.ShapeError, "expand: cannot expand [2,3] to [3]");
  assertThrows(() => x.slice([0, 0, 0]), lf.ShapeError, "slice: 3 starts for a tensor of rank 2");
  assertThrows(
    () => lf.concat([x, lf.zeros([3, 2])]),
    lf.ShapeError,
    "concat: shapes differ off axis 0: [2,3], [3,2]",
  );
  assertThrows(() => lf.concat([]), lf.ValueError, "concat: needs at least one tensor");
  assertThrows(() => lf.concat([x, x], 2), lf.ValueError, "concat: axis 2 out of range for rank 2");
  assertThrows(() => lf.stack([x, lf.zeros([3, 2])]), lf.ShapeError, "concat: shapes differ");
  assertThrows(() => x.squeeze(0), lf.ShapeError, "squeeze: axis 0 of [2,3] has size 2, not 1");
  assertThrows(() => x.unsqueeze(3), lf.ValueError, "unsqueeze: axis 3 out of range for rank 3");
});

Deno.test("gradients of several slices of one tensor are joined: disjoint, gaps, overlaps, two axes", async () => {
  const r = lf.rng(8);
  const x = lf.randn([3, 7], { rng: r, dtype: "float64", backend: "cpu" });
  // [starts, ends] of each slice; the loss weights every slice differently.
  const layouts: [number[], number[]][][] = [
    [[[0, 0], [3, 2]], [[0, 2], [3, 7]]], // covering the last axis: one concat
    [[[0, 1], [3, 3]], [[0, 5], [3, 6]]], // with gaps
    [[[0, 0], [3, 4]], [[0, 2], [3, 7]]], // overlapping
    [[[0, 0], [2, 7]], [[0, 0], [3, 3]]], // partial along two axes
    [[[1, 0], [3, 7]]], // one slice
  ];
  for (const slices of layouts) {
    const f = (xs: lf.Tensor[]) =>
      slices
        .map(([s, e], i) => lf.slice(xs[0], s, e).square().mul(i + 1).sum())
        .reduce((a, b) => a.add(b));
    await gradcheck(f, [x], { msg: JSON.stringify(slices) });
  }
});

Deno.test("the slices of a q/k/v split join into one concat, with no zeros made for them", () => {
  const cpu = lf.backendInstance("cpu");
  const x = lf.randn([4, 9], { rng: lf.rng(2), backend: "cpu" });
  const fill = cpu.fill;
  let fills = 0;
  cpu.fill = (...a: Parameters<typeof fill>) => (fills++, fill.apply(cpu, a));
  try {
    lf.grad((t: lf.Tensor) =>
      [0, 1, 2].map((i) => lf.slice(t, [0, 3 * i], [4, 3 * i + 3]).sum()).reduce((a, b) => a.add(b))
    )(x);
  } finally {
    cpu.fill = fill;
  }
  // One fill: the seed's 1. Padding each slice's gradient would make four zero blocks more.
  assertEquals(fills, 1);
});
