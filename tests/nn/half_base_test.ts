// Half-precision frozen bases: loadPretrained with dtype "keep" holds BF16/F16 matrices at
// 2 bytes per weight, computes the same logits as the float32 load, trains LoRA adapters to
// the same loss and gradients, and merges into float32 weights; sharded files load too.
import {
  backendInstance,
  crossEntropy,
  flattenParams,
  gpt,
  llama,
  loadPretrained,
  lora,
  mergeLora,
  type ParamTree,
  readSafetensorsFile,
  rng,
  saveSafetensors,
  setBackend,
  type Tensor,
  tensor,
  unflattenParams,
  valueAndGrad,
} from "../../mod.ts";
import { assert, assertEquals, byteLevelTokenizerJson } from "./_assert.ts";

await setBackend("cpu");

/** Writes a model folder (weights stored as `stored`, in `shards` files) and runs `fn`. */
async function folder(
  config: Record<string, unknown>,
  weights: ParamTree,
  stored: "BF16" | "F16" | "F32",
  fn: (dir: string) => Promise<void>,
  shards = 1,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));
    const opts = { dtype: stored };
    if (shards === 1) {
      await saveSafetensors(`${dir}/model.safetensors`, weights, { format: "pt" }, opts);
    } else {
      const flat = flattenParams(weights), names = Object.keys(flat);
      const weightMap: Record<string, string> = {};
      for (let s = 0; s < shards; s++) {
        const file = `model-0000${s + 1}-of-0000${shards}.safetensors`;
        const part = names.filter((_, i) => i % shards === s);
        for (const n of part) weightMap[n] = file;
        const tree = unflattenParams(Object.fromEntries(part.map((n) => [n, flat[n]])));
        await saveSafetensors(`${dir}/${file}`, tree, { format: "pt" }, opts);
      }
      await Deno.writeTextFile(
        `${dir}/model.safetensors.index.json`,
        JSON.stringify({ metadata: {}, weight_map: weightMap }),
      );
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const llamaConfig = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 257,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  hidden_act: "silu",
};
const llamaModel = () =>
  llama({
    vocab: 257,
    dim: 16,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    hidden: 24,
    normEps: 1e-6,
    initStd: 0.3,
  });

const ids = () => tensor([[72, 101, 108, 108, 111, 33]], { dtype: "int32" });

/** Bitwise equality of two float arrays. */
function assertBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const x = new Uint32Array(Float32Array.from(a).buffer);
  const y = new Uint32Array(Float32Array.from(b).buffer);
  assertEquals(x.length, y.length, `${what}: lengths`);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) throw new Error(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

/** Bytes the tensors of a tree hold (2 per half element, 4 per float32 one). */
function heldBytes(tree: ParamTree): number {
  let n = 0;
  for (const t of Object.values(flattenParams(tree))) {
    n += t.size * (t.dtype === "bfloat16" || t.dtype === "float16" ? 2 : 4);
  }
  return n;
}

Deno.test("a BF16 / F16 folder loads as float32 or kept half: the same logits, bit for bit", async () => {
  const params = llamaModel().init(rng(0));
  for (const [stored, half] of [["BF16", "bfloat16"], ["F16", "float16"]] as const) {
    await folder(llamaConfig, params, stored, async (dir) => {
      const cpu = backendInstance("cpu");
      const wide = await loadPretrained(dir);
      const before = cpu.memory().bytes;
      const kept = await loadPretrained(dir, { dtype: "keep" });
      // Held once: the backend's bytes grew by exactly the tensors' own bytes.
      assertEquals(cpu.memory().bytes - before, heldBytes(kept.params), `${stored} held`);
      let matrices = 0, vectors = 0;
      for (const [name, t] of Object.entries(flattenParams(kept.params))) {
        assertEquals(t.dtype, t.rank >= 2 ? half : "float32", `${stored} ${name}`);
        if (t.rank >= 2) matrices += t.size;
        else vectors += t.size;
      }
      assertEquals(heldBytes(kept.params), 2 * matrices + 4 * vectors);
      assertEquals(heldBytes(wide.params), 4 * (matrices + vectors));
      for (const t of Object.values(flattenParams(wide.params))) assertEquals(t.dtype, "float32");
      assertBits(
        await kept.model.apply(kept.params, ids()).data(),
        await wide.model.apply(wide.params, ids()).data(),
        `${stored} logits`,
      );
    });
  }
});

Deno.test("sharded checkpoints load in both modes; F32 files are the same in both", async () => {
  const model = llamaModel();
  const params = model.init(rng(1));
  await folder(llamaConfig, params, "BF16", async (dir) => {
    const wide = await loadPretrained(dir);
    const kept = await loadPretrained(dir, { dtype: "keep" });
    const w = flattenParams(kept.params)["model.layers.1.mlp.down_proj.weight"];
    assertEquals(w.dtype, "bfloat16");
    assertBits(
      await kept.model.apply(kept.params, ids()).data(),
      await wide.model.apply(wide.params, ids()).data(),
      "sharded logits",
    );
  }, 3);
  await folder(llamaConfig, params, "F32", async (dir) => {
    const kept = await loadPretrained(dir, { dtype: "keep" });
    for (const t of Object.values(flattenParams(kept.params))) assertEquals(t.dtype, "float32");
    assertBits(
      await kept.model.apply(kept.params, ids()).data(),
      await model.apply(params, ids()).data(),
      "F32 logits",
    );
  });
});

Deno.test("a kept BF16 GPT-2 (in_out weights, position table, tied head) computes the same logits", async () => {
  const model = gpt({ vocab: 257, context: 16, layers: 2, dim: 8, heads: 2, initStd: 0.3 });
  const config = {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: 257,
    n_embd: 8,
    n_layer: 2,
    n_head: 2,
    n_positions: 16,
    layer_norm_epsilon: 1e-5,
    activation_function: "gelu_new",
  };
  await folder(config, model.init(rng(2)), "BF16", async (dir) => {
    const wide = await loadPretrained(dir);
    const kept = await loadPretrained(dir, { dtype: "keep" });
    const flat = flattenParams(kept.params);
    assertEquals(flat["transformer.wpe.weight"].dtype, "bfloat16");
    assertEquals(flat["transformer.h.0.attn.c_attn.weight"].dtype, "bfloat16");
    assertEquals(flat["transformer.h.0.attn.c_attn.bias"].dtype, "float32");
    assertBits(
      await kept.model.apply(kept.params, ids()).data(),
      await wide.model.apply(wide.params, ids()).data(),
      "gpt-2 logits",
    );
  });
});

Deno.test("a LoRA step on a kept BF16 base: the float32 base's loss and gradients, adapters only", async () => {
  await folder(llamaConfig, llamaModel().init(rng(3)), "BF16", async (dir) => {
    const results: { loss: number[]; grads: Record<string, Float32Array> }[] = [];
    for (const dtype of ["float32", "keep"] as const) {
      const { model, params } = await loadPretrained(dir, { dtype });
      const lm = lora(model, { rank: 2, alpha: 4 });
      const state = lm.wrap(params, rng(4));
      // B starts at zero; a nudge makes every adapter (and the base under it) matter.
      let adapters: ParamTree = unflattenParams(
        Object.fromEntries(
          Object.entries(flattenParams(state.adapters)).map(([k, v]) => [k, v.add(0.01)]),
        ),
      );
      const targets = tensor([101, 108, 108, 111, 33, 10], { dtype: "int32" });
      const loss = (a: ParamTree) =>
        crossEntropy()(
          lm.apply({ base: state.base, adapters: a }, ids()).reshape([6, 257]),
          targets,
        );
      const losses: number[] = [];
      let grads: Record<string, Tensor> = {};
      for (let step = 0; step < 2; step++) {
        const [value, g] = valueAndGrad(loss)(adapters);
        losses.push(await value.item());
        grads = flattenParams(g);
        // One SGD step on the adapters.
        adapters = unflattenParams(
          Object.fromEntries(
            Object.entries(flattenParams(adapters)).map(([k, v]) => [k, v.sub(grads[k].mul(0.5))]),
          ),
        );
      }
      assertEquals(
        Object.keys(grads).sort(),
        Object.keys(flattenParams(state.adapters)).sort(),
        "gradients only for adapters",
      );
      assert(Object.keys(grads).every((k) => k.includes(".lora_")), "adapter names");
      const data: Record<string, Float32Array> = {};
      for (const [k, g] of Object.entries(grads)) data[k] = (await g.data()) as Float32Array;
      results.push({ loss: losses, grads: data });
    }
    const [wide, kept] = results;
    assertBits(kept.loss, wide.loss, "losses of two steps");
    assert(wide.loss[1] < wide.loss[0], `the step lowers the loss: ${wide.loss}`);
    for (const k of Object.keys(wide.grads)) assertBits(kept.grads[k], wide.grads[k], k);
  });
});

Deno.test("mergeLora on a half base gives float32 merged weights equal to the float32 merge", async () => {
  await folder(llamaConfig, llamaModel().init(rng(5)), "BF16", async (dir) => {
    const merged: Record<string, Tensor>[] = [];
    for (const dtype of ["float32", "keep"] as const) {
      const { model, params } = await loadPretrained(dir, { dtype });
      const lm = lora(model, { rank: 2, alpha: 4, targets: ["q_proj", "down_proj"] });
      const state = lm.wrap(params, rng(6));
      const adapters = unflattenParams(
        Object.fromEntries(
          Object.entries(flattenParams(state.adapters)).map(([k, v]) => [k, v.add(0.02)]),
        ),
      );
      merged.push(flattenParams(mergeLora(lm, { base: state.base, adapters })));
    }
    const [wide, kept] = merged;
    for (const [name, t] of Object.entries(kept)) {
      const target = name.includes("q_proj") || name.includes("down_proj");
      const expected = target || t.rank < 2 ? "float32" : "bfloat16";
      assertEquals(t.dtype, expected, name);
      assertBits(await t.data(), await wide[name].data(), name);
    }
  });
});

Deno.test("readSafetensorsFile keeps half tensors as their stored bits when asked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = tensor([[1.5, -2.25, 3e-3], [65504, 1e-8, -0]]);
    for (const dtype of ["BF16", "F16"] as const) {
      const path = `${dir}/${dtype}.safetensors`;
      await saveSafetensors(path, { w }, {}, { dtype });
      const kept = (await readSafetensorsFile(path, { half: "keep" })).tensors.w;
      const wide = (await readSafetensorsFile(path)).tensors.w;
      assert(kept.data instanceof Uint16Array && wide.data instanceof Float32Array, dtype);
      const back = await tensor(kept.data, {
        shape: kept.shape,
        dtype: dtype === "BF16" ? "bfloat16" : "float16",
      }).data();
      assertBits(back, wide.data, dtype);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
