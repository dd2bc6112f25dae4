// Half-precision storage on WebGPU against the CPU oracle: packed 16-bit pairs, matmul with
// a half operand (widened per call), take of rows, casts both ways (narrowing bit-exact) and
// strided copies of half views, on random shapes with size-1 and odd sizes.
import fc from "fast-check";
import {
  backendInstance,
  cast,
  f32ToBf16,
  f32ToF16,
  flattenParams,
  type HalfDType,
  llama,
  lora,
  matmul,
  type ParamTree,
  rng,
  setBackend,
  take,
  type Tensor,
  tensor,
  unflattenParams,
  valueAndGrad,
} from "../../mod.ts";
import { assertEquals } from "../_assert.ts";
import { type GpuBuffer, sizeClass } from "../../src/gpu/engine.ts";
import { assertAllClose, gpuTest, RUNS, TOL, weights, withBindingLimit } from "./_util.ts";

/** Weight-like values: mostly small, some large. */
function values(n: number, seed: number): Float32Array {
  const w = weights(n, seed);
  for (let i = 0; i < n; i += 7) w[i] *= 40;
  return w;
}

function bitsOf(v: Float32Array, dtype: HalfDType): Uint16Array {
  return dtype === "bfloat16" ? f32ToBf16(v) : f32ToF16(v);
}

/** The same half tensor on both backends. */
function onBoth(bits: Uint16Array, shape: number[], dtype: HalfDType): [Tensor, Tensor] {
  return [
    tensor(bits, { shape, dtype, backend: "cpu" }),
    tensor(bits, { shape, dtype, backend: "webgpu" }),
  ];
}

const dimArb = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 9 }), fc.constant(67));
const dtypeArb = fc.constantFrom<HalfDType>("bfloat16", "float16");

gpuTest("half tensors are 2 bytes per element on webgpu and read back exactly", async () => {
  const gpu = backendInstance("webgpu");
  for (const dtype of ["bfloat16", "float16"] as const) {
    for (const n of [1, 2, 7, 1000, 300_001]) {
      const v = values(n, n);
      const before = gpu.memory().bytes;
      const [c, g] = onBoth(bitsOf(v, dtype), [n], dtype);
      const bytes = Math.ceil(n / 2) * 4;
      assertEquals((g.storage.buf as GpuBuffer).byteLength, bytes, `${dtype} [${n}] bytes`);
      assertEquals(gpu.memory().bytes - before, sizeClass(bytes), `${dtype} [${n}] pooled`);
      assertEquals(Array.from(await g.data()), Array.from(await c.data()), `${dtype} [${n}]`);
      c.dispose();
      g.dispose();
    }
  }
});

gpuTest("matmul with a half B (transposed or not) matches the cpu backend", async () => {
  const arb = fc.record({
    m: dimArb,
    k: dimArb,
    n: dimArb,
    batch: fc.constantFrom<number[]>([], [2], [1, 3]),
    batchB: fc.boolean(),
    transB: fc.boolean(),
    dtype: dtypeArb,
    seed: fc.integer({ min: 1, max: 1000 }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async ({ m, k, n, batch, batchB, transB, dtype, seed }) => {
      const aShape = [...batch, m, k];
      const bShape = [...(batchB ? batch : []), ...(transB ? [n, k] : [k, n])];
      const av = values(aShape.reduce((x, y) => x * y, 1), seed);
      const bv = values(bShape.reduce((x, y) => x * y, 1), seed + 1);
      const [hc, hg] = onBoth(bitsOf(bv, dtype), bShape, dtype);
      const out = await Promise.all((["cpu", "webgpu"] as const).map((backend, i) => {
        const a = tensor(av, { shape: aShape, backend });
        return matmul(a, [hc, hg][i], { transposeB: transB }).data();
      }));
      assertAllClose(out[1], out[0], { rtol: 1e-4, atol: 1e-3 }, `matmul ${aShape} ${bShape}`);
    }),
    { numRuns: RUNS },
  );
});

gpuTest("a half A operand, a transposed view and the tied-head shape match the cpu", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const table = bitsOf(values(13 * 6, 3), dtype);
    const h = values(2 * 5 * 6, 4);
    const out = await Promise.all((["cpu", "webgpu"] as const).map(async (backend) => {
      const w = tensor(table, { shape: [13, 6], dtype, backend });
      const x = tensor(h, { shape: [2, 5, 6], backend });
      return [
        await matmul(x, w, { transposeB: true }).data(), // a tied head: logits = h · tableᵀ
        await matmul(w, x.reshape([10, 6]), { transposeB: true }).data(), // half A
        await matmul(x.reshape([10, 6]), w.transpose()).data(), // a view read in place
      ];
    }));
    for (let i = 0; i < 3; i++) assertAllClose(out[1][i], out[0][i], TOL, `${dtype} case ${i}`);
  }
});

gpuTest("the float32 widening of a half operand is released once the product is recorded", () => {
  const gpu = backendInstance("webgpu");
  const w = tensor(bitsOf(values(64 * 32, 5), "bfloat16"), {
    shape: [64, 32],
    dtype: "bfloat16",
    backend: "webgpu",
  });
  const x = tensor(values(4 * 32, 6), { shape: [4, 32], backend: "webgpu" });
  const before = gpu.memory().buffers;
  const y = matmul(x, w, { transposeB: true });
  assertEquals(gpu.memory().buffers - before, 1, "only the output stays");
  y.dispose();
  return Promise.resolve();
});

gpuTest("take of a half table matches the cpu (rows widened to float32)", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const [c, g] = onBoth(bitsOf(values(9 * 5, 8), dtype), [9, 5], dtype);
    const ids = [[8, 0, 3], [3, 3, 1]];
    const rc = take(c, tensor(ids, { dtype: "int32", backend: "cpu" }));
    const rg = take(g, tensor(ids, { dtype: "int32", backend: "webgpu" }));
    assertEquals(rg.dtype, "float32");
    assertEquals(Array.from(await rg.data()), Array.from(await rc.data()), `${dtype} take`);
  }
});

gpuTest("casts to and from half are bit-identical to the cpu's", async () => {
  const v = values(1001, 9);
  v.set([0, -0, Infinity, -Infinity, NaN, 65504, 65520, 1e-8, 3e-5, 6e-8, 1 + 2 ** -8]);
  v.set([2 ** -130, -(2 ** -140), 1 + 3 * 2 ** -8, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25], 20);
  for (const dtype of ["bfloat16", "float16"] as const) {
    for (const n of [1, 2, 1001]) {
      const part = v.subarray(0, n);
      const narrowed = await Promise.all((["cpu", "webgpu"] as const).map(async (backend) => {
        const h = cast(tensor(part, { backend }), dtype);
        const raw = await h.backend.read(h.storage.buf, dtype, n);
        const wide = await cast(h, "float32").data();
        return [Array.from(raw), Array.from(new Uint32Array(Float32Array.from(wide).buffer))];
      }));
      assertEquals(narrowed[1][0], narrowed[0][0], `${dtype} [${n}] narrowed bits`);
      assertEquals(narrowed[1][1], narrowed[0][1], `${dtype} [${n}] widened bits`);
    }
  }
});

gpuTest("strided copies of half views (slice, permute) match the cpu", async () => {
  for (const dtype of ["bfloat16", "float16"] as const) {
    const [c, g] = onBoth(bitsOf(values(3 * 4 * 5, 10), dtype), [3, 4, 5], dtype);
    const views = (t: Tensor) => [
      t.slice([1, 1, 1], [3, 4, 4]),
      t.permute([2, 0, 1]),
      t.slice([0, 0, 3]),
    ];
    const [vc, vg] = [views(c), views(g)];
    for (let i = 0; i < vc.length; i++) {
      assertEquals(Array.from(await vg[i].data()), Array.from(await vc[i].data()), `view ${i}`);
    }
  }
});

gpuTest("widening a half weight larger than the binding limit goes window by window", async () => {
  const n = 70_001;
  const v = values(n, 12);
  const [c, g] = onBoth(bitsOf(v, "bfloat16"), [n], "bfloat16");
  const want = await cast(c, "float32").data();
  await withBindingLimit(64 * 1024, async () => {
    assertEquals(Array.from(await cast(g, "float32").data()), Array.from(want));
    const back = cast(cast(g, "float32"), "bfloat16");
    assertEquals(Array.from(await back.data()), Array.from(want));
  });
});

gpuTest(
  "a llama with a bf16 base and LoRA adapters: webgpu logits and gradients match the cpu",
  async () => {
    await setBackend("cpu"); // the initial weights are made on the cpu, then copied
    const model = llama({ vocab: 40, dim: 16, layers: 1, heads: 4, kvHeads: 2, hidden: 24 });
    const lm = lora(model, { rank: 2, alpha: 4 });
    const baseTree = model.init(rng(0));
    const init = flattenParams(baseTree);
    const adapterInit = flattenParams(lm.initAdapters(rng(1), "cpu"));
    const host = await Promise.all(Object.values(init).map((t) => t.data()));
    const hostA = await Promise.all(Object.values(adapterInit).map((t) => t.data()));
    const out = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      const base: Record<string, Tensor> = {};
      Object.entries(init).forEach(([name, t], i) => {
        const v = host[i] as Float32Array, shape = [...t.shape];
        base[name] = t.rank >= 2
          ? tensor(f32ToBf16(v), { shape, dtype: "bfloat16", backend })
          : tensor(v, { shape, backend });
      });
      const adapters: Record<string, Tensor> = {};
      Object.entries(adapterInit).forEach(([name, t], i) => {
        adapters[name] = tensor(hostA[i] as Float32Array, { shape: [...t.shape], backend }).add(
          0.03,
        );
      });
      const ids = tensor([[3, 7, 1, 39, 2]], { dtype: "int32", backend });
      const tree = unflattenParams(base) as typeof baseTree;
      const [loss, grads] = valueAndGrad((a: ParamTree) =>
        lm.apply({ base: tree, adapters: a }, ids).square().mean()
      )(unflattenParams(adapters));
      const logits = lm.apply({ base: tree, adapters: unflattenParams(adapters) }, ids);
      out.push([
        await logits.data(),
        await loss.data(),
        ...await Promise.all(Object.values(flattenParams(grads)).map((g) => g.data())),
      ]);
    }
    for (let i = 0; i < out[0].length; i++) {
      assertAllClose(out[1][i], out[0][i], { rtol: 1e-3, atol: 1e-4 }, `output ${i}`);
    }
  },
);
