// WebGPU equals the CPU oracle on reductions (sum, mean, max, min, logsumexp, argmax),
// softmax / logSoftmax and cumsum, over random axes, with gradients.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import type { Tensor } from "../../mod.ts";
import {
  check,
  compareGrad,
  compareOn,
  dataFor,
  finite,
  gpuTest,
  host,
  intsFor,
  LOOSE,
  nonEmptyShapeArb,
  shapeArb,
  special,
} from "./_util.ts";

/** A shape and a sorted, unique subset of its axes (possibly empty, possibly all). */
const shapeAxes = shapeArb(0, 4, 3000).chain((s) =>
  fc.tuple(
    fc.constant(s),
    fc.subarray([...s.keys()]),
    fc.boolean(),
  )
);

type Red = "sum" | "mean" | "max" | "min" | "logsumexp";
const reducer = (op: Red, axes: number[], keep: boolean) => (x: Tensor): Tensor =>
  (lf[op] as (t: Tensor, a: number[], k: boolean) => Tensor)(x, axes, keep);

gpuTest(
  "webgpu sum/mean/max/min/logsumexp over any axes equal cpu (NaN, Inf included)",
  async () => {
    await check(
      fc.tuple(fc.constantFrom<Red>("sum", "mean", "max", "min", "logsumexp"), shapeAxes)
        .filter(([op, [s, axes]]) => op === "sum" || op === "mean" || axes.every((a) => s[a] > 0))
        .chain(([op, [s, axes, keep]]) =>
          fc.tuple(fc.constant(op), fc.constant(axes), fc.constant(keep), dataFor(s, special()))
        ),
      async ([op, axes, keep, x]) => {
        await compareOn(`${op} ${axes}`, [x], reducer(op, axes, keep), LOOSE);
      },
      40,
    );
  },
);

gpuTest(
  "webgpu reductions: long rows take the workgroup path; int32 sums and extremes",
  async () => {
    const n = 5000;
    const v = Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
    const x = host(v, [2, n / 2]);
    for (const op of ["sum", "max", "min"] as const) {
      await compareOn(`${op} long`, [x], (t) => lf[op](t, 1), LOOSE);
      await compareOn(`${op} all`, [x], (t) => lf[op](t), { rtol: 1e-4, atol: 1e-3 });
    }
    await check(
      shapeAxes.chain(([s, axes]) => fc.tuple(fc.constant(axes), intsFor(s, -1000, 1000))),
      async ([axes, x]) => {
        const gpu = lf.backendInstance("webgpu"), cpu = lf.backendInstance("cpu");
        for (const op of ["sum", "max", "min"] as const) {
          const [g, c] = [gpu, cpu].map((b) => {
            const buf = b.fromArray(x.data);
            const out = b.reduce(op, buf, x.shape, axes, "int32");
            b.free(buf);
            return out;
          });
          const size = x.shape.filter((_, d) => !axes.includes(d)).reduce((a, b) => a * b, 1);
          const [gv, cv] = await Promise.all([
            gpu.read(g, "int32", size),
            cpu.read(c, "int32", size),
          ]);
          gpu.free(g);
          cpu.free(c);
          if (gv.join() !== cv.join()) throw new Error(`int32 ${op} ${axes}: ${gv} vs ${cv}`);
        }
      },
      15,
    );
  },
);

gpuTest("webgpu reduction gradients equal cpu (ties share the gradient)", async () => {
  await check(
    fc.tuple(fc.constantFrom<Red>("sum", "mean", "max", "min", "logsumexp"), shapeAxes)
      .filter(([, [s, axes]]) => s.every((d) => d > 0) && axes.length > 0)
      .chain(([op, [s, axes, keep]]) =>
        fc.tuple(
          fc.constant(op),
          fc.constant(axes),
          fc.constant(keep),
          // Few distinct values, so max/min ties happen.
          dataFor(s, fc.constantFrom(-1, 0, 0.5, 2, 3)),
        )
      ),
    async ([op, axes, keep, x]) => {
      await compareGrad(`${op} ${axes}`, [x], [0], reducer(op, axes, keep), LOOSE);
    },
  );
});

gpuTest("webgpu argmax equals cpu (first on ties, NaN wins, int32 too)", async () => {
  await check(
    nonEmptyShapeArb(1, 3, 3000).chain((s) =>
      fc.tuple(
        fc.integer({ min: 0, max: s.length - 1 }),
        fc.boolean(),
        dataFor(s, fc.oneof(fc.constantFrom(1, 2, 2, -Infinity, NaN), finite())),
      )
    ),
    async ([axis, keep, x]) => {
      await compareOn(`argmax ${axis}`, [x], (t) => lf.argmax(t, axis, keep), { rtol: 0, atol: 0 });
      await compareOn(
        `argmax int ${axis}`,
        [x],
        (t) => lf.argmax(lf.cast(t, "int32"), axis, keep),
        { rtol: 0, atol: 0 },
      );
    },
  );
  const long = Array.from({ length: 3000 }, (_, i) => (i % 1000 === 999 ? 5 : i % 7));
  await compareOn("argmax long row", [host(long, [3, 1000])], (t) => lf.argmax(t, 1), {
    rtol: 0,
    atol: 0,
  });
  await compareOn("argmax long col", [host(long, [1000, 3])], (t) => lf.argmax(t, 0), {
    rtol: 0,
    atol: 0,
  });
});

gpuTest("webgpu softmax / logSoftmax along any axis equal cpu, with gradients", async () => {
  await check(
    nonEmptyShapeArb(1, 3, 3000).chain((s) =>
      fc.tuple(
        fc.integer({ min: 0, max: s.length - 1 }),
        fc.boolean(),
        dataFor(s, special(20)),
      )
    ),
    async ([axis, log, x]) => {
      const f = (t: Tensor) => (log ? lf.logSoftmax(t, axis) : lf.softmax(t, axis));
      await compareOn(`${log ? "logSoftmax" : "softmax"} ${axis}`, [x], f, LOOSE);
    },
    40,
  );
  await check(
    nonEmptyShapeArb(1, 3, 1000).chain((s) =>
      fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.boolean(), dataFor(s, finite(5)))
    ),
    async ([axis, log, x]) => {
      const f = (t: Tensor) => (log ? lf.logSoftmax(t, axis) : lf.softmax(t, axis));
      await compareGrad(`${log ? "logSoftmax" : "softmax"} grad ${axis}`, [x], [0], f, LOOSE);
    },
  );
  const rows = [[-Infinity, -Infinity, -Infinity], [Infinity, 1, 2], [NaN, 0, 1], [1000, 0, -1000]];
  await compareOn(
    "softmax edge rows",
    [host(rows.flat(), [4, 3])],
    (t) => [lf.softmax(t), lf.logSoftmax(t)],
  );
});

gpuTest(
  "webgpu cumsum along any axis, forward and reverse, equals cpu (long rows too)",
  async () => {
    await check(
      nonEmptyShapeArb(1, 3, 3000).chain((s) =>
        fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.boolean(), dataFor(s, finite()))
      ),
      async ([axis, reverse, x]) => {
        await compareOn(`cumsum ${axis} ${reverse}`, [x], (t) => lf.cumsum(t, axis, reverse), {
          rtol: 1e-4,
          atol: 1e-4,
        });
        await compareOn(
          `cumsum int ${axis}`,
          [x],
          (t) => lf.cumsum(lf.cast(t, "int32"), axis, reverse),
          { rtol: 0, atol: 0 },
        );
      },
    );
    await check(
      nonEmptyShapeArb(1, 3, 500).chain((s) =>
        fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), dataFor(s, finite()))
      ),
      async ([axis, x]) => {
        await compareGrad(`cumsum grad ${axis}`, [x], [0], (t) => lf.cumsum(t, axis), {
          rtol: 1e-4,
          atol: 1e-4,
        });
      },
    );
    const n = 10000;
    const v = Array.from({ length: n }, (_, i) => ((i * 7919) % 13) - 6);
    await compareOn(
      "cumsum long",
      [host(v, [1, n])],
      (t) => [lf.cumsum(t, 1), lf.cumsum(t, 1, true)],
      { rtol: 0, atol: 0 },
    );
  },
);
