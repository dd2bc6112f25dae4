// The losses on the WebGPU backend (float32) against the CPU float64 reference: the fused
// kernels (cross-entropy, focal, Self-Adjusting Dice) and the composed ops of every loss.
// Each GPU readback costs ~11 ms on the software adapter, so runs are few and small.
import fc from "fast-check";
import {
  backendInstance,
  combine,
  crossEntropy,
  dice,
  dynamicFineTuning,
  focal,
  generalizedDice,
  jaccard,
  liveTensors,
  type LossFn,
  lovaszSoftmax,
  probabilityLoss,
  randn,
  rng,
  selfAdjustingDice,
  temperedFocal,
  type Tensor,
  tensor,
  tversky,
  valueAndGrad,
} from "../../mod.ts";
import { setFusedOps } from "../../src/autograd/fused.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";
import { gpuTest as sharedGpuTest, withBindingLimit } from "../gpu/_util.ts";
import { LOSSES, lovaszGap, problems, valueAndGradOn } from "./_helpers.ts";
import type { Problem } from "./_reference.ts";
import type { EngineBackend } from "../../src/gpu/backend.ts";

/** A WebGPU test (initialises the backend, waits for the GPU at the end). */
function gpuTest(name: string, fn: () => Promise<void>): void {
  sharedGpuTest(`webgpu: ${name}`, fn);
}

const TOL = { rtol: 2e-4, atol: 2e-5 };

/** Value and logits-gradient of `loss` on the webgpu backend in float32. */
async function onGpu(loss: LossFn, p: Problem): Promise<{ value: number; grad: Float32Array }> {
  const c = p.logits[0].length;
  const z = tensor(p.logits.flat(), { backend: "webgpu", shape: [p.logits.length, c] });
  const t = tensor(p.targets, { dtype: "int32", backend: "webgpu" });
  const mask = p.mask ? tensor(p.mask, { backend: "webgpu" }) : undefined;
  const [v, g] = valueAndGrad((x: Tensor) => loss(x, t, { mask }))(z);
  const [value, grad] = await Promise.all([v.item(), g.data()]);
  for (const x of [z, t, mask, v, g]) x?.dispose();
  return { value, grad: grad as Float32Array };
}

const FUSED: [string, (fused: boolean) => LossFn][] = [
  ["crossEntropy", (fused) => crossEntropy({ fused })],
  ["crossEntropy(labelSmoothing=0.1)", (fused) => crossEntropy({ fused, labelSmoothing: 0.1 })],
  ["focal", (fused) => focal({ fused })],
  ["focal(gamma=0.5, alpha)", (fused) => focal({ fused, gamma: 0.5, alpha: [0.5, 1, 2, 1, 3, 1] })],
  ["focal(gamma=0)", (fused) => focal({ fused, gamma: 0 })],
  ["selfAdjustingDice", (fused) => selfAdjustingDice({ fused })],
  [
    "selfAdjustingDice(alpha=0.5, gamma=0.1)",
    (fused) => selfAdjustingDice({ fused, alpha: 0.5, gamma: 0.1 }),
  ],
  ["dynamicFineTuning", (fused) => dynamicFineTuning({ fused })],
  ["probabilityLoss(a=1)", (fused) => probabilityLoss({ fused })],
  ["probabilityLoss(a=0.25)", (fused) => probabilityLoss({ fused, a: 0.25 })],
  ["temperedFocal", (fused) => temperedFocal({ fused })],
  [
    "temperedFocal(gamma=0.5, temperature=2)",
    (fused) => temperedFocal({ fused, gamma: 0.5, temperature: 2 }),
  ],
  ["dice", (fused) => dice({ fused })],
  ["dice(all)", (fused) => dice({ fused, classes: "all" })],
  ["jaccard", (fused) => jaccard({ fused })],
  ["tversky(0.3, 0.7)", (fused) => tversky({ fused, alpha: 0.3, beta: 0.7 })],
  ["dice(squared, logLoss)", (fused) => dice({ fused, squared: true, logLoss: true })],
  [
    "tversky(0.3, 0.7, gamma=0.75, squared)",
    (fused) => tversky({ fused, alpha: 0.3, beta: 0.7, gamma: 0.75, squared: true }),
  ],
  [
    "jaccard(perSequence, empty=one, all)",
    (fused) => jaccard({ fused, perSequence: true, empty: "one", classes: "all" }),
  ],
  ["generalizedDice", (fused) => generalizedDice({ fused })],
  ["lovaszSoftmax", (fused) => lovaszSoftmax({ fused })],
  ["lovaszSoftmax(all)", (fused) => lovaszSoftmax({ fused, classes: "all" })],
];

for (const [label, make] of FUSED) {
  gpuTest(
    `${label}: fused and composed on WebGPU equal the CPU reference (value and gradient)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          problems({ minC: 6, maxC: 6, maxN: 5, mask: true, scale: 8 }),
          async (p) => {
            fc.pre(!label.startsWith("lovasz") || lovaszGap(p) > 1e-3);
            const fused = await onGpu(make(true), p);
            const composed = await onGpu(make(false), p);
            const ref = await valueAndGradOn(make(false), p);
            for (const gpu of [fused, composed]) {
              assertClose(gpu.value, ref.value, TOL);
              assertClose(gpu.grad, ref.grad, TOL);
            }
          },
        ),
        { numRuns: 8 },
      );
    },
  );
}

gpuTest("fused kernels stride over wide rows (C = 1,000 > one workgroup)", async () => {
  const c = 1000;
  const rows = Array.from(
    { length: 3 },
    (_, i) => Array.from({ length: c }, (_, k) => Math.sin(k * 0.37 + i) * 6),
  );
  const p: Problem = { logits: rows, targets: [999, 0, 517] };
  for (const [label, make] of FUSED.filter(([l]) => !l.includes("alpha"))) {
    const gpu = await onGpu(make(true), p);
    const ref = await valueAndGradOn(make(false), p);
    assertClose(gpu.value, ref.value, { ...TOL, msg: label });
    assertClose(gpu.grad, ref.grad, { ...TOL, msg: label });
  }
});

gpuTest("fused kernels: all ignored, ±1e4 logits, NaN, [B, T, C] shapes", async () => {
  for (const [label, make] of FUSED) {
    const loss = make(true);
    const ignored = await onGpu(loss, { logits: [[1, 2, 3, 4, 5, 6]], targets: [-100] });
    assert(ignored.value === 0 && ignored.grad.every((g) => g === 0), label);
    const big = await onGpu(loss, {
      logits: [[1e4, -1e4, 0, 0, 0, 0], [-1e4, 1e4, 1e4, 0, 0, -1e4]],
      targets: [1, 2],
    });
    assert(Number.isFinite(big.value) && big.grad.every(Number.isFinite), `${label}: ${big.value}`);
    const nan = await onGpu(loss, { logits: [[NaN, 0, 1, 0, 0, 0]], targets: [2] });
    assert(Number.isNaN(nan.value), `${label}: NaN gave ${nan.value}`);
  }
  const z = [[1, 2, 0.5], [0, 1, 3], [2, 2, 2], [0, 0, 1]];
  const gpu3 = await crossEntropy()(
    tensor(z.flat(), { backend: "webgpu", shape: [2, 2, 3] }),
    tensor([1, 2, -100, 0], { dtype: "int32", backend: "webgpu", shape: [2, 2] }),
  ).item();
  const ref = (await valueAndGradOn(crossEntropy(), { logits: z, targets: [1, 2, -100, 0] })).value;
  assertClose(gpu3, ref, TOL);
});

gpuTest(
  "fused soft counts: [B, T, C] with T over one row chunk and C over one workgroup",
  async () => {
    const b = 2, t = 70, c = 300;
    const logits = Array.from(
      { length: b * t },
      (_, i) => Array.from({ length: c }, (_, k) => Math.sin(k * 0.61 + i * 1.7) * 4),
    );
    const targets = logits.map((_, i) => (i % 11 === 0 ? -100 : (i * 37) % 41));
    const z = tensor(logits.flat(), { backend: "webgpu", shape: [b, t, c] });
    const y = tensor(targets, { dtype: "int32", backend: "webgpu", shape: [b, t] });
    const zc = tensor(logits.flat(), { dtype: "float64", backend: "cpu", shape: [b, t, c] });
    const yc = tensor(targets, { dtype: "int32", backend: "cpu", shape: [b, t] });
    for (const make of [() => generalizedDice(), () => dice(), () => tversky({ beta: 0.9 })]) {
      const [v, g] = valueAndGrad((x: Tensor) => make()(x, y))(z);
      const [vr, gr] = valueAndGrad((x: Tensor) => make()(x, yc))(zc);
      assertClose(await v.item(), await vr.item(), { ...TOL, msg: make().name });
      assertClose(await g.data(), await gr.data(), { rtol: 1e-3, atol: 1e-7, msg: make().name });
    }
  },
);

gpuTest(
  "Dice-family options and Lovász classWeights on [B, T, C] with size-1 dims equal the CPU",
  async () => {
    const shapes = fc.tuple(
      fc.constantFrom(1, 2, 3),
      fc.constantFrom(1, 2, 5),
      fc.constantFrom(1, 2, 7),
    );
    await fc.assert(
      fc.asyncProperty(shapes, fc.integer({ min: 0, max: 1e6 }), async ([b, t, c], seed) => {
        const n = b * t;
        const z = randn([b, t, c], { rng: rng(seed), std: 3 });
        const ids = Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -100 : (i * 7 + seed) % c));
        const w = Array.from({ length: c }, (_, k) => (k % 3) * 0.5 + 0.25);
        const all = { squared: true, logLoss: true, classWeights: w, perSequence: true };
        const losses: LossFn[] = [
          dice({ ...all, empty: "zero", classes: "all" }),
          jaccard({ ...all, logLoss: false }),
          tversky({ ...all, alpha: 0.2, beta: 0.8, gamma: 2, empty: "one" }),
          lovaszSoftmax({ classWeights: w }),
          lovaszSoftmax({ classWeights: w, classes: "all" }),
        ];
        const flat = Array.from(await z.data());
        const rows = Array.from({ length: n }, (_, i) => flat.slice(i * c, (i + 1) * c));
        // Lovász: only where float32 cannot flip the sort order (its gradient would jump).
        const sortable = lovaszGap({ logits: rows, targets: ids }) > 1e-3;
        const zc = tensor(await z.data(), { dtype: "float64", backend: "cpu", shape: [b, t, c] });
        const yc = tensor(ids, { dtype: "int32", backend: "cpu", shape: [b, t] });
        const zg = tensor(await z.data(), { backend: "webgpu", shape: [b, t, c] });
        const yg = tensor(ids, { dtype: "int32", backend: "webgpu", shape: [b, t] });
        for (const loss of losses.filter((l) => sortable || !l.name.startsWith("lovasz"))) {
          const [vr, gr] = valueAndGrad((x: Tensor) => loss(x, yc))(zc);
          const [v, g] = valueAndGrad((x: Tensor) => loss(x, yg))(zg);
          const msg = `${loss.name} on [${b}, ${t}, ${c}]`;
          assertClose(await v.item(), await vr.item(), { ...TOL, msg });
          assertClose(await g.data(), await gr.data(), { rtol: 1e-3, atol: 1e-6, msg });
          for (const x of [v, g, vr, gr]) x.dispose();
        }
        for (const x of [zg, yg]) x.dispose();
      }),
      { numRuns: 6 },
    );
  },
);

gpuTest("fused Lovász equals composed Lovász past one scan tile (N > 256)", async () => {
  for (const [n, c] of [[600, 50], [300, 1000]]) {
    const z = randn([n, c], { rng: rng(n), backend: "webgpu", std: 3 });
    const ids = Array.from({ length: n }, (_, i) => (i % 13 === 0 ? -100 : (i * i * 7) % c));
    const t = tensor(ids, { dtype: "int32", backend: "webgpu" });
    const run = (fused: boolean) => valueAndGrad((x: Tensor) => lovaszSoftmax({ fused })(x, t))(z);
    const [[v1, g1], [v2, g2]] = [run(true), run(false)];
    const [a, b, ga, gb] = await Promise.all([v1.item(), v2.item(), g1.data(), g2.data()]);
    assertClose(a, b, { ...TOL, msg: `N=${n}, C=${c}` });
    assertClose(ga, gb, { rtol: 1e-3, atol: 1e-7, msg: `N=${n}, C=${c}` });
  }
});

gpuTest("repeated forward + backward leaves no tensor or GPU buffer behind", async () => {
  const z = randn([2, 8, 6], { rng: rng(5), backend: "webgpu" });
  const t = tensor(Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? -100 : i % 6)), {
    dtype: "int32",
    backend: "webgpu",
    shape: [2, 8],
  });
  const gpu = backendInstance("webgpu");
  const step = async () => {
    for (const [, make] of FUSED) {
      const [v, g] = valueAndGrad((x: Tensor) => make(true)(x, t))(z);
      await v.item();
      v.dispose();
      g.dispose();
    }
  };
  await step();
  const tensors = liveTensors(), buffers = gpu.memory().buffers;
  await step();
  await step();
  assert(liveTensors() === tensors, `tensors: ${tensors} -> ${liveTensors()}`);
  // At most as many: the garbage collector may release storage that earlier tests dropped
  // without disposing it while the steps await; a leak would only add buffers.
  assert(gpu.memory().buffers <= buffers, `buffers: ${buffers} -> ${gpu.memory().buffers}`);
});

// The composed ops of every loss (gather, scatter-add, sort, cumsum, ...) on the GPU.
for (const c of LOSSES) {
  gpuTest(`${c.label}: on WebGPU equals the CPU reference`, async () => {
    await fc.assert(
      fc.asyncProperty(problems({ maxN: 5, maxC: 4, mask: true, ...c.sizes }), async (p) => {
        // Lovász: compare where float32 cannot flip the sort order.
        fc.pre(!c.sorts || lovaszGap(p) > 1e-3);
        const gpu = await onGpu(c.make(), p);
        const ref = await valueAndGradOn(c.make(), p);
        assertClose(gpu.value, ref.value, { ...TOL, msg: c.label });
        assertClose(gpu.grad, ref.grad, { ...TOL, msg: c.label });
      }),
      { numRuns: 6 },
    );
  });
}

gpuTest(
  "fused losses on logits over the binding limit run in row chunks and equal one binding",
  async () => {
    // [2, 30, 256] logits are 61 KiB; with a 16 KiB limit every [N, C] kernel runs in four
    // chunks of rows, the soft-count cells span chunks, and combine's gradient sum runs in
    // windows. Without the chunked paths binding would throw.
    const b = 2, t = 30, c = 256;
    const z = randn([b, t, c], { rng: rng(11), backend: "webgpu", std: 3 });
    const ids = Array.from({ length: b * t }, (_, i) => (i % 7 === 0 ? -100 : (i * i * 5) % 97));
    const y = tensor(ids, { dtype: "int32", backend: "webgpu", shape: [b, t] });
    const answerMask = tensor(ids.map((_, i) => (i % t >= t / 2 ? 1 : 0)), {
      backend: "webgpu",
      shape: [b, t],
    });
    const both = combine([[crossEntropy(), 0.6], [lovaszSoftmax(), 0.4, { mask: "answer" }]]);
    const losses: [string, (x: Tensor) => Tensor][] = [
      // lovaszSoftmax(all) scores every class: its [C, N] errors are as large as the logits.
      ...FUSED.filter(([l]) => !l.includes("alpha") && l !== "lovaszSoftmax(all)").map((
        [l, make],
      ): [string, (x: Tensor) => Tensor] => [l, (x) => make(true)(x, y)]),
      ["generalizedDice(perSequence=false)", (x) => generalizedDice({ perSequence: false })(x, y)],
      ["0.6 CE + 0.4 Lovász[answer]", (x) => both(x, y, { answerMask })],
    ];
    for (const [label, loss] of losses) {
      const run = () => valueAndGrad(loss)(z);
      const [v1, g1] = run();
      const [v2, g2] = await withBindingLimit(16384, () => run());
      const [a, bb, ga, gb] = await Promise.all([v1.item(), v2.item(), g1.data(), g2.data()]);
      assertClose(bb, a, { rtol: 1e-6, atol: 1e-7, msg: label });
      assertClose(gb, ga, { rtol: 1e-5, atol: 1e-8, msg: label });
      for (const x of [v1, g1, v2, g2]) x.dispose();
    }
    for (const x of [z, y, answerMask]) x.dispose();
  },
);

/** Runs `fn` and counts the loss kernels (`runKernel` keys "losses_...") it dispatched. */
async function lossKernelsDuring<T>(fn: () => Promise<T>): Promise<{ out: T; kernels: number }> {
  const e = (backendInstance("webgpu") as EngineBackend).engine;
  const saved = e.trace;
  let kernels = 0;
  e.trace = (op, k, ...rest) => {
    if (k.key.startsWith("user:losses_")) kernels++;
    saved?.(op, k, ...rest);
  };
  try {
    return { out: await fn(), kernels };
  } finally {
    e.trace = saved;
  }
}

gpuTest("fused ops off: no loss kernel runs, and each loss equals its composed path", async () => {
  const p: Problem = {
    logits: [[2, -1, 0.5, 3, 0, 1], [0.3, 1, -2, 0, 4, 1], [1, 1, 0, -1, 2, 0.5]],
    targets: [3, 4, -100],
    mask: [1, 1, 1],
  };
  for (const [label, make] of FUSED) {
    const on = await lossKernelsDuring(() => onGpu(make(true), p));
    assert(on.kernels > 0, `${label}: the fused path should dispatch loss kernels`);
    setFusedOps(false);
    let off;
    try {
      // Even a loss that asks for its kernel (`fused: true`) takes the composed ops.
      off = await lossKernelsDuring(() => onGpu(make(true), p));
    } finally {
      setFusedOps(true);
    }
    assertEquals(off.kernels, 0, `${label}: loss kernels ran with fused ops off`);
    const composed = await onGpu(make(false), p);
    assertEquals(off.out.value, composed.value, label);
    assertEquals([...off.out.grad], [...composed.grad], label);
  }
});
