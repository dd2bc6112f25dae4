// geluExact (the erf GELU GPT-NeoX and Falcon use) on WebGPU equals the CPU backend, value and
// gradient, on random shapes with size-1 dimensions.
import { geluExact, grad, rng, type Tensor, tensor } from "../../mod.ts";
import { assertAllClose, gpuTest, TOL } from "./_util.ts";

gpuTest("geluExact: WebGPU equals the CPU, value and gradient", async () => {
  const r = rng(7);
  for (const shape of [[1], [3, 1, 5], [2, 17], [1, 4, 1, 33]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = Float32Array.from({ length: n }, () => (r.uniform() - 0.5) * 12);
    const run = async (backend: "cpu" | "webgpu") => {
      const x = tensor(xs, { shape, backend });
      const value = await geluExact(x).data();
      // A weighted sum, so each element's gradient is checked with its own weight.
      const w = tensor(Float32Array.from({ length: n }, (_, i) => 1 + (i % 5)), { shape, backend });
      const g = await grad((t: Tensor) => geluExact(t).mul(w).sum())(x).data();
      return { value, g };
    };
    const cpu = await run("cpu"), gpu = await run("webgpu");
    assertAllClose(gpu.value, cpu.value, TOL, `value [${shape}]`);
    assertAllClose(gpu.g, cpu.g, TOL, `gradient [${shape}]`);
  }
});
