/**
 * StableLM (StableLM-3B-4E1T, StableLM-2): Llama's attention and SwiGLU MLP names with
 * LayerNorms (with bias) instead of RMSNorms, rotary embeddings on the first
 * `rotaryFraction` of each head, optional qkv biases and per-head q/k LayerNorms, and a
 * sequential or parallel residual. Parameter names are those of transformers'
 * `StableLmForCausalLM`.
 * @module
 */
import { type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { stableLmBlock, type StableLmLayerParams } from "./block.ts";
import type { HfModelConfig } from "./hf_config.ts";
import { type DecoderConfig, decoderLm, layerNormShapes } from "./decoder_lm.ts";
import type { LanguageModel } from "./language_model.ts";
import { LLAMA_NAMES, llamaProjections } from "./llama.ts";
import { layerNorm, type LayerNormParams } from "./norm.ts";
import { rotaryDims } from "./rope.ts";

/**
 * StableLM hyperparameters.
 *
 * @example
 * ```ts
 * import { stableLm, type StableLmConfig } from "@lossforge/core";
 * // StableLM-3B-4E1T's shape, checked without allocating it.
 * const sl: StableLmConfig = {
 *   vocab: 50304, dim: 2560, layers: 32, heads: 32, hidden: 6912, rotaryFraction: 0.25,
 * };
 * console.log(stableLm(sl).shapes["model.layers.0.mlp.gate_proj.weight"]); // [6912, 2560]
 * ```
 */
export interface StableLmConfig extends DecoderConfig {
  /** Key/value heads (default `heads`). */
  kvHeads?: number;
  /** MLP width. */
  hidden: number;
  /** Rotated fraction of each head (`partial_rotary_factor`, default 0.25). */
  rotaryFraction?: number;
  /** Biases on q/k/v (`use_qkv_bias`, default false). */
  qkvBias?: boolean;
  /** A LayerNorm per query head and per key head (`qk_layernorm`, default false). */
  qkNorm?: boolean;
  /** Attention and MLP in parallel from one LayerNorm of the input (default false). */
  parallelResidual?: boolean;
  /** Share the embedding with the output head (default false). */
  tieEmbeddings?: boolean;
  /** MLP gate activation, a `hidden_act` name (default "silu"). */
  activation?: string;
  /** Longest context (informational; rotary positions have no hard limit). Default 4096. */
  context?: number;
}

/**
 * StableLM parameters; flattened with dots they are the Hugging Face names.
 *
 * @example
 * ```ts
 * import { flattenParams, rng, stableLm, type StableLmParams } from "@lossforge/core";
 * const model = stableLm({ vocab: 8, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * const p: StableLmParams = model.init(rng(0));
 * console.log(Object.keys(flattenParams(p))[0]); // "model.embed_tokens.weight"
 * ```
 */
export type StableLmParams = {
  model: {
    embed_tokens: { weight: Tensor };
    layers: StableLmLayerParams[];
    norm: LayerNormParams;
  };
  lm_head?: { weight: Tensor };
};

/**
 * A StableLM causal language model.
 *
 * @example
 * ```ts
 * import { rng, stableLm, tensor } from "@lossforge/core";
 * const model = stableLm({ vocab: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, hidden: 32 });
 * const params = model.init(rng(0));
 * console.log(model.apply(params, tensor([[1, 2]], { dtype: "int32" })).shape); // [1, 2, 32]
 * ```
 */
export function stableLm(config: StableLmConfig): LanguageModel<StableLmParams> {
  const { dim, heads, hidden } = config;
  const kvHeads = config.kvHeads ?? heads, headDim = dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`stableLm: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`stableLm: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const eps = config.normEps ?? 1e-5, bias = !!config.qkvBias;
  const parallel = !!config.parallelResidual;
  const block = stableLmBlock({
    dim,
    heads,
    kvHeads,
    hidden,
    normEps: eps,
    qkvBias: bias,
    qkNorm: config.qkNorm,
    parallelResidual: parallel,
    activation: activationFn(config.activation ?? "silu", "stableLm: activation"),
    dropout: config.dropout,
    std: config.initStd,
    dtype: config.dtype,
  });
  const layerShapes = layerNormShapes(
    parallel ? ["input_layernorm"] : ["input_layernorm", "post_attention_layernorm"],
    dim,
  );
  if (config.qkNorm) {
    for (let h = 0; h < heads; h++) {
      layerShapes[`self_attn.q_layernorm.norms.${h}.weight`] = [headDim];
    }
    for (let h = 0; h < kvHeads; h++) {
      layerShapes[`self_attn.k_layernorm.norms.${h}.weight`] = [headDim];
    }
  }
  const hf: HfModelConfig = {
    architecture: "StableLmForCausalLM",
    modelType: "stablelm",
    vocab: config.vocab,
    dim,
    layers: config.layers,
    heads,
    kvHeads,
    headDim,
    hidden,
    context: config.context ?? 4096,
    ropeTheta: config.ropeTheta ?? 10000,
    normEps: eps,
    tieEmbeddings: !!config.tieEmbeddings,
    qkvBias: bias,
    activation: config.activation ?? "silu",
    rotaryFraction: config.rotaryFraction ?? 0.25,
    qkNorm: !!config.qkNorm,
    parallelResidual: parallel,
  };
  return decoderLm({
    kind: "stablelm",
    config: { ...config, tieEmbeddings: !!config.tieEmbeddings },
    context: 4096,
    names: LLAMA_NAMES,
    block,
    norm: layerNorm({ dim, eps, dtype: config.dtype }),
    normParams: ["weight", "bias"],
    rotaryDim: rotaryDims(headDim, config.rotaryFraction ?? 0.25),
    projections: llamaProjections(dim, heads, kvHeads, headDim, hidden, bias),
    layerShapes,
    hf,
  });
}
