// LoRA: zero B equals the base, only adapters get gradients, merging equals applying, and
// adapters save and load on their own.
import {
  flattenParams,
  gpt,
  llama,
  loadLora,
  lora,
  mergeLora,
  type ParamTree,
  randn,
  rng,
  saveLora,
  type Tensor,
  tensor,
  treeMap,
  valueAndGrad,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

const ids = () => tensor([[1, 4, 2, 7], [3, 3, 0, 5]], { dtype: "int32" });
const base = llama({ vocab: 9, dim: 8, layers: 2, heads: 2, kvHeads: 1, hidden: 12, initStd: 0.3 });

Deno.test("LoRA with B = 0 equals the base model", async () => {
  for (
    const m of [base, gpt({ vocab: 9, context: 8, layers: 1, dim: 8, heads: 2, initStd: 0.3 })]
  ) {
    const model = lora(m as typeof base, { rank: 2 });
    const params = model.wrap(m.init(rng(0)) as never, rng(1));
    assertClose(
      await model.apply(params, ids()).data(),
      await m.apply(params.base as never, ids()).data(),
      { atol: 0, rtol: 0 },
    );
  }
});

Deno.test("only the adapters are differentiated; B gets a gradient, A does not at B = 0", async () => {
  const model = lora(base, { rank: 2, targets: ["q_proj", "v_proj", "down_proj"] });
  assertEquals(model.targets.length, 6);
  const params = model.wrap(base.init(rng(0)), rng(1));
  const [, grads] = valueAndGrad((adapters: ParamTree) =>
    model.apply({ base: params.base, adapters }, ids()).square().mean()
  )(params.adapters);
  const flat = flattenParams(grads);
  assertEquals(Object.keys(flat).length, 12);
  assert(Object.keys(flat).includes("model.layers.1.mlp.down_proj.lora_B.weight"));
  for (const [name, g] of Object.entries(flat)) {
    const norm = Math.hypot(...await g.data());
    if (name.includes("lora_A")) assertEquals(norm, 0, name);
    else assert(norm > 0, `${name} has no gradient`);
  }
});

Deno.test("mergeLora folds the update in (both weight layouts)", async () => {
  const g = gpt({ vocab: 9, context: 8, layers: 1, dim: 8, heads: 2, initStd: 0.3 });
  for (const m of [base, g] as (typeof base)[]) {
    const model = lora(m, { rank: 3, alpha: 6, dropout: 0.5 });
    const params = model.init(rng(2));
    // A nonzero B, so the update matters.
    const adapters = treeMap(
      (t: Tensor) => randn(t.shape, { rng: rng(t.size), std: 0.3 }),
      params.adapters,
    );
    const adapted = await model.apply({ base: params.base, adapters }, ids()).data();
    const merged = await m.apply(mergeLora(model, { base: params.base, adapters }), ids()).data();
    assertClose(merged, adapted, { rtol: 1e-4, atol: 1e-5 });
    const plain = await m.apply(params.base, ids()).data();
    assert(plain.some((v, i) => Math.abs(v - adapted[i]) > 1e-3), "the update changed nothing");
    // Dropout is active only when training.
    const trained = await model.apply({ base: params.base, adapters }, ids(), {
      training: true,
      rng: rng(3),
    }).data();
    assert(trained.some((v, i) => v !== adapted[i]), "dropout had no effect in training");
  }
});

Deno.test("adapters save and load on their own (PEFT names)", async () => {
  const model = lora(base, { rank: 2, alpha: 8 });
  const params = model.init(rng(4));
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/adapter_model.safetensors`;
    await saveLora(path, model, params.adapters);
    const { adapters, rank, alpha, targets } = await loadLora(path);
    assertEquals([rank, alpha, targets], [2, 8, ["q_proj", "v_proj"]]);
    const want = flattenParams(params.adapters), got = flattenParams(adapters);
    assertEquals(Object.keys(got).sort(), Object.keys(want).sort());
    for (const k of Object.keys(want)) assertEquals(await got[k].data(), await want[k].data(), k);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown LoRA targets name what exists", () => {
  assertThrows(
    () => lora(base, { targets: ["query"] }),
    "match no projection",
    "q_proj",
    "down_proj",
  );
});

Deno.test("withBase: a module over the adapters alone, equal to applying { base, adapters }", async () => {
  const lm = lora(base, { rank: 2, targets: ["q_proj", "v_proj"] });
  const baseParams = base.init(rng(0));
  const adapted = lm.withBase(baseParams);
  const adapters = adapted.init(rng(1));
  assertEquals(
    Object.keys(flattenParams(adapters)).sort(),
    Object.keys(flattenParams(lm.wrap(baseParams, rng(1)).adapters)).sort(),
  );
  // Non-zero B so that the adapters change the output.
  const live = treeMap((t: Tensor) => randn(t.shape, { rng: rng(2) }).mul(0.1), adapters);
  const got = await adapted.apply(live, ids()).data();
  const want = await lm.apply({ base: baseParams, adapters: live }, ids()).data();
  assertEquals(Array.from(got), Array.from(want));
  // Gradients reach the adapters only: the tree returned is shaped like the adapters.
  const [, grads] = valueAndGrad((a: ParamTree) => adapted.apply(a, ids()).square().mean())(live);
  assertEquals(Object.keys(flattenParams(grads)).sort(), Object.keys(flattenParams(live)).sort());
});
