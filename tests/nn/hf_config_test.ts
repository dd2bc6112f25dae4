import { loadHfConfig, parseHfConfig } from "../../src/nn/hf_config.ts";
import {
  assertEquals,
  assertRejects,
  assertThrows,
  haveTinyLlama,
  TINY_LLAMA_DIR,
} from "./_assert.ts";

const GPT2 = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  bos_token_id: 50256,
  eos_token_id: 50256,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};

const QWEN2 = {
  architectures: ["Qwen2ForCausalLM"],
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  tie_word_embeddings: true,
  vocab_size: 151936,
};

Deno.test("tiny-llama config.json (rope_parameters.rope_theta, head_dim, GQA)", async () => {
  if (!(await haveTinyLlama())) return;
  const cfg = await loadHfConfig(new URL("config.json", TINY_LLAMA_DIR));
  assertEquals(cfg, {
    architecture: "LlamaForCausalLM",
    modelType: "llama",
    vocab: 600,
    dim: 64,
    layers: 2,
    heads: 8,
    kvHeads: 4,
    headDim: 8,
    hidden: 172,
    context: 256,
    ropeTheta: 10000,
    normEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: false,
    activation: "silu",
    bosTokenId: 0,
    eosTokenId: 0,
  });
  assertEquals(await loadHfConfig(TINY_LLAMA_DIR), cfg);
});

Deno.test("GPT-2 config: n_inner defaults to 4 * n_embd, qkv bias, tied embeddings", () => {
  const cfg = parseHfConfig(GPT2, "gpt2/config.json");
  assertEquals(cfg, {
    architecture: "GPT2LMHeadModel",
    modelType: "gpt2",
    vocab: 50257,
    dim: 768,
    layers: 12,
    heads: 12,
    kvHeads: 12,
    headDim: 64,
    hidden: 3072,
    context: 1024,
    ropeTheta: 0,
    normEps: 1e-5,
    tieEmbeddings: true,
    qkvBias: true,
    activation: "gelu_new",
    bosTokenId: 50256,
    eosTokenId: 50256,
  });
  assertEquals(parseHfConfig({ ...GPT2, n_inner: 100 }).hidden, 100);
});

Deno.test("Qwen2 config: always qkv bias; rope_theta; list eos ids", () => {
  const cfg = parseHfConfig(QWEN2);
  assertEquals(cfg.architecture, "Qwen2ForCausalLM");
  assertEquals(cfg.qkvBias, true);
  assertEquals(parseHfConfig({ ...QWEN2, attention_bias: false }).qkvBias, true);
  assertEquals(cfg.ropeTheta, 1000000);
  assertEquals([cfg.heads, cfg.kvHeads, cfg.headDim, cfg.hidden], [14, 2, 64, 4864]);
  assertEquals(cfg.tieEmbeddings, true);
  assertEquals(cfg.normEps, 1e-6);
  assertEquals(parseHfConfig({ ...QWEN2, eos_token_id: [151645, 151643] }).eosTokenId, [
    151645,
    151643,
  ]);
});

Deno.test("Llama/SmolLM defaults: kvHeads = heads, attention_bias honored", () => {
  const smol = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 576,
    intermediate_size: 1536,
    max_position_embeddings: 8192,
    num_attention_heads: 9,
    num_hidden_layers: 30,
    num_key_value_heads: 3,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
    vocab_size: 49152,
  };
  const cfg = parseHfConfig(smol);
  assertEquals([cfg.kvHeads, cfg.headDim, cfg.ropeTheta, cfg.qkvBias], [3, 64, 100000, false]);
  assertEquals(cfg.bosTokenId, undefined);
  const { num_key_value_heads: _, ...noKv } = smol;
  assertEquals(parseHfConfig(noKv).kvHeads, 9);
  assertEquals(parseHfConfig({ ...smol, attention_bias: true }).qkvBias, true);
  // no architectures: fall back to model_type
  const { architectures: __, ...noArch } = smol;
  assertEquals(parseHfConfig(noArch).architecture, "LlamaForCausalLM");
});

Deno.test("errors: unsupported architecture, missing and invalid fields", async () => {
  assertThrows(
    () => parseHfConfig({ ...QWEN2, architectures: ["MistralForCausalLM"] }, "m/config.json"),
    "m/config.json",
    "MistralForCausalLM",
    "LlamaForCausalLM",
    "Qwen2ForCausalLM",
    "GPT2LMHeadModel",
  );
  const { hidden_size: _, ...noHidden } = QWEN2;
  assertThrows(() => parseHfConfig(noHidden, "q.json"), "q.json", '"hidden_size"');
  const { n_layer: __, ...noLayer } = GPT2;
  assertThrows(() => parseHfConfig(noLayer), '"n_layer"');
  assertThrows(
    () => parseHfConfig({ ...QWEN2, num_hidden_layers: "24" }),
    '"num_hidden_layers"',
    '"24"',
  );
  assertThrows(() => parseHfConfig({ ...QWEN2, num_key_value_heads: 4 }), "num_key_value_heads");
  assertThrows(
    () => parseHfConfig({ ...QWEN2, tie_word_embeddings: "yes" }),
    "tie_word_embeddings",
  );
  assertThrows(() => parseHfConfig([1, 2]), "JSON object");
  await assertRejects(() => loadHfConfig("/nonexistent/config.json"), "/nonexistent/config.json");
});
