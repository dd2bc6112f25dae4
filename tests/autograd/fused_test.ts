// The fused fast paths (GELU's backward, softmax's backward, layer norm forward and backward)
// against the composed ops they replace, on the CPU backend: same values and gradients in
// float64, a finite-difference check of the fused gradients, and gradients of gradients
// (which take the composed rules) unchanged.
import * as lf from "../../mod.ts";
import { type Tensor, valueAndGrad } from "../../mod.ts";
import { setFusedOps } from "../../src/autograd/fused.ts";
import { assertClose, assertEquals } from "../_assert.ts";
import { gradcheck } from "../_gradcheck.ts";

const F64 = { dtype: "float64" as const, backend: "cpu" as const };

/** Runs `fn` with fused ops on or off. */
function withFused<T>(on: boolean, fn: () => T): T {
  setFusedOps(on);
  try {
    return fn();
  } finally {
    setFusedOps(true);
  }
}

function inputs(seed: number) {
  const r = lf.rng(seed);
  return {
    x: lf.randn([3, 5, 7], { ...F64, rng: r }),
    w: lf.rand([7], { ...F64, rng: r, low: 0.5, high: 1.5 }),
    b: lf.randn([7], { ...F64, rng: r }),
    wy: lf.randn([3, 5, 7], { ...F64, rng: r }),
  };
}

/** A loss through all three fused ops. */
function model(xs: Tensor[], wy: Tensor): Tensor {
  const [x, w, b] = xs;
  const h = lf.fusedLayerNorm(x, w, b, 1e-5).gelu();
  return h.softmax(-1).mul(wy).sum();
}

async function valueAndGrads(on: boolean, seed: number): Promise<Float64Array[]> {
  const { x, w, b, wy } = inputs(seed);
  const outs = withFused(on, () => {
    const [v, g] = valueAndGrad((xs: Tensor[]) => model(xs, wy))([x, w, b]);
    return [v, ...g];
  });
  const data = await Promise.all(outs.map((t) => t.data()));
  return data.map((d) => Float64Array.from(d));
}

Deno.test("fused gelu, softmax and layer norm: value and gradients equal the composed ops", async () => {
  for (const seed of [1, 2, 3]) {
    const fused = await valueAndGrads(true, seed);
    const plain = await valueAndGrads(false, seed);
    assertEquals(fused.length, plain.length);
    for (let i = 0; i < fused.length; i++) {
      assertClose(fused[i], plain[i], { rtol: 1e-10, atol: 1e-12, msg: `output ${i}` });
    }
  }
});

Deno.test("fused layer norm forward equals the composed formula (float32 too)", async () => {
  const r = lf.rng(7);
  const x = lf.randn([4, 33], { rng: r, std: 3 });
  const w = lf.randn([33], { rng: r }), b = lf.randn([33], { rng: r });
  const fused = await lf.fusedLayerNorm(x, w, b, 1e-5).data();
  const plain = await withFused(false, () => lf.fusedLayerNorm(x, w, b, 1e-5)).data();
  assertClose(fused, plain, { rtol: 1e-5, atol: 1e-5 });
});

Deno.test("fused gradients match finite differences (float64)", async () => {
  const { x, w, b, wy } = inputs(4);
  await gradcheck((xs) => model(xs, wy), [x, w, b], { tol: 1e-6, msg: "fused model" });
});

Deno.test("gradients of gradients through fused ops equal the composed ones", async () => {
  const run = async (on: boolean) => {
    const { x, w, b, wy } = inputs(5);
    const g2 = withFused(on, () =>
      lf.grad((xs: Tensor[]) => {
        const g = lf.grad((ys: Tensor[]) => model(ys, wy))(xs);
        return g[0].square().sum().add(g[1].square().sum()).add(g[2].square().sum());
      })([x, w, b]));
    return await Promise.all(g2.map((t) => t.data()));
  };
  const fused = await run(true), plain = await run(false);
  for (let i = 0; i < fused.length; i++) {
    assertClose(fused[i], plain[i], { rtol: 1e-9, atol: 1e-12, msg: `second-order grad ${i}` });
  }
});

Deno.test("fused layer norm frees its statistics when no gradient is recorded", () => {
  const x = lf.randn([2, 4]), w = lf.ones([4]), b = lf.zeros([4]);
  const before = lf.liveTensors();
  const y = lf.noGrad(() => lf.fusedLayerNorm(x, w, b, 1e-5));
  assertEquals(lf.liveTensors() - before, 1);
  y.dispose();
});
