// A small classifier built from primitive ops: layer norm (mean, sub, square, mean, add eps,
// rsqrt, mul, add bias), matmul, bias, gelu, logSoftmax, gather of targets, mean. Its float64
// gradient with respect to every parameter (and the input) matches finite differences.
import fc from "fast-check";
import * as lf from "../../mod.ts";
import { type Tensor, valueAndGrad } from "../../mod.ts";
import { assertClose, assertEquals } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";
import { F64, fdcheck, i32 } from "./_prop.ts";

type Params = {
  gamma: Tensor;
  beta: Tensor;
  w: Tensor;
  b: Tensor;
};

const B = 3, D = 4, C = 5;

function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const mu = x.mean(-1, true);
  const centered = x.sub(mu);
  const variance = centered.square().mean(-1, true);
  return centered.mul(variance.add(eps).rsqrt()).mul(gamma).add(beta);
}

/** Mean negative log-likelihood of `targets` (int32 [B]) under the model. */
function loss(p: Params, x: Tensor, targets: Tensor): Tensor {
  const h = layerNorm(x, p.gamma, p.beta);
  const logits = h.matmul(p.w).add(p.b).gelu();
  const logp = logits.logSoftmax(-1);
  const picked = logp.gather(1, targets.reshape([B, 1]));
  return picked.mean().neg();
}

function init(seed: number): { p: Params; x: Tensor; targets: Tensor } {
  const r = lf.rng(seed);
  return {
    p: {
      gamma: lf.rand([D], { ...F64, rng: r, low: 0.5, high: 1.5 }),
      beta: lf.randn([D], { ...F64, rng: r, std: 0.3 }),
      w: lf.randn([D, C], { ...F64, rng: r, std: 0.7 }),
      b: lf.randn([C], { ...F64, rng: r, std: 0.3 }),
    },
    x: lf.randn([B, D], { ...F64, rng: r, std: 2 }),
    targets: i32([r.int(C), r.int(C), r.int(C)], [B]),
  };
}

Deno.test("composite: value matches a plain-JS computation", async () => {
  const { p, x, targets } = init(1);
  const [xs, g, be, w, b, t] = await Promise.all(
    [x, p.gamma, p.beta, p.w, p.b, targets].map(async (v) => Array.from(await v.data())),
  );
  const gelu = (v: number) =>
    0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  let total = 0;
  for (let i = 0; i < B; i++) {
    const row = xs.slice(i * D, i * D + D);
    const mu = row.reduce((s, v) => s + v, 0) / D;
    const varr = row.reduce((s, v) => s + (v - mu) ** 2, 0) / D;
    const h = row.map((v, j) => ((v - mu) / Math.sqrt(varr + 1e-5)) * g[j] + be[j]);
    const logits = Array.from(
      { length: C },
      (_, c) => gelu(h.reduce((s, hv, j) => s + hv * w[j * C + c], 0) + b[c]),
    );
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, v) => s + Math.exp(v - m), 0));
    total += -(logits[t[i]] - lse);
  }
  assertClose(await loss(p, x, targets).item(), total / B, { rtol: 1e-12 });
});

Deno.test("composite: float64 gradient w.r.t. every parameter and the input matches finite differences", async () => {
  for (const seed of [1, 2, 3]) {
    const { p, x, targets } = init(seed);
    const f = ([gamma, beta, w, b, xx]: Tensor[]) => loss({ gamma, beta, w, b }, xx, targets);
    const inputs = [p.gamma, p.beta, p.w, p.b, x];
    // The shared central-difference oracle, and the five-point one.
    await gradcheck(f, inputs, { h: 1e-5, tol: 1e-6, msg: `composite seed ${seed}` });
    await fdcheck(f, inputs, { msg: `composite seed ${seed}` });
  }
});

Deno.test("composite property: random parameters and targets", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (seed) => {
      const { p, x, targets } = init(seed);
      // h = 2.5e-4: at h = 1e-3 the stencil's O(h⁴) error reached 1.4e-6 relative for some
      // seeds (737910, 735113: steep layer norms), over the 1e-6 tolerance; rounding ~1e-12.
      await fdcheck(
        ([gamma, beta, w, b, xx]) => loss({ gamma, beta, w, b }, xx, targets),
        [p.gamma, p.beta, p.w, p.b, x],
        { h: 2.5e-4 },
      );
    }),
    { numRuns: 15, examples: [[737910], [735113]] },
  );
});

Deno.test("composite: grads over the parameter tree equal the flat version", async () => {
  const { p, x, targets } = init(4);
  const [v, g] = valueAndGrad(loss)(p, x, targets);
  const [v2, flat] = valueAndGrad(([gamma, beta, w, b]: Tensor[]) =>
    loss({ gamma, beta, w, b }, x, targets)
  )([p.gamma, p.beta, p.w, p.b]);
  assertEquals(await v.item(), await v2.item());
  assertEquals(Object.keys(g), ["gamma", "beta", "w", "b"]);
  for (const [i, k] of (["gamma", "beta", "w", "b"] as const).entries()) {
    assertEquals(g[k].shape, p[k].shape);
    assertEquals(await g[k].data(), await flat[i].data());
  }
});

Deno.test("composite: float32 agrees with float64 within float32 tolerance", async () => {
  const { p, x, targets } = init(5);
  const to32 = (t: Tensor) => t.cast("float32");
  const p32 = lf.treeMap(to32, p);
  const [v64, g64] = valueAndGrad(loss)(p, x, targets);
  const [v32, g32] = valueAndGrad(loss)(p32, to32(x), targets);
  assertEquals(v32.dtype, "float32");
  assertClose(await v32.item(), await v64.item(), { rtol: 1e-5, atol: 1e-6 });
  for (const k of ["gamma", "beta", "w", "b"] as const) {
    assertEquals(g32[k].dtype, "float32");
    assertClose(await g32[k].data(), await g64[k].data(), { rtol: 1e-4, atol: 1e-5, msg: k });
  }
});

Deno.test("composite: a few SGD steps lower the loss", async () => {
  let { p, x, targets } = init(6);
  const first = await loss(p, x, targets).item();
  for (let i = 0; i < 20; i++) {
    const g = lf.grad(loss)(p, x, targets);
    p = lf.treeMap((w, gw) => w.sub(gw.mul(0.5)), p, g);
  }
  const last = await loss(p, x, targets).item();
  if (!(last < first * 0.8)) throw new Error(`loss did not fall: ${first} -> ${last}`);
});
