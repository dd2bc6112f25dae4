// globalNorm on WebGPU takes the fused sum of squares (one dispatch per tensor plus one for the
// total): equal to the CPU's composed norm, with tensors of one element, none, and more than
// one workgroup's share; and clipByGlobalNorm through it.
import * as lf from "../../mod.ts";
import type { WebGpuBackend } from "../../mod.ts";
import { assert, assertClose } from "../_assert.ts";
import { gpuTest, weights } from "./_util.ts";

gpuTest(
  "globalNorm on webgpu: the fused sum of squares equals the cpu's composed norm",
  async () => {
    const gpu = lf.backendInstance("webgpu") as WebGpuBackend;
    const sizes = [1, 3, 0, 70_001, 300_000, 257];
    const tree = (backend: "cpu" | "webgpu") =>
      sizes.map((n, i) => lf.tensor(weights(n, i + 1), { shape: [n], backend }));
    const want = await lf.globalNorm(tree("cpu")).item();
    const leaves = tree("webgpu");
    const d0 = gpu.stats().dispatches;
    const norm = lf.globalNorm(leaves);
    const used = gpu.stats().dispatches - d0;
    assertClose([await norm.item()], [want], { rtol: 2e-6 });
    // One per tensor, one for the total, one square root (the composed form: three per tensor).
    assert(used <= sizes.length + 2, `${used} dispatches for ${sizes.length} tensors`);
    const clipped = lf.clipByGlobalNorm(1).transform(leaves);
    const total = await lf.globalNorm(clipped).item();
    assertClose([total], [1], { rtol: 1e-5 });
    for (const t of [...leaves, ...clipped, norm]) t.dispose();
  },
);
