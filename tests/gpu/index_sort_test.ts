// WebGPU equals the CPU oracle on indexing (gather, take, scatterAdd on both of its routes,
// oneHot) and sorting (argsort / sort, stable, descending, NaN largest, rows past 2048).
import fc from "fast-check";
import * as lf from "../../mod.ts";
import {
  check,
  compareGrad,
  compareOn,
  dataFor,
  finite,
  gpuTest,
  host,
  type HostTensor,
  intsFor,
  nonEmptyShapeArb,
  special,
  TOL,
} from "./_util.ts";

/** x of shape s, an axis, and an int32 index tensor valid for gather/scatter along it. */
const indexCase = (maxLen: number) =>
  nonEmptyShapeArb(1, 3, 1500).chain((s) =>
    fc.integer({ min: 0, max: s.length - 1 }).chain((axis) =>
      fc.tuple(
        fc.constant(axis),
        dataFor(s, special()),
        fc.tuple(
          ...s.map((
            d,
            i,
          ) => (i === axis ? fc.integer({ min: 0, max: maxLen }) : fc.integer({ min: 0, max: d }))),
        ).chain((is) => intsFor(is, 0, s[axis] - 1)),
      )
    )
  );

gpuTest("webgpu gather / scatterAdd equal cpu along any axis, with gradients", async () => {
  await check(indexCase(6), async ([axis, x, idx]) => {
    const src: HostTensor = host(Array.from(idx.data, (v, i) => (v * 7 + i) % 5 - 2), idx.shape);
    await compareOn(`gather ${axis}`, [x, idx], (t, i) => lf.gather(t, axis, i), TOL);
    await compareOn(
      `scatterAdd ${axis}`,
      [x, idx, src],
      (t, i, s) => lf.scatterAdd(t, axis, i, s),
      TOL,
    );
    await compareGrad(
      `gather grad ${axis}`,
      [host(Array.from(x.data, (v) => (Number.isFinite(v) ? v : 1)), x.shape), idx],
      [0],
      (t, i) => lf.gather(t, axis, i),
    );
    await compareGrad(
      `scatterAdd grad ${axis}`,
      [host(Array.from(x.data, (v) => (Number.isFinite(v) ? v : 1)), x.shape), idx, src],
      [0, 2],
      (t, i, s) => lf.scatterAdd(t, axis, i, s),
    );
  });
});

gpuTest(
  "webgpu scatterAdd with many entries per output (compare-and-swap route) equals cpu",
  async () => {
    await check(
      fc.tuple(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 65, max: 400 }),
        fc.integer({ min: 1, max: 8 }),
      )
        .chain(([rows, n, dim]) =>
          fc.tuple(
            intsFor([n, dim], 0, rows - 1),
            // Small integers add exactly in any order, so the comparison can be exact.
            fc.array(fc.integer({ min: -3, max: 3 }), { minLength: n * dim, maxLength: n * dim }),
            fc.constant(rows),
          )
        ),
      async ([idx, src, rows]) => {
        const dim = idx.shape[1];
        const s = host(src, idx.shape);
        const base = host(new Array(rows * dim).fill(0.5), [rows, dim]);
        await compareOn("scatterAdd cas", [base, idx, s], (b, i, v) => lf.scatterAdd(b, 0, i, v), {
          rtol: 0,
          atol: 0,
        });
        await compareOn(
          "scatterAdd cas int",
          [base, idx, s],
          (b, i, v) => lf.scatterAdd(lf.cast(b, "int32"), 0, i, lf.cast(v, "int32")),
          { rtol: 0, atol: 0 },
        );
      },
      10,
    );
  },
);

gpuTest("webgpu take / embedding / oneHot equal cpu, with gradients", async () => {
  await check(
    fc.tuple(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0, max: 4 }),
    )
      .chain(([vocab, dim, n, m]) =>
        fc.tuple(
          dataFor([vocab, dim], finite()),
          intsFor([n, m], 0, vocab - 1),
          intsFor([n], -2, vocab + 1),
          fc.constant(vocab),
        )
      ),
    async ([table, ids, labels, vocab]) => {
      await compareOn("take", [table, ids], (t, i) => lf.take(t, i));
      await compareOn("oneHot", [labels], (l) => lf.oneHot(l, vocab));
      await compareGrad("take grad", [table, ids], [0], (t, i) => lf.take(t, i));
    },
  );
});

gpuTest("webgpu argsort / sort equal cpu: stable, descending, NaN largest, ties", async () => {
  await check(
    fc.tuple(nonEmptyShapeArb(1, 3, 3000), fc.boolean()).chain(([s, desc]) =>
      fc.tuple(
        fc.constant(desc),
        dataFor(s, fc.oneof(fc.constantFrom(0, -0, 1, 1, 2, NaN, Infinity, -Infinity), finite())),
      )
    ),
    async ([desc, x]) => {
      await compareOn(`argsort ${desc}`, [x], (t) => [lf.argsort(t, desc), lf.sort(t, desc)], {
        rtol: 0,
        atol: 0,
      });
      await compareOn(`argsort int ${desc}`, [x], (t) => lf.argsort(lf.cast(t, "int32"), desc), {
        rtol: 0,
        atol: 0,
      });
    },
    30,
  );
  await check(nonEmptyShapeArb(1, 2, 300).chain((s) => dataFor(s, finite())), async (x) => {
    await compareGrad("sort grad", [x], [0], (t) => lf.sort(t, true));
  }, 10);
});

gpuTest("webgpu argsort of rows longer than 2048 (global bitonic network) equals cpu", async () => {
  for (const len of [2049, 5000]) {
    const v = Array.from(
      { length: 2 * len },
      (_, i) => (i % 17 === 0 ? NaN : ((i * 7919) % 101) - 50),
    );
    for (const desc of [false, true]) {
      await compareOn(`argsort ${len} ${desc}`, [host(v, [2, len])], (t) => lf.argsort(t, desc), {
        rtol: 0,
        atol: 0,
      });
    }
  }
});
