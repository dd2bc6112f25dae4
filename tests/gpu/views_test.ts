// Strided views on WebGPU: transpose, permute, expand and slice make no copy, the elementwise
// kernels read them in place, and results (values and gradients) equal both the contiguous
// result on WebGPU and the CPU oracle.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { type Backend, backendInstance, type Tensor, tensor } from "../../mod.ts";
import { assert, assertEquals } from "../_assert.ts";
import {
  assertAllClose,
  broadcastOf,
  check,
  compareGrad,
  compareOn,
  dataFor,
  finite,
  gpuTest,
  shapeArb,
  special,
  TOL,
} from "./_util.ts";

/** Counts `strided` calls on the webgpu backend while `fn` runs. */
function countStrided<T>(fn: () => T): { result: T; strided: number; trans: boolean[][] } {
  const b = backendInstance("webgpu") as { -readonly [K in keyof Backend]: Backend[K] };
  const strided = b.strided, matmul = b.matmul;
  let n = 0;
  const trans: boolean[][] = [];
  b.strided = (...args) => (n++, strided.apply(b, args));
  b.matmul = (
    a,
    bb,
    spec,
    dtype,
  ) => (trans.push([spec.transA, spec.transB]), matmul.call(b, a, bb, spec, dtype));
  try {
    return { result: fn(), strided: n, trans };
  } finally {
    b.strided = strided;
    b.matmul = matmul;
  }
}

/** A contiguous copy of a view (reshape of a non-contiguous view copies it). */
function contiguous(t: Tensor): Tensor {
  return t.reshape([-1]).reshape(t.shape);
}

/** Ops applied to a view and to its contiguous copy; `y` is shaped like the view. */
const OPS: ((a: Tensor, y: Tensor) => Tensor)[] = [
  (a) => a.exp(),
  (a) => a.neg().abs(),
  (a, y) => a.add(y),
  (a, y) => y.div(a),
  (a) => a.mul(a),
  (a) => a.maximum(0.25),
  (a, y) => lf.where(a.gt(0), a, y),
  (a, y) => lf.where(y.gt(0), 2, a),
  (a) => a.sum(-1),
  (a) => a.cast("int32"),
];

gpuTest("webgpu transpose and permute make no copy; x.transpose().add(y) one buffer", async () => {
  const gpu = backendInstance("webgpu");
  const x = tensor([[1, 2, 3], [4, 5, 6]], { backend: "webgpu" });
  const y = tensor([[10, 20], [30, 40], [50, 60]], { backend: "webgpu" });
  const before = gpu.memory().buffers;
  const { result: [t, p], strided } = countStrided(() => [
    x.transpose(),
    x.reshape([2, 3, 1]).permute([2, 1, 0]),
  ]);
  assertEquals(strided, 0);
  assertEquals(gpu.memory().buffers, before);
  assert(!t.isContiguous && !p.isContiguous);
  const { result: z, strided: s2 } = countStrided(() => lf.scope(() => lf.keep(t.add(y))));
  assertEquals(s2, 0);
  assertEquals(gpu.memory().buffers, before + 1);
  assertEquals(await z.array(), [[11, 24], [32, 45], [53, 66]]);
  assertEquals(await t.array(), [[1, 4], [2, 5], [3, 6]]);
  assertEquals(await p.array(), [[[1, 4], [2, 5], [3, 6]]]);
  assertEquals(await x.slice([0, 1]).transpose().array(), [[2, 5], [3, 6]]);
  for (const v of [x, y, t, p, z]) v.dispose();
});

gpuTest(
  "webgpu elementwise ops on permuted, sliced and broadcast views equal contiguous and cpu",
  async () => {
    const arb = shapeArb(0, 4, 2000).chain((shape) =>
      fc.tuple(
        dataFor(shape, special()),
        fc.shuffledSubarray([...shape.keys()], { minLength: shape.length }),
        fc.nat(3),
      ).chain(([x, dims, lead]) => {
        const vshape = dims.map((d) => shape[d]);
        if (vshape.length) vshape[0] -= Math.min(lead, vshape[0]);
        return fc.tuple(
          fc.constant(x),
          fc.constant(dims),
          fc.constant(lead),
          broadcastOf([2, ...vshape]).chain((s) => dataFor(s, finite())),
        );
      })
    );
    await check(arb, async ([x, dims, lead, y]) => {
      // The view: permute, then (when it has axes) drop `lead` rows of the first axis and
      // expand a new leading axis of 2: strides, an offset and a zero stride at once.
      const view = (t: Tensor) => {
        let v = t.permute(dims);
        if (v.rank > 0) v = v.slice([Math.min(lead, v.shape[0])]);
        return v.unsqueeze(0).expand([2, ...v.shape]);
      };
      for (const [k, f] of OPS.entries()) {
        const g = (a: Tensor, b: Tensor) => f(view(a), b);
        await compareOn(`view op ${k}`, [x, y], g, TOL);
        // On webgpu alone: the view against its contiguous copy, bit for bit.
        const a = tensor(x.data, { shape: x.shape, backend: "webgpu" });
        const b = tensor(y.data, { shape: y.shape, backend: "webgpu" });
        const [got, want] = lf.scope(() => [f(view(a), b), f(contiguous(view(a)), b)]);
        const [gv, wv] = await Promise.all([got.data(), want.data()]);
        assertAllClose(gv, wv, { rtol: 0, atol: 0 }, `view op ${k} against contiguous`);
        for (const t of [a, b, got, want]) t.dispose();
      }
    }, 12);
  },
);

gpuTest("webgpu gradients through views equal cpu", async () => {
  const arb = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 3, maxLength: 3 }).chain((
    [a, b, c],
  ) => fc.tuple(dataFor([a, b, c]), dataFor([c, a, b]), dataFor([b, c])));
  await check(arb, async ([x, y, w]) => {
    const [a, b, c] = x.shape;
    await compareGrad(
      "views",
      [x, y, w],
      [0, 1, 2],
      (x, y, w) =>
        x.permute([2, 0, 1]).mul(y).tanh()
          .add(w.transpose().unsqueeze(1).expand([c, a, b]).sigmoid())
          .add(lf.where(y.gt(0), x.permute([2, 0, 1]), y.permute([1, 2, 0]).permute([2, 0, 1])))
          .add(x.slice([0, 0, 0], [a, b, Math.min(c, 1)]).permute([2, 0, 1]).square().sum(0)),
      TOL,
    );
  }, 10);
});

gpuTest("webgpu matmul of a transposed view uses the flag (no copy) and equals cpu", async () => {
  const arb = fc.tuple(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 40 }))
    .chain(([m, k]) => fc.tuple(dataFor([2, k, m]), dataFor([m, k])));
  await check(arb, async ([a, b]) => {
    const A = tensor(a.data, { shape: a.shape, backend: "webgpu" });
    const B = tensor(b.data, { shape: b.shape, backend: "webgpu" });
    const At = A.transpose(), Bt = B.transpose();
    const { result: y, strided, trans } = countStrided(() => lf.matmul(At, Bt));
    assertEquals(strided, 0);
    // A transpose with a size-1 (or empty) axis is contiguous: then there is no flag to flip.
    assertEquals(trans, [[!At.isContiguous, !Bt.isContiguous]]);
    if (a.shape[2] > 1 && a.shape[1] > 1) assert(!At.isContiguous);
    At.dispose();
    Bt.dispose();
    y.dispose();
    for (const t of [A, B]) t.dispose();
    await compareOn("matmul of views", [a, b], (a, b) => lf.matmul(a.transpose(), b.transpose()));
  }, 8);
});
