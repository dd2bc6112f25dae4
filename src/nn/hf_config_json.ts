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

/** The transformers release whose `config.json` schema the writers follow. */
export const TRANSFORMERS_VERSION = "5.18.0";

/** A token id field: the id, or null as transformers writes an absent one. */
export const tokenId = (id: number | number[] | undefined) => id ?? null;

/** RoPE as transformers 5 writes it, plus the flat `rope_theta` that 4.x and other tools read. */
const rope = (c: HfModelConfig) => ({
  rope_parameters: { rope_theta: c.ropeTheta, rope_type: "default" },
  rope_theta: c.ropeTheta,
});

function ensure(ok: boolean, config: HfModelConfig, what: string): void {
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
 * `config.json` of a `LlamaForCausalLM` (Llama 2/3, SmolLM, TinyLlama).
 *
 * @example
 * ```ts
 * import { llama, llamaConfigJson } from "@lossforge/core";
 * const model = llama({ vocab: 16, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * console.log(llamaConfigJson(model.config!).num_key_value_heads); // 2
 * ```
 */
export function llamaConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    attention_bias: c.qkvBias,
    attention_dropout: 0.0,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    eos_token_id: tokenId(c.eosTokenId),
    head_dim: c.headDim,
    hidden_act: c.activation,
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.hidden,
    max_position_embeddings: c.context,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    num_key_value_heads: c.kvHeads,
    pad_token_id: null,
    pretraining_tp: 1,
    rms_norm_eps: c.normEps,
    ...rope(c),
    tie_word_embeddings: c.tieEmbeddings,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: c.vocab,
  };
}

/**
 * `config.json` of a `Qwen2ForCausalLM` (biases on q, k and v; no sliding window).
 *
 * @example
 * ```ts
 * import { llama, qwen2ConfigJson } from "@lossforge/core";
 * const model = llama({ vocab: 16, dim: 8, layers: 2, heads: 2, hidden: 16, qkvBias: true });
 * console.log(qwen2ConfigJson(model.config!).layer_types); // ["full_attention", "full_attention"]
 * ```
 */
export function qwen2ConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    architectures: ["Qwen2ForCausalLM"],
    attention_dropout: 0.0,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    eos_token_id: tokenId(c.eosTokenId),
    // Qwen2 derives the head width from hidden_size unless told otherwise.
    ...(c.headDim === c.dim / c.heads ? {} : { head_dim: c.headDim }),
    hidden_act: c.activation,
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.hidden,
    layer_types: Array.from({ length: c.layers }, () => "full_attention"),
    max_position_embeddings: c.context,
    max_window_layers: c.layers,
    model_type: "qwen2",
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    num_key_value_heads: c.kvHeads,
    pad_token_id: null,
    rms_norm_eps: c.normEps,
    ...rope(c),
    sliding_window: null,
    tie_word_embeddings: c.tieEmbeddings,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    use_sliding_window: false,
    vocab_size: c.vocab,
  };
}

/**
 * `config.json` of a `GPT2LMHeadModel` (dropouts and summary fields at transformers'
 * defaults; `n_inner` null when it is 4·n_embd).
 *
 * @example
 * ```ts
 * import { gpt, gpt2ConfigJson } from "@lossforge/core";
 * const model = gpt({ vocab: 16, context: 8, layers: 1, dim: 8, heads: 2 });
 * console.log(gpt2ConfigJson(model.config!).n_positions); // 8
 * ```
 */
export function gpt2ConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    activation_function: c.activation,
    add_cross_attention: false,
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.1,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    embd_pdrop: 0.1,
    eos_token_id: tokenId(c.eosTokenId),
    initializer_range: 0.02,
    layer_norm_epsilon: c.normEps,
    model_type: "gpt2",
    n_embd: c.dim,
    n_head: c.heads,
    n_inner: c.hidden === 4 * c.dim ? null : c.hidden,
    n_layer: c.layers,
    n_positions: c.context,
    pad_token_id: null,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: "cls_index",
    summary_use_proj: true,
    tie_word_embeddings: c.tieEmbeddings,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: c.vocab,
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
  ensure(config.kvHeads === config.heads, config, "GPT-NeoX has no grouped key/value heads");
  ensure(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
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
  ensure(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
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
  ensure(config.headDim * config.heads === config.dim, config, "headDim must be dim / heads");
  ensure(
    (config.rotaryFraction ?? 1) === 1,
    config,
    "Falcon rotates whole heads (rotaryFraction must be 1)",
  );
  const { heads, kvHeads } = config;
  const parallel = config.parallelResidual ?? true, norms = config.parallelNorms ?? 1;
  const newArch = (kvHeads !== 1 && kvHeads !== heads) || (parallel && norms === 2);
  ensure(
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

/**
 * The `config.json` writer of each architecture (what `hfConfigJson` and `savePretrained`
 * use).
 *
 * @example
 * ```ts
 * import { CONFIG_JSON } from "@lossforge/core";
 * console.log(Object.keys(CONFIG_JSON).length); // 6
 * ```
 */
export const CONFIG_JSON: Readonly<Record<HfArchitecture, (config: HfModelConfig) => ConfigJson>> =
  {
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
  return CONFIG_JSON[config.architecture](config);
}
