// The fused kernels (GELU's backward, softmax's backward, layer norm forward and backward) on
// WebGPU against the CPU oracle, and against the composed ops on the same backend.
import * as lf from "../../mod.ts";
import type { Tensor } from "../../mod.ts";
import { setFusedOps } from "../../src/autograd/fused.ts";
import { compareGrad, compareOn, gpuTest, host, LOOSE, weights } from "./_util.ts";

const shapes: [number, number][] = [[1, 1], [3, 7], [37, 96], [300, 259]];

gpuTest("webgpu fused layer norm, gelu and softmax: values and gradients equal cpu", async () => {
  for (const [rows, cols] of shapes) {
    const x = host(weights(rows * cols, rows).map((v) => 3 * v), [rows, cols]);
    const w = host(weights(cols, cols + 1).map((v) => 1 + v / 2), [cols]);
    const b = host(weights(cols, cols + 2), [cols]);
    const f = (x: Tensor, w: Tensor, b: Tensor) =>
      lf.fusedLayerNorm(x, w, b, 1e-5).gelu().softmax(-1);
    await compareOn(`forward ${rows}x${cols}`, [x, w, b], f, LOOSE);
    await compareGrad(`gradients ${rows}x${cols}`, [x, w, b], [0, 1, 2], f, LOOSE);
  }
});

gpuTest("webgpu fused paths equal the composed ops on webgpu", async () => {
  const run = async (on: boolean) => {
    setFusedOps(on);
    try {
      const x = lf.tensor(weights(64 * 48, 3), { shape: [64, 48], backend: "webgpu" });
      const w = lf.tensor(weights(48, 4), { shape: [48], backend: "webgpu" });
      const b = lf.tensor(weights(48, 5), { shape: [48], backend: "webgpu" });
      const wy = lf.tensor(weights(64 * 48, 6), { shape: [64, 48], backend: "webgpu" });
      const [v, g] = lf.valueAndGrad((ps: Tensor[]) =>
        lf.fusedLayerNorm(ps[0], ps[1], ps[2], 1e-5).gelu().softmax(-1).mul(wy).sum()
      )([x, w, b]);
      const out = await Promise.all([v, ...g].map((t) => t.data()));
      for (const t of [x, w, b, wy, v, ...g]) t.dispose();
      return out;
    } finally {
      setFusedOps(true);
    }
  };
  const fused = await run(true), plain = await run(false);
  const { assertAllClose } = await import("./_util.ts");
  for (let i = 0; i < fused.length; i++) assertAllClose(fused[i], plain[i], LOOSE, `output ${i}`);
});
