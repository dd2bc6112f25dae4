// config.json of GPT-NeoX, StableLM and Falcon: the fields each family spells its own way,
// transformers' defaults, the settings that are refused, and the writers back to the schema.
import {
  falconConfigJson,
  gpt2ConfigJson,
  gptNeoXConfigJson,
  type HfModelConfig,
  llamaConfigJson,
  modelFromConfig,
  parseHfConfig,
  qwen2ConfigJson,
  stableLmConfigJson,
  ValueError,
} from "../../mod.ts";
import { assert, assertEquals, assertThrows } from "./_assert.ts";

const NEOX = {
  architectures: ["GPTNeoXForCausalLM"],
  model_type: "gpt_neox",
  vocab_size: 50432,
  hidden_size: 2560,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  intermediate_size: 10240,
  max_position_embeddings: 2048,
  rotary_pct: 1.0,
  rotary_emb_base: 10000,
  layer_norm_eps: 1e-5,
  use_parallel_residual: false,
  hidden_act: "gelu",
  tie_word_embeddings: false,
  bos_token_id: 0,
  eos_token_id: 0,
};

const STABLELM = {
  architectures: ["StableLmForCausalLM"],
  model_type: "stablelm",
  vocab_size: 50304,
  hidden_size: 2560,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  intermediate_size: 6912,
  max_position_embeddings: 4096,
  partial_rotary_factor: 0.25,
  rope_theta: 10000,
  layer_norm_eps: 1e-5,
  use_qkv_bias: false,
  hidden_act: "silu",
};

const FALCON_7B = {
  architectures: ["FalconForCausalLM"],
  model_type: "falcon",
  vocab_size: 65024,
  hidden_size: 4544,
  num_hidden_layers: 32,
  num_attention_heads: 71,
  multi_query: true,
  new_decoder_architecture: false,
  parallel_attn: true,
  bias: false,
  alibi: false,
  layer_norm_epsilon: 1e-5,
  bos_token_id: 11,
  eos_token_id: 11,
};

const FALCON_40B = {
  ...FALCON_7B,
  hidden_size: 8192,
  num_hidden_layers: 60,
  num_attention_heads: 128,
  num_kv_heads: 8,
  new_decoder_architecture: true,
};

Deno.test("GPT-NeoX: RedPajama's rotary_pct / rotary_emb_base, sequential residual", () => {
  const cfg = parseHfConfig(NEOX, "incite/config.json");
  assertEquals(cfg, {
    architecture: "GPTNeoXForCausalLM",
    modelType: "gpt_neox",
    vocab: 50432,
    dim: 2560,
    layers: 32,
    heads: 32,
    kvHeads: 32,
    headDim: 80,
    hidden: 10240,
    context: 2048,
    ropeTheta: 10000,
    normEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: true,
    activation: "gelu",
    rotaryFraction: 1,
    parallelResidual: false,
    bosTokenId: 0,
    eosTokenId: 0,
  });
  // transformers' defaults: rotary_pct 0.25, parallel residual; rope_parameters win.
  const { rotary_pct: _, use_parallel_residual: __, ...bare } = NEOX;
  assertEquals(parseHfConfig(bare).rotaryFraction, 0.25);
  assertEquals(parseHfConfig(bare).parallelResidual, true);
  const v5 = { ...NEOX, rope_parameters: { rope_theta: 500, partial_rotary_factor: 0.5 } };
  assertEquals([parseHfConfig(v5).ropeTheta, parseHfConfig(v5).rotaryFraction], [500, 0.5]);
  assertEquals(parseHfConfig({ ...NEOX, attention_bias: false }).qkvBias, false);
  assertThrows(() => parseHfConfig({ ...NEOX, rotary_pct: 1.5 }, "n.json"), "n.json", "1.5");
});

Deno.test("StableLM: partial rotary, LayerNorm eps, qk_layernorm and grouped heads", () => {
  const cfg = parseHfConfig(STABLELM);
  assertEquals(
    [cfg.rotaryFraction, cfg.parallelResidual, cfg.qkNorm, cfg.qkvBias, cfg.context],
    [0.25, false, false, false, 4096],
  );
  const two = parseHfConfig({
    ...STABLELM,
    num_key_value_heads: 8,
    qk_layernorm: true,
    use_parallel_residual: true,
    use_qkv_bias: true,
  });
  assertEquals([two.kvHeads, two.qkNorm, two.parallelResidual, two.qkvBias], [8, true, true, true]);
  assertThrows(() => parseHfConfig({ ...STABLELM, num_key_value_heads: 5 }), "num_key_value_heads");
});

Deno.test("Falcon: multi_query, new_decoder_architecture and its LayerNorms", () => {
  const f7 = parseHfConfig(FALCON_7B);
  assertEquals(
    [f7.kvHeads, f7.headDim, f7.hidden, f7.parallelResidual, f7.parallelNorms, f7.tieEmbeddings],
    [1, 64, 4 * 4544, true, 1, true],
  );
  assertEquals(parseHfConfig({ ...FALCON_7B, multi_query: false }).kvHeads, 71);
  const f40 = parseHfConfig(FALCON_40B);
  assertEquals([f40.kvHeads, f40.parallelNorms, f40.parallelResidual], [8, 2, true]);
  const one = parseHfConfig({ ...FALCON_40B, num_ln_in_parallel_attn: 1 });
  assertEquals(one.parallelNorms, 1);
  const seq = parseHfConfig({ ...FALCON_7B, parallel_attn: false, bias: true });
  assertEquals([seq.parallelResidual, seq.qkvBias], [false, true]);
});

Deno.test("Falcon settings that cannot run are ValueErrors naming the file and field", () => {
  const alibi = assertThrows(
    () => parseHfConfig({ ...FALCON_7B, alibi: true }, "falcon-rw-1b/config.json"),
    "falcon-rw-1b/config.json",
    '"alibi"',
    "not supported",
  );
  assert(alibi instanceof ValueError, "alibi: not a ValueError");
  assertThrows(
    () => parseHfConfig({ ...FALCON_40B, parallel_attn: false }),
    '"parallel_attn"',
    "new_decoder_architecture",
  );
  assertThrows(
    () => parseHfConfig({ ...FALCON_7B, num_ln_in_parallel_attn: 2 }),
    '"num_ln_in_parallel_attn"',
  );
  assertThrows(() => parseHfConfig({ ...FALCON_40B, num_kv_heads: 3 }), "num_kv_heads");
  assertThrows(
    () => parseHfConfig({ ...FALCON_7B, multi_query: false, num_kv_heads: 1 }),
    '"num_kv_heads"',
  );
});

Deno.test("modelFromConfig: kinds, checked activations, rotary dimensions", () => {
  const small = { hidden_size: 16, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 8 };
  const neox = parseHfConfig({ ...NEOX, ...small, intermediate_size: 32, rotary_pct: 0.25 });
  assertEquals(modelFromConfig(neox).kind, "gptneox");
  assertEquals(modelFromConfig({ ...neox, rotaryFraction: 1 }).kind, "gptneox");
  assertThrows(() => modelFromConfig({ ...neox, activation: "mish" }), "hidden_act", "mish");
  // 8-wide heads times 0.125 is a single dimension: rotary needs pairs.
  assertThrows(() => modelFromConfig({ ...neox, rotaryFraction: 0.125 }), "rope", "0.125");
  const sl = parseHfConfig({
    ...STABLELM,
    ...small,
    num_key_value_heads: 1,
    intermediate_size: 32,
  });
  assertEquals(modelFromConfig(sl).kind, "stablelm");
  const falcon = parseHfConfig({ ...FALCON_40B, ...small, num_kv_heads: 1 });
  const model = modelFromConfig(falcon);
  assertEquals(model.kind, "falcon");
  // One key/value head: the fused projection holds 2 query heads, then k and v.
  assertEquals(model.shapes["transformer.h.0.self_attention.query_key_value.weight"], [32, 16]);
  assert("transformer.h.0.ln_mlp.weight" in model.shapes, "ln_mlp missing");
  assertThrows(() => modelFromConfig({ ...falcon, activation: "tanh" }), "activation", "tanh");
});

Deno.test("config writers: each family's schema parses back to the same config", () => {
  const configs: HfModelConfig[] = [
    parseHfConfig(NEOX),
    parseHfConfig({
      ...NEOX,
      rotary_pct: 0.25,
      use_parallel_residual: true,
      tie_word_embeddings: true,
    }),
    parseHfConfig(STABLELM),
    parseHfConfig({ ...STABLELM, num_key_value_heads: 8, qk_layernorm: true, use_qkv_bias: true }),
    parseHfConfig(FALCON_7B),
    parseHfConfig({ ...FALCON_7B, multi_query: false, parallel_attn: false, bias: true }),
    parseHfConfig({ ...FALCON_7B, parallel_attn: false }),
    parseHfConfig(FALCON_40B),
    parseHfConfig({ ...FALCON_40B, num_ln_in_parallel_attn: 1, tie_word_embeddings: false }),
  ];
  const writers = {
    GPTNeoXForCausalLM: gptNeoXConfigJson,
    StableLmForCausalLM: stableLmConfigJson,
    FalconForCausalLM: falconConfigJson,
  } as Record<string, (c: HfModelConfig) => Record<string, unknown>>;
  for (const cfg of configs) {
    assertEquals(parseHfConfig(writers[cfg.architecture](cfg)), cfg, cfg.architecture);
  }
  // The simplest Falcon layout is chosen: Falcon-7B stays on the original decoder.
  const f7 = falconConfigJson(parseHfConfig(FALCON_7B));
  assertEquals([f7.new_decoder_architecture, f7.multi_query], [false, true]);
  const grouped = { ...parseHfConfig(FALCON_40B), parallelResidual: false };
  assertThrows(() => falconConfigJson(grouped), "FalconForCausalLM", "parallel");
  assertThrows(() => gptNeoXConfigJson({ ...parseHfConfig(NEOX), kvHeads: 8 }), "grouped");

  const llama = parseHfConfig({
    architectures: ["LlamaForCausalLM"],
    vocab_size: 32000,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 64,
    max_position_embeddings: 256,
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    bos_token_id: 1,
    eos_token_id: [2, 3],
  });
  assertEquals(parseHfConfig(llamaConfigJson(llama)), llama);
  const qwen = { ...llama, architecture: "Qwen2ForCausalLM" as const, modelType: "qwen2" };
  assertEquals(parseHfConfig(qwen2ConfigJson({ ...qwen, qkvBias: true })), {
    ...qwen,
    qkvBias: true,
  });
  const gpt2 = parseHfConfig({
    architectures: ["GPT2LMHeadModel"],
    vocab_size: 50257,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
  });
  assertEquals(parseHfConfig(gpt2ConfigJson(gpt2)), gpt2);
});
