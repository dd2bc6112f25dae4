// WebGPU equals the CPU oracle on matmul (all four transpose combinations, broadcast batch
// dims, sizes around the 64x64 tile) and on the shape ops (reshape, permute, transpose,
// expand, slice, concat, stack, squeeze, unsqueeze), forward and gradients.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import type { Tensor } from "../../mod.ts";
import {
  broadcastOf,
  check,
  compareGrad,
  compareOn,
  dataFor,
  finite,
  gpuTest,
  host,
  intsFor,
  LOOSE,
  shapeArb,
  TOL,
} from "./_util.ts";

const mdim = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 2, arbitrary: fc.integer({ min: 60, max: 70 }) },
  { weight: 1, arbitrary: fc.integer({ min: 120, max: 140 }) },
);

/** Operands of matmulT(a, b, ta, tb) with broadcast batch dims. */
const matmulCase = fc.record({
  m: mdim,
  k: mdim,
  n: mdim,
  ta: fc.boolean(),
  tb: fc.boolean(),
  batch: shapeArb(0, 2, 6).filter((s) => s.every((d) => d > 0)),
}).filter(({ m, k, n, batch }) => m * k * n * batch.reduce((a, b) => a * b, 1) <= 200000)
  .chain(({ m, k, n, ta, tb, batch }) =>
    fc.tuple(broadcastOf(batch), broadcastOf(batch)).chain(([ba, bb]) =>
      fc.tuple(
        fc.constant({ ta, tb }),
        dataFor([...ba, ...(ta ? [k, m] : [m, k])], finite(1)),
        dataFor([...bb, ...(tb ? [n, k] : [k, n])], finite(1)),
      )
    )
  );

gpuTest(
  "webgpu matmulT equals cpu: 4 transpose combos, broadcast batches, ragged tiles",
  async () => {
    await check(matmulCase, async ([{ ta, tb }, a, b]) => {
      await compareOn(`matmul ${ta} ${tb}`, [a, b], (x, y) => lf.matmulT(x, y, ta, tb), LOOSE);
    }, 40);
  },
);

gpuTest("webgpu matmul gradients equal cpu, all transpose combos", async () => {
  await check(
    matmulCase.filter(([, a, b]) => a.data.length + b.data.length < 20000),
    async ([{ ta, tb }, a, b]) => {
      await compareGrad(
        `matmul grad ${ta} ${tb}`,
        [a, b],
        [0, 1],
        (x, y) => lf.matmulT(x, y, ta, tb),
        LOOSE,
      );
    },
  );
});

gpuTest("webgpu matmul: int32, vectors (numpy promotion), NaN and Inf propagate", async () => {
  await check(
    fc.tuple(
      fc.integer({ min: 1, max: 70 }),
      fc.integer({ min: 0, max: 70 }),
      fc.integer({ min: 1, max: 9 }),
    )
      .chain(([m, k, n]) => fc.tuple(intsFor([m, k], -9, 9), intsFor([k, n], -9, 9))),
    async ([a, b]) => {
      await compareOn("int32 matmul", [a, b], (x, y) => lf.matmul(x, y), { rtol: 0, atol: 0 });
    },
    10,
  );
  const v = host([1, 2, 3], [3]);
  const m = host([1, 2, 3, 4, 5, 6], [3, 2]);
  await compareOn("vector @ matrix", [v, m], (x, y) => lf.matmul(x, y));
  await compareOn("matrix @ vector", [m, host([1, -1], [2])], (x, y) => lf.matmul(x, y));
  const special = host([1, NaN, 2, 3, Infinity, 0, -Infinity, 1, 0], [3, 3]);
  await compareOn("matmul non-finite", [special, special], (x, y) => lf.matmul(x, y));
});

gpuTest(
  "webgpu shape ops equal cpu: permute, transpose, expand, slice, squeeze, unsqueeze",
  async () => {
    await check(
      shapeArb(1, 4, 2000).chain((s) =>
        fc.tuple(
          dataFor(s, finite()),
          fc.shuffledSubarray([...s.keys()], { minLength: s.length, maxLength: s.length }),
          fc.array(fc.integer({ min: -4, max: 4 }), { minLength: s.length, maxLength: s.length }),
          fc.array(fc.integer({ min: -4, max: 6 }), { minLength: s.length, maxLength: s.length }),
          fc.integer({ min: 0, max: s.length }),
        )
      ),
      async ([x, perm, starts, ends, ax]) => {
        const fwd = (t: Tensor) => [
          lf.permute(t, perm),
          lf.transpose(t, 0, -1),
          lf.slice(t, starts, ends),
          lf.unsqueeze(t, ax),
          lf.squeeze(lf.unsqueeze(t, ax)),
          lf.reshape(t, [-1]),
          lf.expand(lf.unsqueeze(t, 0), [2, ...t.shape]),
        ];
        await compareOn("shape ops", [x], fwd, TOL);
        await compareGrad(
          "permute+slice grad",
          [x],
          [0],
          (t) => lf.slice(lf.permute(t, perm), starts, ends),
        );
        await compareGrad(
          "expand grad",
          [x],
          [0],
          (t) => lf.expand(lf.unsqueeze(t, 0), [3, ...t.shape]),
        );
      },
    );
  },
);

gpuTest(
  "webgpu concat / stack equal cpu along any axis (empty parts too), with gradients",
  async () => {
    await check(
      shapeArb(1, 3, 1000).chain((s) =>
        fc.tuple(
          fc.integer({ min: 0, max: s.length - 1 }),
          fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
          fc.constant(s),
        ).chain(([axis, lens, s]) =>
          fc.tuple(
            fc.constant(axis),
            fc.tuple(...lens.map((l) => dataFor(s.map((d, i) => (i === axis ? l : d)), finite()))),
            fc.tuple(dataFor(s, finite()), dataFor(s, finite())),
          )
        )
      ),
      async ([axis, parts, [p, q]]) => {
        await compareOn("concat", parts, (...xs) => lf.concat(xs, axis));
        await compareOn("stack", [p, q], (a, b) => [lf.stack([a, b], axis), lf.stack([a, b], -1)]);
        await compareGrad(
          "concat grad",
          parts,
          parts.map((_, i) => i),
          (...xs) => lf.concat(xs, axis),
        );
      },
    );
  },
);
