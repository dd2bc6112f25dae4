// Kernels chosen by shape and by adapter (src/gpu/kernels/common.ts `kernelPolicy`): each
// variant is forced in turn (software-adapter choices and GPU choices) and must equal the CPU
// oracle on shapes that select it, including sizes 0 and 1 and sizes that are not multiples
// of the workgroup size.
import * as lf from "../../mod.ts";
import { kernelPolicy } from "../../src/gpu/kernels/common.ts";
import { useDirect } from "../../src/gpu/matmul/kernels.ts";
import { softmaxSerial } from "../../src/gpu/kernels/softmax.ts";
import { assert } from "../_assert.ts";
import { compareGrad, compareOn, gpuTest, host, weights, withBindingLimit } from "./_util.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

const ADAPTERS = [true, false] as const;

async function eachAdapter(fn: (software: boolean) => Promise<void>): Promise<void> {
  try {
    for (const software of ADAPTERS) {
      kernelPolicy.software = software;
      await fn(software);
    }
  } finally {
    kernelPolicy.software = null;
  }
}

function engine() {
  return (lf.backendInstance("webgpu") as EngineBackend).engine;
}

function rand(shape: number[], seed: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  return host(weights(n, seed).map((v) => 4 * v - 2), shape);
}

gpuTest("direct matmul (thin outputs) equals cpu on every layout", async () => {
  await eachAdapter(async (software) => {
    const e = engine();
    // Thin products take the direct kernel on any adapter; 9 x 200 only on a software one.
    assert(useDirect(e, 1, 24, 83) && useDirect(e, 83, 83, 1) && useDirect(e, 4, 5, 300));
    assert(useDirect(e, 9, 7, 200) === software);
    assert(!useDirect(e, 64, 64, 64));
    const cases: [number[], number[], number, number, number][] = [
      [[50, 4], [50, 4], 1, 24, 83], // q @ kᵀ at generation time
      [[3], [3], 1, 1, 1],
      [[2, 3], [1, 3], 1, 0, 5], // k = 0: zeros
      [[2], [2], 0, 3, 4], // m = 0: empty
      [[5], [], 8, 17, 300], // broadcast b, m*n not a multiple of 256
      [[2], [2], 9, 7, 200],
      [[], [], 257, 3, 1],
      [[3], [3], 4, 33, 70],
    ];
    let seed = 1;
    for (const [aB, bB, m, k, n] of cases) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = rand([...aB, ta ? k : m, ta ? m : k], seed++);
        const b = rand([...bB, tb ? n : k, tb ? k : n], seed++);
        await compareOn(
          `matmul ${aB}|${bB} ${m}x${k}x${n} ${ta}${tb} software=${software}`,
          [a, b],
          (x, y) => lf.matmulT(x, y, ta, tb),
        );
      }
    }
    // Gradients of a thin product (the backward passes use transposed thin products).
    await compareGrad(
      `matmul grad 1x24x83 software=${software}`,
      [rand([6, 1, 24], 90), rand([6, 83, 24], 91)],
      [0, 1],
      (x, y) => lf.matmulT(x, y, false, true),
    );
  });
});

gpuTest("softmax per-row thread and per-row workgroup variants equal cpu", async () => {
  await eachAdapter(async (software) => {
    const e = engine();
    assert(softmaxSerial(e, 200, 83) === software);
    assert(softmaxSerial(e, 3, 40) && !softmaxSerial(e, 3, 300));
    const shapes: [number[], number][] = [
      [[50, 4, 1, 83], 3],
      [[17, 300], 1],
      [[3, 300], 1],
      [[300, 5], 0], // softmax over axis 0: strided rows
      [[20, 1], 1],
      [[20, 0], 1],
      [[1, 65], 1],
    ];
    let seed = 100;
    for (const [shape, axis] of shapes) {
      const x = rand(shape, seed++);
      await compareOn(`softmax ${shape} axis ${axis} software=${software}`, [x], (t) => [
        lf.softmax(t, axis),
        lf.logSoftmax(t, axis),
      ]);
    }
  });
});

gpuTest("concat in vec4 words and in single words equals cpu", async () => {
  const cases: [number[][], number][] = [
    [[[50, 4, 82, 24], [50, 4, 1, 24]], 2], // KV cache append: vec4
    [[[3, 5], [3, 7]], 1], // odd slabs: single words
    [[[2, 4], [2, 0], [2, 8]], 1],
    [[[1, 4], [1, 4]], 0],
    [[[0, 4], [0, 8]], 1],
    [[[257, 4], [257, 1]], 1],
  ];
  let seed = 200;
  for (const [shapes, axis] of cases) {
    const xs = shapes.map((s) => rand(s, seed++));
    await compareOn(
      `concat ${shapes.join(" | ")} axis ${axis}`,
      xs,
      (...ts) => lf.concat(ts, axis),
    );
    const ints = xs.map((x) => host(x.data.map((v) => Math.round(v * 1000)), x.shape, "int32"));
    await compareOn(`concat int32 ${shapes.join(" | ")}`, ints, (...ts) => lf.concat(ts, axis));
  }
});

gpuTest("fused losses: per-row thread and per-row workgroup kernels equal cpu", async () => {
  await eachAdapter(async (software) => {
    const losses: [string, lf.LossFn][] = [
      ["crossEntropy", lf.crossEntropy({ labelSmoothing: 0.1 })],
      ["focal", lf.focal({ gamma: 2 })],
      ["selfAdjustingDice", lf.selfAdjustingDice()],
      ["dice", lf.dice()],
      ["lovaszSoftmax", lf.lovaszSoftmax()],
    ];
    for (const [n, c] of [[1, 1], [65, 259], [3, 300], [0, 5]]) {
      const logits = rand([n, c], n * 7 + c);
      const ids = Array.from({ length: n }, (_, i) => (i % 9 === 4 ? -100 : (i * 5) % c));
      const targets = host(ids, [n], "int32");
      for (const [name, loss] of losses) {
        if (n === 0) {
          await compareOn(
            `${name} [0,${c}] software=${software}`,
            [logits, targets],
            (z, t) => loss(z, t),
          );
          continue;
        }
        await compareGrad(
          `${name} [${n},${c}] software=${software}`,
          [logits, targets],
          [0],
          (z, t) => loss(z, t),
          { rtol: 3e-4, atol: 1e-4 },
        );
      }
    }
  });
});

gpuTest("argsort: per-row merge sort (software) and bitonic networks (GPU) equal cpu", async () => {
  const shapes: number[][] = [[4, 1], [6, 7], [33, 100], [5, 2049], [1, 300], [2, 3, 64]];
  await eachAdapter(async (software) => {
    let seed = 7;
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      // Ties, NaN, ±0 and infinities among random values.
      const v = weights(n, seed++).map((w, i) =>
        i % 13 === 0 ? NaN : i % 11 === 0 ? -0 : i % 7 === 0 ? Infinity : Math.round(w * 20) - 10
      );
      for (const desc of [false, true]) {
        await compareOn(
          `argsort ${shape} desc=${desc} software=${software}`,
          [host(v, shape)],
          (t) => lf.argsort(t, desc),
          { rtol: 0, atol: 0 },
        );
      }
    }
  });
});

gpuTest(
  "argsort: the per-row merge sort runs in windows of rows past the binding limit",
  async () => {
    kernelPolicy.software = true;
    try {
      const v = weights(40 * 64, 3).map((w) => Math.round(w * 30));
      const x = host(v, [40, 64]);
      // 40 rows of 64 pairs are 20,480 bytes of scratch; 4,096 bytes hold 8 rows at a time.
      await withBindingLimit(
        4096,
        () => compareOn("argsort windows", [x], (t) => lf.argsort(t, true), { rtol: 0, atol: 0 }),
      );
    } finally {
      kernelPolicy.software = null;
    }
  },
);
