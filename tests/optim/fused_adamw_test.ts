// The fused WebGPU AdamW against the composed one (runs where a WebGPU device exists).
import {
  adamw,
  backendInstance,
  fusedAdamw,
  initBackend,
  type Optimizer,
  type OptState,
  randn,
  rng,
  sgd,
  type Tensor,
  tensor,
  treeDispose,
  type WebGpuBackend,
} from "../../mod.ts";
import { setFusedOps } from "../../src/autograd/fused.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { weights } from "../gpu/_util.ts";

let reason: string | null = null;
try {
  await initBackend("webgpu");
} catch (e) {
  reason = (e as Error).message;
  console.log(`skipping fused AdamW on webgpu: ${reason}`);
}

type P = { a: Tensor; b: { c: Tensor }[] };

async function trajectory(opt: Optimizer, backend: "cpu" | "webgpu"): Promise<number[]> {
  const r = rng(3);
  const host = (shape: number[]) => randn(shape, { rng: r, backend: "cpu" });
  const on = async (t: Tensor) => tensor(await t.data(), { shape: t.shape, backend });
  // A tensor larger than one workgroup row, and a small one.
  let params: P = { a: await on(host([70_000])), b: [{ c: await on(host([3, 5])) }] };
  let state: OptState = opt.init(params);
  for (let step = 0; step < 3; step++) {
    const grads: P = { a: await on(host([70_000])), b: [{ c: await on(host([3, 5])) }] };
    const next = opt.update(grads, state, params);
    treeDispose([params, state.slots, grads]);
    ({ params, state } = next);
  }
  const out = [
    ...await params.a.data(),
    ...await params.b[0].c.data(),
    ...await (state.slots.v as P).a.data(),
  ];
  treeDispose([params, state.slots]);
  return out;
}

Deno.test({
  name: "fused WebGPU AdamW equals the composed AdamW",
  ignore: reason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const opts = {
      lr: 0.01,
      betas: [0.9, 0.95] as const,
      weightDecay: 0.1,
      decay: (p: Tensor) => p.rank >= 2,
    };
    const composed = await trajectory(adamw(opts), "cpu");
    const fused = await trajectory(fusedAdamw(opts), "webgpu");
    assertClose(fused, composed, { rtol: 1e-5, atol: 1e-6 });
  },
});

Deno.test("fusedAdamw falls back to the composed update off the GPU", async () => {
  const opts = { lr: 0.1, weightDecay: 0.1 };
  const params = { w: tensor([1, -2]) };
  const g = { w: tensor([0.5, -1]) };
  const a = fusedAdamw(opts), b = adamw(opts);
  const ra = a.update(g, a.init(params), params), rb = b.update(g, b.init(params), params);
  assertClose(await ra.params.w.data(), await rb.params.w.data(), { rtol: 0, atol: 0 });
});

Deno.test({
  name: "adamw on WebGPU takes the kernel while fused ops are on, composed ops when off",
  ignore: reason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = backendInstance("webgpu") as WebGpuBackend;
    const opts = { lr: 0.01, weightDecay: 0.1 };
    const dispatches = async (fused: boolean) => {
      setFusedOps(fused);
      try {
        const d0 = gpu.stats().dispatches;
        const out = await trajectory(adamw(opts), "webgpu");
        return { out, n: gpu.stats().dispatches - d0 };
      } finally {
        setFusedOps(true);
      }
    };
    const on = await dispatches(true), off = await dispatches(false);
    // Three steps of two tensors: one kernel per tensor and step, against about a dozen ops.
    assert(on.n < off.n / 3, `dispatches with the kernel ${on.n}, composed ${off.n}`);
    assertClose(on.out, off.out, { rtol: 1e-5, atol: 1e-6 });
    assertClose(on.out, await trajectory(adamw(opts), "cpu"), { rtol: 1e-5, atol: 1e-6 });
  },
});

Deno.test("adam, adamw and sgd fold a gradient scale: equal to scaling the gradients first", async () => {
  const params = { w: tensor([1, -2, 3]), b: tensor([0.5]) };
  const grads = { w: tensor([0.5, -1, 2]), b: tensor([3]) };
  const scale = tensor([0.25]);
  const pre = { w: grads.w.mul(scale), b: grads.b.mul(scale) };
  for (
    const opt of [adamw({ lr: 0.1, weightDecay: 0.1 }), sgd({ lr: 0.1, momentum: 0.9 })]
  ) {
    assert(opt.acceptsGradScale === true);
    const a = opt.update(grads, opt.init(params), params, scale);
    const b = opt.update(pre, opt.init(params), params);
    for (const k of ["w", "b"] as const) {
      assertClose(await a.params[k].data(), await b.params[k].data(), { rtol: 0, atol: 0 });
    }
  }
});

Deno.test({
  name: "adamw's kernel on WebGPU reads the gradient scale (no multiply of its own)",
  ignore: reason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = backendInstance("webgpu") as WebGpuBackend;
    const on = (b: "cpu" | "webgpu") => ({
      params: { w: tensor(weights(70_000, 1), { backend: b }) },
      grads: { w: tensor(weights(70_000, 2), { backend: b }) },
      scale: tensor([0.3], { backend: b }),
    });
    const opt = adamw({ lr: 0.01, weightDecay: 0.1 });
    const g = on("webgpu"), c = on("cpu");
    const d0 = gpu.stats().dispatches;
    const r = opt.update(g.grads, opt.init(g.params), g.params, g.scale);
    assertEquals(gpu.stats().dispatches - d0, 1 + 2); // the kernel (+ the two zero moments)
    const want = opt.update(c.grads, opt.init(c.params), c.params, c.scale);
    assertClose(await r.params.w.data(), await want.params.w.data(), { rtol: 1e-5, atol: 1e-6 });
  },
});
