// Optimizers against values worked out by hand, schedules, clipping, chaining,
// accumulation and state checkpoints.
import {
  adam,
  adamw,
  chain,
  clipByGlobalNorm,
  constant,
  cosine,
  globalNorm,
  gradientAccumulator,
  linearWarmup,
  liveTensors,
  loadOptimizerState,
  type Optimizer,
  type OptState,
  saveOptimizerState,
  scaleGradients,
  scope,
  sgd,
  type Tensor,
  tensor,
  treeDispose,
  warmupCosine,
} from "../../mod.ts";
import { assert, assertClose, assertEquals } from "../_assert.ts";

type P = { w: Tensor };
const f64 = (xs: number[]) => tensor(xs, { dtype: "float64" });

/** Runs `opt` over the given gradient sequence from w = [1, -2]; returns w after each step. */
async function run(opt: Optimizer, grads: number[][]): Promise<number[][]> {
  let params: P = { w: f64([1, -2]) };
  let state: OptState = opt.init(params);
  const seen: number[][] = [];
  for (const g of grads) {
    const next = opt.update({ w: f64(g) }, state, params);
    treeDispose(params);
    treeDispose(state.slots);
    ({ params, state } = next);
    seen.push(Array.from(await params.w.data()));
  }
  return seen;
}

const grads = [[0.5, -1.0], [0.1, 0.3], [-0.2, 0.4]];

Deno.test("adamw: three steps worked out by hand", async () => {
  // lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1.
  // Step 1: w ← w (1 - 0.1·0.1) = [0.99, -1.98]; m̂ = g, v̂ = g², so m̂/√v̂ = sign(g):
  //   w = [0.99 - 0.1, -1.98 + 0.1] = [0.89, -1.88] (up to ε).
  // Step 2: m = 0.9 m + 0.1 g = [0.055, -0.06], v = 0.999 v + 0.001 g² = [2.5975e-4, 1.089e-3],
  //   m̂ = m / 0.19, v̂ = v / 0.001999; w = 0.99 w - 0.1 m̂ / (√v̂ + ε).
  // Step 3 likewise with m = [0.0295, -0.014], v = [2.9949025e-4, 1.247911e-3].
  const got = await run(
    adamw({ lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 }),
    grads,
  );
  const want = [
    [0.890000002, -1.880000001],
    [0.8007959063646517, -1.8184151424192265],
    [0.7583525727518423, -1.792225087042392],
  ];
  assertClose(got.flat(), want.flat(), { rtol: 1e-12, atol: 1e-12 });
  // The state holds exactly these moments and the step count.
  const opt = adamw({ lr: 0.1, weightDecay: 0.1 });
  const s =
    opt.update({ w: f64([0.5, -1]) }, opt.init({ w: f64([1, -2]) }), { w: f64([1, -2]) }).state;
  assertEquals(s.step, 1);
  assertClose(await (s.slots.m as P).w.data(), [0.05, -0.1], { rtol: 1e-12 });
  assertClose(await (s.slots.v as P).w.data(), [2.5e-4, 1e-3], { rtol: 1e-12 });
});

Deno.test("adam is adamw without decay; a decay mask spares chosen tensors", async () => {
  const a = await run(adam({ lr: 0.1 }), grads);
  const b = await run(adamw({ lr: 0.1, weightDecay: 0 }), grads);
  assertEquals(a, b);
  const masked = await run(adamw({ lr: 0.1, weightDecay: 0.5, decay: (p) => p.rank >= 2 }), grads);
  assertEquals(masked, a);
});

Deno.test("sgd: plain, momentum and nesterov by hand", async () => {
  // Plain: w ← w - 0.1 g.
  assertClose((await run(sgd({ lr: 0.1 }), grads))[2], [1 - 0.1 * 0.4, -2 - 0.1 * -0.3], {
    rtol: 1e-12,
  });
  // Momentum 0.9: v1 = g1, v2 = 0.9 g1 + g2, v3 = 0.9 v2 + g3; w = w0 - 0.1 (v1 + v2 + v3).
  const v1 = [0.5, -1], v2 = [0.55, -0.6], v3 = [0.295, -0.14];
  const mom = await run(sgd({ lr: 0.1, momentum: 0.9 }), grads);
  assertClose(mom[2], [1 - 0.1 * (v1[0] + v2[0] + v3[0]), -2 - 0.1 * (v1[1] + v2[1] + v3[1])], {
    rtol: 1e-12,
  });
  // Nesterov: the step is g + 0.9 v.
  const nes = await run(sgd({ lr: 0.1, momentum: 0.9, nesterov: true }), grads.slice(0, 2));
  const step1 = [0.5 + 0.9 * 0.5, -1 + 0.9 * -1], step2 = [0.1 + 0.9 * 0.55, 0.3 + 0.9 * -0.6];
  assertClose(nes[1], [1 - 0.1 * (step1[0] + step2[0]), -2 - 0.1 * (step1[1] + step2[1])], {
    rtol: 1e-12,
  });
});

Deno.test("schedules", () => {
  assertEquals(constant(0.3)(1000), 0.3);
  const w = linearWarmup({ peak: 1, warmup: 10 });
  assertEquals([w(0), w(5), w(10), w(99)], [0, 0.5, 1, 1]);
  const c = cosine({ peak: 2, steps: 100, end: 0 });
  assertClose([c(0), c(50), c(100), c(200)], [2, 1, 0, 0], { atol: 1e-12 });
  const wc = warmupCosine({ peak: 1, warmup: 10, steps: 110 });
  assertClose([wc(0), wc(5), wc(10), wc(60), wc(110)], [0, 0.5, 1, 0.5, 0], { atol: 1e-12 });
});

Deno.test("a schedule drives the learning rate by step", async () => {
  // lr = 0 on the first step, 1 afterwards: the first update leaves w alone.
  const seen = await run(sgd({ lr: (step) => (step === 0 ? 0 : 1) }), [[1, 1], [1, 1]]);
  assertEquals(seen, [[1, -2], [0, -3]]);
});

Deno.test("clipByGlobalNorm, chain and scaling", async () => {
  const g = { a: tensor([3]), b: [tensor([4])] };
  assertClose(await globalNorm(g).item(), 5, { rtol: 1e-6 });
  const clipped = clipByGlobalNorm(1).transform(g);
  assertClose([await clipped.a.item(), await clipped.b[0].item()], [0.6, 0.8], { rtol: 1e-5 });
  const small = clipByGlobalNorm(10).transform(g);
  assertClose(await small.a.item(), 3, { rtol: 1e-6 });
  const opt = chain(clipByGlobalNorm(1), scaleGradients(2), sgd({ lr: 1 }));
  // g = [3, 4] clipped to [0.6, 0.8], doubled, subtracted from w = [1, -2].
  const params = { w: tensor([1, -2]) };
  const r = opt.update({ w: tensor([3, 4]) }, opt.init(params), params);
  assertClose(await r.params.w.data(), [1 - 1.2, -2 - 1.6], { rtol: 1e-5 });
});

Deno.test("gradient accumulation averages micro-batches and survives scopes", async () => {
  const acc = gradientAccumulator<P>();
  for (const g of grads) scope(() => acc.add({ w: tensor(g) }));
  assertEquals(acc.count, 3);
  const mean = acc.mean();
  assertClose(await mean.w.data(), [0.4 / 3, -0.3 / 3], { rtol: 1e-6 });
  assertEquals(acc.count, 0);
});

Deno.test("updates free their intermediates", () => {
  const opt = chain(clipByGlobalNorm(1), adamw({ lr: 0.01 }));
  let params: P = { w: tensor([1, 2, 3]) };
  let state = opt.init(params);
  const before = liveTensors();
  for (let i = 0; i < 5; i++) {
    const g = { w: tensor([0.1, 0.2, 0.3]) };
    const next = opt.update(g, state, params);
    treeDispose([params, state.slots, g]);
    ({ params, state } = next);
  }
  assertEquals(liveTensors(), before);
});

Deno.test("optimizer state saves and loads for checkpoints", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const opt = adamw({ lr: 0.1 });
    const params = { layers: [{ w: f64([1, -2]) }] };
    const { state } = opt.update({ layers: [{ w: f64([0.5, -1]) }] }, opt.init(params), params);
    await saveOptimizerState(`${dir}/opt.safetensors`, state);
    const back = await loadOptimizerState(`${dir}/opt.safetensors`);
    assertEquals(back.step, 1);
    const m = (back.slots.m as { layers: P[] }).layers[0].w;
    assertEquals(
      Array.from(await m.data()),
      Array.from(await (state.slots.m as { layers: P[] }).layers[0].w.data()),
    );
    // Resuming from the loaded state gives the same next step as from the original.
    const g = { layers: [{ w: f64([0.1, 0.3]) }] };
    const a = opt.update(g, state, params).params as { layers: P[] };
    const b = opt.update(g, back, params).params as { layers: P[] };
    assertEquals(Array.from(await a.layers[0].w.data()), Array.from(await b.layers[0].w.data()));
    await saveOptimizerState(`${dir}/sgd.safetensors`, sgd({ lr: 1 }).init(params));
    assert((await loadOptimizerState(`${dir}/sgd.safetensors`)).step === 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
