/**
 * The way back to Hugging Face: a normalized {@linkcode HfModelConfig} written as the
 * `config.json` of its family, in that family's own field names, so that transformers loads
 * it and `parseHfConfig` of it gives the same normalized config. Rotary settings are written
 * both in the older top-level spelling (`rope_theta`, GPT-NeoX's `rotary_pct` /
 * `rotary_emb_base`) that transformers 4 reads and in the `rope_parameters` transformers 5
 * writes.
 * @module
 */
import { ValueError } from "../autograd/mod.ts";
import type { HfArchitecture, HfModelConfig } from "./hf_config.ts";

/** A `config.json` object. */
type ConfigJson = Record<string, unknown>;

function require(ok: boolean, config: HfModelConfig, what: string): void {
  if (!ok) throw new ValueError(`config.json for ${config.architecture}: ${what}`);
}

/** The fields every family writes: class, type, vocabulary, special tokens. */
function header(config: HfModelConfig, modelType: string): ConfigJson {
  const json: ConfigJson = {
    architectures: [config.architecture],
    model_type: modelType,
    vocab_size: config.vocab,
  };
  if (config.bosTokenId !== undefined) json.bos_token_id = config.bosTokenId;
  if (config.eosTokenId !== undefined) json.eos_token_id = config.eosTokenId;
  return json;
}

/** `rope_parameters` as transformers 5 writes it (with the rotary fraction when partial). */
function ropeParameters(config: HfModelConfig, fraction?: number): ConfigJson {
  const rope: ConfigJson = { rope_theta: config.ropeTheta, rope_type: "default" };
  if (fraction !== undefined) rope.partial_rotary_factor = fraction;
  return rope;
}

/** The width, depth and head fields the Llama-style schemas share. */
function llamaShape(config: HfModelConfig): ConfigJson {
  return {
    hidden_size: config.dim,
    num_hidden_layers: config.layers,
    num_attention_heads: config.heads,
    num_key_value_heads: config.kvHeads,
    intermediate_size: config.hidden,
    max_position_embeddings: config.context,
  };
}

/**
 * `config.json` of a `LlamaForCausalLM` (Llama 2/3, SmolLM).
 *
 * @example
 * ```ts
 * import { llamaConfigJson, loadHfConfig } from "@lossforge/core";
 * const json = llamaConfigJson(await loadHfConfig("models/tiny-llama-hf/"));
 * console.log(json.model_type, json.rms_norm_eps); // "llama" 0.00001
 * ```
 */
export function llamaConfigJson(config: HfModelConfig): ConfigJson {
  return {
    ...llamaStyle(config, "llama"),
    attention_bias: config.qkvBias,
    mlp_bias: false,
  };
}

/** The fields Llama and Qwen2 spell the same way. */
function llamaStyle(config: HfModelConfig, modelType: string): ConfigJson {
  return {
    ...header(config, modelType),
    ...llamaShape(config),
    head_dim: config.headDim,
    hidden_act: config.activation,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_parameters: ropeParameters(config),
    tie_word_embeddings: config.tieEmbeddings,
  };
}

/**
 * `config.json` of a `Qwen2ForCausalLM` (q/k/v biases are implied by the family).
 *
 * @example
 * ```ts
 * import { parseHfConfig, qwen2ConfigJson } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["Qwen2ForCausalLM"], vocab_size: 64, hidden_size: 16, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64,
 * });
 * console.log(qwen2ConfigJson(cfg).model_type); // "qwen2"
 * ```
 */
export function qwen2ConfigJson(config: HfModelConfig): ConfigJson {
  require(config.qkvBias, config, "Qwen2 always has q/k/v biases (qkvBias must be true)");
  return { ...llamaStyle(config, "qwen2"), use_sliding_window: false };
}

/**
 * `config.json` of a `GPT2LMHeadModel`.
 *
 * @example
 * ```ts
 * import { gpt2ConfigJson, parseHfConfig } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["GPT2LMHeadModel"], vocab_size: 16, n_embd: 8, n_layer: 1, n_head: 2,
 *   n_positions: 8,
 * });
 * console.log(gpt2ConfigJson(cfg).n_inner); // 32
 * ```
 */
export function gpt2ConfigJson(config: HfModelConfig): ConfigJson {
  require(config.kvHeads === config.heads, config, "GPT-2 has no grouped key/value heads");
  return {
    ...header(config, "gpt2"),
    n_embd: config.dim,
    n_layer: config.layers,
    n_head: config.heads,
    n_inner: config.hidden,
    n_positions: config.context,
    n_ctx: config.context,
    layer_norm_epsilon: config.normEps,
    activation_function: config.activation,
    tie_word_embeddings: config.tieEmbeddings,
  };
}

/**
 * `config.json` of a `GPTNeoXForCausalLM` (Pythia, RedPajama-INCITE).
 *
 * @example
 * ```ts
 * import { gptNeoXConfigJson, parseHfConfig } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["GPTNeoXForCausalLM"], vocab_size: 64, hidden_size: 16,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, rotary_pct: 0.5,
 * });
 * const json = gptNeoXConfigJson(cfg);
 * console.log(json.rotary_pct, json.use_parallel_residual); // 0.5 true
 * ```
 */
export function gptNeoXConfigJson(config: HfModelConfig): ConfigJson {
  require(config.kvHeads === config.heads, config, "GPT-NeoX has no grouped key/value heads");
  require(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
  // Absent fields take the family's defaults, as `modelFromConfig` does.
  const fraction = config.rotaryFraction ?? 0.25;
  return {
    ...header(config, "gpt_neox"),
    hidden_size: config.dim,
    num_hidden_layers: config.layers,
    num_attention_heads: config.heads,
    intermediate_size: config.hidden,
    max_position_embeddings: config.context,
    hidden_act: config.activation,
    layer_norm_eps: config.normEps,
    rotary_pct: fraction,
    rotary_emb_base: config.ropeTheta,
    rope_parameters: ropeParameters(config, fraction),
    use_parallel_residual: config.parallelResidual ?? true,
    attention_bias: config.qkvBias,
    tie_word_embeddings: config.tieEmbeddings,
  };
}

/**
 * `config.json` of a `StableLmForCausalLM`.
 *
 * @example
 * ```ts
 * import { parseHfConfig, stableLmConfigJson } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["StableLmForCausalLM"], vocab_size: 64, hidden_size: 16,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, qk_layernorm: true,
 * });
 * console.log(stableLmConfigJson(cfg).qk_layernorm); // true
 * ```
 */
export function stableLmConfigJson(config: HfModelConfig): ConfigJson {
  require(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
  const fraction = config.rotaryFraction ?? 0.25;
  return {
    ...header(config, "stablelm"),
    ...llamaShape(config),
    hidden_act: config.activation,
    layer_norm_eps: config.normEps,
    partial_rotary_factor: fraction,
    rope_theta: config.ropeTheta,
    rope_parameters: ropeParameters(config, fraction),
    use_qkv_bias: config.qkvBias,
    qk_layernorm: config.qkNorm ?? false,
    use_parallel_residual: config.parallelResidual ?? false,
    tie_word_embeddings: config.tieEmbeddings,
  };
}

/**
 * `config.json` of a `FalconForCausalLM`, in the simplest layout that gives the config:
 * the original decoder (`multi_query` for one key/value head, per-head qkv for as many as
 * queries) unless grouped key/value heads or two parallel LayerNorms need
 * `new_decoder_architecture`.
 *
 * @example
 * ```ts
 * import { falconConfigJson, parseHfConfig } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["FalconForCausalLM"], vocab_size: 64, hidden_size: 16,
 *   num_hidden_layers: 1, num_attention_heads: 4, num_kv_heads: 2,
 *   new_decoder_architecture: true,
 * });
 * const json = falconConfigJson(cfg);
 * console.log(json.new_decoder_architecture, json.num_kv_heads); // true 2
 * ```
 */
export function falconConfigJson(config: HfModelConfig): ConfigJson {
  require(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
  require(
    (config.rotaryFraction ?? 1) === 1,
    config,
    "Falcon rotates whole heads (rotaryFraction must be 1)",
  );
  const { heads, kvHeads } = config;
  const parallel = config.parallelResidual ?? true, norms = config.parallelNorms ?? 1;
  const newArch = (kvHeads !== 1 && kvHeads !== heads) || (parallel && norms === 2);
  require(
    !newArch || parallel,
    config,
    `grouped key/value heads (${kvHeads} of ${heads}) need Falcon's new decoder architecture, ` +
      "which is always parallel (parallelResidual must be true)",
  );
  return {
    ...header(config, "falcon"),
    hidden_size: config.dim,
    num_hidden_layers: config.layers,
    num_attention_heads: heads,
    num_kv_heads: kvHeads,
    ffn_hidden_size: config.hidden,
    max_position_embeddings: config.context,
    activation: config.activation,
    layer_norm_epsilon: config.normEps,
    rope_theta: config.ropeTheta,
    rope_parameters: ropeParameters(config),
    alibi: false,
    bias: config.qkvBias,
    new_decoder_architecture: newArch,
    multi_query: !newArch && kvHeads === 1,
    parallel_attn: parallel,
    num_ln_in_parallel_attn: newArch ? norms : null,
    tie_word_embeddings: config.tieEmbeddings,
  };
}

const WRITERS: Readonly<Record<HfArchitecture, (config: HfModelConfig) => ConfigJson>> = {
  LlamaForCausalLM: llamaConfigJson,
  Qwen2ForCausalLM: qwen2ConfigJson,
  GPT2LMHeadModel: gpt2ConfigJson,
  GPTNeoXForCausalLM: gptNeoXConfigJson,
  StableLmForCausalLM: stableLmConfigJson,
  FalconForCausalLM: falconConfigJson,
};

/**
 * The `config.json` of any supported architecture (the family writer its `architecture`
 * names).
 *
 * @example
 * ```ts
 * import { hfConfigJson, loadHfConfig, parseHfConfig } from "@lossforge/core";
 * const cfg = await loadHfConfig("models/tiny-llama-hf/");
 * console.log(parseHfConfig(hfConfigJson(cfg)).hidden === cfg.hidden); // true
 * ```
 */
export function hfConfigJson(config: HfModelConfig): ConfigJson {
  return WRITERS[config.architecture](config);
}
