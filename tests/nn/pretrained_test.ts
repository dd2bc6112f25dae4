// Loading Hugging Face model folders: GPT-2 and Llama/Qwen2 layouts, single files and
// shards, and the errors for folders that do not fit.
import {
  flattenParams,
  gpt,
  llama,
  loadPretrained,
  type ParamTree,
  rng,
  saveSafetensors,
  tensor,
  unflattenParams,
} from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { assertEquals, assertRejects, byteLevelTokenizerJson } from "./_assert.ts";

async function folder(
  config: Record<string, unknown>,
  weights: ParamTree,
  fn: (dir: string) => Promise<void>,
  shards = 1,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(byteLevelTokenizerJson()));
    const flat = flattenParams(weights);
    if (shards === 1) await saveSafetensors(`${dir}/model.safetensors`, weights, { format: "pt" });
    else {
      const names = Object.keys(flat), weightMap: Record<string, string> = {};
      for (let s = 0; s < shards; s++) {
        const file = `model-0000${s + 1}-of-0000${shards}.safetensors`;
        const part = names.filter((_, i) => i % shards === s);
        for (const n of part) weightMap[n] = file;
        await saveSafetensors(
          `${dir}/${file}`,
          unflattenParams(Object.fromEntries(part.map((n) => [n, flat[n]]))),
        );
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

const ids = () => tensor([[72, 101, 108, 108, 111]], { dtype: "int32" });

const gpt2Config = {
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

Deno.test("a GPT-2 folder (bare names, attention-mask buffers) loads and computes the same logits", async () => {
  const model = gpt({ vocab: 257, context: 16, layers: 2, dim: 8, heads: 2, initStd: 0.3 });
  const params = model.init(rng(0));
  // The original GPT-2 checkpoints drop "transformer." and carry causal-mask buffers.
  const stored: Record<string, ReturnType<typeof tensor>> = {};
  for (const [k, v] of Object.entries(flattenParams(params))) {
    stored[k.replace(/^transformer\./, "")] = v;
  }
  stored["h.0.attn.bias"] = tensor([1]);
  stored["lm_head.weight"] = flattenParams(params)["transformer.wte.weight"];
  await folder(gpt2Config, unflattenParams(stored), async (dir) => {
    const loaded = await loadPretrained(dir);
    assertEquals(loaded.config.architecture, "GPT2LMHeadModel");
    assertEquals(loaded.model.kind, "gpt");
    assertEquals(loaded.tokenizer.encode("Hello"), [72, 101, 108, 108, 111]);
    assertClose(
      await loaded.model.apply(loaded.params, ids()).data(),
      await model.apply(params, ids()).data(),
      { atol: 0, rtol: 0 },
    );
  });
});

const qwenConfig = {
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  vocab_size: 257,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  hidden_act: "silu",
};

Deno.test("a sharded Qwen2 folder (qkv biases, tied head) loads and computes the same logits", async () => {
  const model = llama({
    vocab: 257,
    dim: 8,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    hidden: 12,
    ropeTheta: 1e6,
    normEps: 1e-6,
    tieEmbeddings: true,
    qkvBias: true,
    initStd: 0.3,
  });
  const params = model.init(rng(1));
  await folder(qwenConfig, params, async (dir) => {
    const loaded = await loadPretrained(dir);
    assertEquals(
      Object.keys(flattenParams(loaded.params)).sort(),
      Object.keys(flattenParams(params)).sort(),
    );
    assertClose(
      await loaded.model.apply(loaded.params, ids()).data(),
      await model.apply(params, ids()).data(),
      { atol: 0, rtol: 0 },
    );
  }, 3);
});

Deno.test("folders that do not fit give errors that say why", async () => {
  const model = gpt({ vocab: 257, context: 16, layers: 2, dim: 8, heads: 2 });
  const flat = flattenParams(model.init(rng(0)));
  const partial = { ...flat, "transformer.h.1.mlp.c_fc.extra": tensor([1]) };
  delete (partial as Record<string, unknown>)["transformer.h.0.ln_1.weight"];
  await folder(gpt2Config, unflattenParams(partial), async (dir) => {
    await assertRejects(
      () => loadPretrained(dir),
      "missing tensors: transformer.h.0.ln_1.weight",
      "unexpected tensors: transformer.h.1.mlp.c_fc.extra",
    );
  });
  await folder({ ...gpt2Config, architectures: ["MambaForCausalLM"] }, flat, async (dir) => {
    await assertRejects(
      () => loadPretrained(dir),
      "MambaForCausalLM",
      "LlamaForCausalLM",
      "GPT2LMHeadModel",
    );
  });
  await folder(
    { ...qwenConfig, rope_scaling: { rope_type: "yarn", factor: 4 } },
    flat,
    async (dir) => {
      await assertRejects(() => loadPretrained(dir), "yarn");
    },
  );
  await folder({ ...gpt2Config, n_embd: 16 }, flat, async (dir) => {
    await assertRejects(() => loadPretrained(dir), "wrong shapes", "transformer.wte.weight");
  });
  await assertRejects(() => loadPretrained("/nonexistent/model"), "/nonexistent/model/config.json");
});
