// Models against independent float64 loops, parameter names against Hugging Face's, and
// float64 gradients against central finite differences.
import {
  flattenParams,
  gpt,
  llama,
  rng,
  type Tensor,
  tensor,
  unflattenParams,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { naiveGpt, naiveLlama, type Weights } from "./_naive_models.ts";

async function weightsOf(params: Parameters<typeof flattenParams>[0]): Promise<Weights> {
  const out: Weights = {};
  for (const [name, t] of Object.entries(flattenParams(params))) {
    out[name] = { data: Float64Array.from(await t.data()), shape: t.shape };
  }
  return out;
}

const ids = [3, 1, 4, 1, 5, 9, 2];
const idsTensor = () => tensor([ids], { dtype: "int32" });

Deno.test("llama (GQA, rotary, qkv bias) matches a plain-loop float64 computation", async () => {
  for (const tied of [false, true]) {
    const cfg = {
      vocab: 11,
      dim: 8,
      layers: 2,
      heads: 4,
      kvHeads: 2,
      hidden: 12,
      ropeTheta: 100,
      normEps: 1e-6,
    };
    const model = llama({
      ...cfg,
      tieEmbeddings: tied,
      qkvBias: true,
      dtype: "float64",
      initStd: 0.5,
    });
    const params = model.init(rng(1));
    const logits = await model.apply(params, idsTensor()).data();
    const expected = naiveLlama(await weightsOf(params), ids, {
      layers: 2,
      heads: 4,
      kvHeads: 2,
      theta: 100,
      eps: 1e-6,
      tied,
      qkvBias: true,
    });
    assertClose(logits, expected.flatMap((r) => [...r]), {
      rtol: 1e-9,
      atol: 1e-9,
      msg: `tied ${tied}`,
    });
  }
});

Deno.test("gpt matches a plain-loop float64 computation", async () => {
  const model = gpt({
    vocab: 13,
    context: 8,
    layers: 2,
    dim: 8,
    heads: 2,
    dtype: "float64",
    initStd: 0.5,
  });
  const params = model.init(rng(2));
  const logits = await model.apply(params, idsTensor()).data();
  const expected = naiveGpt(await weightsOf(params), ids, { layers: 2, heads: 2, eps: 1e-5 });
  assertClose(logits, expected.flatMap((r) => [...r]), { rtol: 1e-9, atol: 1e-9 });
});

Deno.test("parameter names are Hugging Face's and round-trip through flatten/unflatten", () => {
  const g = gpt({ vocab: 5, context: 4, layers: 1, dim: 4, heads: 2 });
  assertEquals(Object.keys(flattenParams(g.init(rng(0)))).sort(), [
    "transformer.h.0.attn.c_attn.bias",
    "transformer.h.0.attn.c_attn.weight",
    "transformer.h.0.attn.c_proj.bias",
    "transformer.h.0.attn.c_proj.weight",
    "transformer.h.0.ln_1.bias",
    "transformer.h.0.ln_1.weight",
    "transformer.h.0.ln_2.bias",
    "transformer.h.0.ln_2.weight",
    "transformer.h.0.mlp.c_fc.bias",
    "transformer.h.0.mlp.c_fc.weight",
    "transformer.h.0.mlp.c_proj.bias",
    "transformer.h.0.mlp.c_proj.weight",
    "transformer.ln_f.bias",
    "transformer.ln_f.weight",
    "transformer.wpe.weight",
    "transformer.wte.weight",
  ]);
  const flat = flattenParams(g.init(rng(0)));
  assertEquals(
    flat["transformer.h.0.attn.c_attn.weight"].shape,
    [4, 12],
    "Conv1D layout [in, out]",
  );
  const l = llama({ vocab: 5, dim: 4, layers: 2, heads: 2, kvHeads: 1, hidden: 6 });
  const lp = flattenParams(l.init(rng(0)));
  assertEquals(lp["model.layers.1.self_attn.k_proj.weight"].shape, [2, 4]);
  assertEquals(lp["lm_head.weight"].shape, [5, 4]);
  // Every parameter has the shape the model declares.
  for (const [name, t] of Object.entries(lp)) assertEquals(t.shape, l.shapes[name], name);
  assertEquals(Object.keys(lp).sort(), Object.keys(l.shapes).sort());
  const back = unflattenParams(lp) as { model: { layers: unknown[] } };
  assert(Array.isArray(back.model.layers) && back.model.layers.length === 2);
  assertEquals(Object.keys(flattenParams(back as never)).sort(), Object.keys(lp).sort());
});

Deno.test("bad shapes and configs give clear errors", () => {
  assertThrows(() => llama({ vocab: 5, dim: 6, layers: 1, heads: 4, hidden: 6 }), "not divisible");
  assertThrows(
    () => llama({ vocab: 5, dim: 8, layers: 1, heads: 4, kvHeads: 3, hidden: 6 }),
    "kvHeads",
  );
  const g = gpt({ vocab: 5, context: 2, layers: 1, dim: 4, heads: 2 });
  assertThrows(() => g.apply(g.init(rng(0)), tensor([[1, 2, 3]], { dtype: "int32" })), "context");
});

/** Central differences of a scalar function of the float64 params, on a few entries each. */
async function finiteDifferences(
  f: (p: Record<string, Tensor>) => Tensor,
  flat: Record<string, Tensor>,
  probe: number,
): Promise<void> {
  const [, grads] = valueAndGrad(f)(flat);
  const h = 1e-5;
  const r = rng(7);
  for (const [name, t] of Object.entries(flat)) {
    const base = Float64Array.from(await t.data());
    const g = await grads[name].data();
    for (let n = 0; n < probe; n++) {
      const i = r.int(base.length);
      const at = async (delta: number) => {
        const v = Float64Array.from(base);
        v[i] += delta;
        const moved = { ...flat, [name]: tensor(v, { shape: t.shape, dtype: "float64" }) };
        return await f(moved).item();
      };
      const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
      const err = Math.abs(numeric - g[i]) / Math.max(Math.abs(numeric), Math.abs(g[i]), 1e-4);
      assert(err < 1e-5, `${name}[${i}]: autograd ${g[i]}, finite difference ${numeric}`);
    }
  }
}

function lossOf<P>(apply: (p: P, ids: Tensor) => Tensor, weights: Tensor) {
  return (p: P) => apply(p, idsTensor()).mul(weights).sum();
}

Deno.test("float64 gradients of one-layer llama and gpt pass central finite differences", async () => {
  const l = llama({
    vocab: 11,
    dim: 8,
    layers: 1,
    heads: 4,
    kvHeads: 2,
    hidden: 8,
    qkvBias: true,
    dtype: "float64",
    initStd: 0.4,
  });
  const lp = flattenParams(l.init(rng(3)));
  const w1 = tensor(Float64Array.from({ length: ids.length * 11 }, (_, i) => Math.sin(i)), {
    shape: [1, ids.length, 11],
    dtype: "float64",
  });
  await finiteDifferences(
    lossOf((p: Record<string, Tensor>, x) => l.apply(unflattenParams(p) as never, x), w1),
    lp,
    3,
  );
  const g = gpt({
    vocab: 11,
    context: 8,
    layers: 1,
    dim: 8,
    heads: 2,
    dtype: "float64",
    initStd: 0.4,
  });
  const gp = flattenParams(g.init(rng(4)));
  await finiteDifferences(
    lossOf((p: Record<string, Tensor>, x) => g.apply(unflattenParams(p) as never, x), w1),
    gp,
    3,
  );
});

Deno.test("dropout is active only when training and reproducible by seed", async () => {
  const model = llama({ vocab: 11, dim: 8, layers: 1, heads: 2, hidden: 8, dropout: 0.3 });
  const plain = llama({ vocab: 11, dim: 8, layers: 1, heads: 2, hidden: 8 });
  const params = model.init(rng(0));
  const evalOut = await model.apply(params, idsTensor()).data();
  assertEquals(evalOut, await plain.apply(params, idsTensor()).data());
  const train = (seed: number) =>
    model.apply(params, idsTensor(), { training: true, rng: rng(seed) }).data();
  const a = await train(1);
  assertEquals(a, await train(1));
  assert(a.some((v, i) => v !== evalOut[i]), "training changed nothing");
  assertThrows(() => model.apply(params, idsTensor(), { training: true }), "ctx.rng");
});
