// WebGPU equals the CPU oracle on elementwise ops: unary, broadcast binary, where, cast,
// fill; forward values (with NaN and ±Infinity mixed in) and gradients.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import type { BinaryOp, Tensor, UnaryOp } from "../../mod.ts";
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
  nonEmptyShapeArb,
  shapeArb,
  special,
  TOL,
} from "./_util.ts";

const UNARY: UnaryOp[] = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "abs",
  "sign",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "silu",
  "sin",
  "cos",
  "square",
  "recip",
  "step",
  "floor",
];
const unaryFn = (op: UnaryOp) => (x: Tensor): Tensor => (lf[op] as (t: Tensor) => Tensor)(x);

gpuTest("webgpu unary ops equal cpu, NaN and Inf included", async () => {
  await check(
    fc.tuple(fc.constantFrom(...UNARY), shapeArb(0, 3, 600)).chain(([op, s]) =>
      fc.tuple(fc.constant(op), dataFor(s, special(6)))
    ),
    async ([op, x]) => {
      await compareOn(op, [x], unaryFn(op), LOOSE);
    },
    60,
  );
});

gpuTest("webgpu unary ops: every op on a fixed grid of edge values", async () => {
  const edge = [
    0,
    -0,
    1,
    -1,
    0.5,
    -0.5,
    1e-4,
    -1e-4,
    3,
    -3,
    20,
    -20,
    90,
    -90,
    1e30,
    -1e30,
    NaN,
    Infinity,
    -Infinity,
  ];
  // sin and cos are only meaningful on a GPU for moderate arguments (float32 range reduction).
  const moderate = edge.filter((v) => !(Math.abs(v) > 1e4 && Number.isFinite(v)));
  for (const op of UNARY) {
    const v = op === "sin" || op === "cos" ? moderate : edge;
    await compareOn(op, [host(v, [v.length])], unaryFn(op), LOOSE);
  }
});

gpuTest("webgpu unary gradients equal cpu", async () => {
  const diffable: UnaryOp[] = UNARY.filter((o) => !["sign", "step", "floor"].includes(o));
  await check(
    fc.tuple(fc.constantFrom(...diffable), nonEmptyShapeArb(1, 3, 300)).chain(([op, s]) =>
      fc.tuple(
        fc.constant(op),
        dataFor(s, fc.float({ min: Math.fround(0.1), max: 3, noNaN: true })),
      )
    ),
    async ([op, x]) => {
      await compareGrad(op, [x], [0], unaryFn(op), LOOSE);
    },
  );
});

gpuTest("webgpu int32 unary primitives equal cpu", async () => {
  const cpu = lf.backendInstance("cpu"), gpu = lf.backendInstance("webgpu");
  const data = Int32Array.from([0, 1, -1, 7, -7, 100, -2147483648, 2147483647, 3]);
  for (const op of UNARY) {
    const want = await cpu.read(
      cpu.unary(op, cpu.fromArray(data), data.length, "int32"),
      "int32",
      data.length,
    );
    const b = gpu.fromArray(data);
    const o = gpu.unary(op, b, data.length, "int32");
    const got = await gpu.read(o, "int32", data.length);
    gpu.free(b);
    gpu.free(o);
    // Ops without an int32 form go through float32 on the GPU and float64 on the CPU, so
    // the truncated results may differ by one (gelu(7) is 6.9999 in float64, 7 in float32).
    const exact = ["neg", "abs", "sign", "relu", "square", "step", "floor"].includes(op);
    for (let i = 0; i < data.length; i++) {
      // Beyond 2^53 the CPU's float64 product is rounded; the GPU's int32 product wraps.
      if ((!exact || op === "square") && Math.abs(data[i]) > 46340) continue;
      if (exact ? got[i] !== want[i] : Math.abs(got[i] - want[i]) > 1) {
        throw new Error(`int32 ${op}(${data[i]}): ${got[i]} on webgpu, ${want[i]} on cpu`);
      }
    }
  }
});

const BINARY: BinaryOp[] = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
];
const binaryFn = (op: BinaryOp) => (a: Tensor, b: Tensor): Tensor =>
  (lf[op] as (x: Tensor, y: Tensor) => Tensor)(a, b);

/** An output shape and two input shapes that broadcast to it. */
const broadcastPair = shapeArb(0, 4, 2000).chain((s) =>
  fc.tuple(fc.constant(s), broadcastOf(s), broadcastOf(s))
);

gpuTest("webgpu binary ops broadcast and equal cpu (float32, NaN and Inf included)", async () => {
  await check(
    fc.tuple(fc.constantFrom(...BINARY), broadcastPair).chain(([op, [, sa, sb]]) =>
      fc.tuple(fc.constant(op), dataFor(sa, special()), dataFor(sb, special()))
    ),
    async ([op, a, b]) => {
      await compareOn(op, [a, b], binaryFn(op), op === "pow" ? LOOSE : TOL);
    },
    60,
  );
});

gpuTest("webgpu binary ops: pow and comparisons on edge values", async () => {
  const v = [0, -0, 1, -1, 2, -2, 0.5, -0.5, 3, NaN, Infinity, -Infinity];
  const a: number[] = [], b: number[] = [];
  for (const x of v) for (const y of v) a.push(x), b.push(y);
  for (const op of BINARY) {
    await compareOn(op, [host(a, [a.length]), host(b, [b.length])], binaryFn(op), LOOSE);
  }
});

gpuTest("webgpu binary ops equal cpu on int32 (truncating div, div by zero is 0)", async () => {
  await check(
    fc.tuple(fc.constantFrom(...BINARY), broadcastPair).chain(([op, [, sa, sb]]) =>
      fc.tuple(fc.constant(op), intsFor(sa), intsFor(sb, op === "pow" ? 0 : -5, 5))
    ),
    async ([op, a, b]) => {
      await compareOn(`int32 ${op}`, [a, b], binaryFn(op), { rtol: 0, atol: 0 });
    },
    30,
  );
});

gpuTest("webgpu binary gradients equal cpu (broadcast inputs sum back)", async () => {
  const diffable: BinaryOp[] = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"];
  await check(
    fc.tuple(fc.constantFrom(...diffable), broadcastPair).chain(([op, [s, sa, sb]]) =>
      fc.tuple(
        fc.constant(op),
        dataFor(sa, fc.float({ min: Math.fround(0.5), max: 2, noNaN: true })),
        dataFor(sb, fc.float({ min: Math.fround(0.5), max: 2, noNaN: true })),
        fc.constant(s),
      )
    ),
    async ([op, a, b]) => {
      await compareGrad(op, [a, b], [0, 1], binaryFn(op), LOOSE);
    },
  );
});

gpuTest(
  "webgpu where equals cpu (float and int conditions, broadcast) and its gradient",
  async () => {
    const arb = shapeArb(0, 3, 1000).chain((s) =>
      fc.tuple(broadcastOf(s), broadcastOf(s), broadcastOf(s), fc.boolean()).chain((
        [sc, sa, sb, intCond],
      ) =>
        fc.tuple(
          intCond ? intsFor(sc, -1, 1) : dataFor(sc, fc.constantFrom(0, -0, 1, NaN, 2.5)),
          dataFor(sa, special()),
          dataFor(sb, special()),
        )
      )
    );
    await check(arb, async ([c, a, b]) => {
      await compareOn("where", [c, a, b], (c, a, b) => lf.where(c, a, b));
      await compareGrad("where", [c, a, b], [1, 2], (c, a, b) => lf.where(c, a, b));
    });
  },
);

gpuTest("webgpu cast equals cpu (truncation, NaN/Inf to 0, wrap-around)", async () => {
  const v = [
    0,
    -0,
    1.7,
    -1.7,
    2.5,
    -2.5,
    1e9,
    -1e9,
    3e9,
    -3e9,
    1e12,
    NaN,
    Infinity,
    -Infinity,
    2147483520,
    -2147483648,
  ];
  await compareOn("cast f32->i32", [host(v, [v.length])], (x) => lf.cast(x, "int32"), {
    rtol: 0,
    atol: 0,
  });
  await check(nonEmptyShapeArb(1, 3, 500).chain((s) => intsFor(s, -100000, 100000)), async (x) => {
    await compareOn("cast i32->f32", [x], (x) => lf.cast(x, "float32"), { rtol: 0, atol: 0 });
  }, 10);
});

gpuTest("webgpu fill / full / zeros / scalars equal cpu, sizes 0 and 1 included", async () => {
  for (const shape of [[], [0], [1], [3, 0, 2], [257], [5, 7]]) {
    for (
      const [value, dtype] of [[1.5, "float32"], [-7, "int32"], [NaN, "float32"], [
        -Infinity,
        "float32",
      ]] as const
    ) {
      await compareOn(`full ${shape} ${value}`, [], () => lf.full(shape, value, { dtype }), {
        rtol: 0,
        atol: 0,
      });
    }
  }
  await check(dataFor([3], finite()), async (x) => {
    await compareOn("scalar ops", [x], (x) => x.add(2).mul(-0.5).sub(1).div(3).pow(2));
  }, 5);
});
