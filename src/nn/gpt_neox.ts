/**
 * GPT-NeoX (Pythia, RedPajama-INCITE, GPT-NeoX-20B): LayerNorm blocks with per-head fused
 * qkv attention rotating the first `rotaryFraction` of each head, a two-layer GELU MLP, a
 * parallel or sequential residual and an untied `embed_out` head by default. Parameter
 * names are those of transformers' `GPTNeoXForCausalLM` checkpoints.
 * @module
 */
import { type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { gptNeoXBlock, type GptNeoXLayerParams } from "./block.ts";
import type { HfModelConfig } from "./hf_config.ts";
import { type DecoderConfig, decoderLm, layerNormShapes } from "./decoder_lm.ts";
import type { LanguageModel } from "./language_model.ts";
import { layerNorm, type LayerNormParams } from "./norm.ts";
import { rotaryDims } from "./rope.ts";

/**
 * GPT-NeoX hyperparameters (`config.json`'s, in the short names used here).
 *
 * @example
 * ```ts
 * import { gptNeoX, type GptNeoXConfig } from "@lossforge/core";
 * // RedPajama-INCITE-3B's shape, checked without allocating it.
 * const incite: GptNeoXConfig = {
 *   vocab: 50432, dim: 2560, layers: 32, heads: 32, hidden: 10240, rotaryFraction: 1,
 * };
 * console.log(gptNeoX(incite).shapes["gpt_neox.layers.0.attention.query_key_value.weight"]);
 * // [7680, 2560]
 * ```
 */
export interface GptNeoXConfig extends DecoderConfig {
  /** MLP width. */
  hidden: number;
  /** Rotated fraction of each head (`rotary_pct`, default 0.25). */
  rotaryFraction?: number;
  /** RoPE base (`rotary_emb_base`, default 10000). */
  ropeTheta?: number;
  /** Attention and MLP in parallel from the block's input (default true). */
  parallelResidual?: boolean;
  /** Biases on `query_key_value` and `dense` (`attention_bias`, default true). */
  attentionBias?: boolean;
  /** Share the embedding with the output head (default false: `embed_out`). */
  tieEmbeddings?: boolean;
  /** MLP activation, a `hidden_act` name (default "gelu", the exact GELU). */
  activation?: string;
  /** Longest context (informational; rotary positions have no hard limit). Default 2048. */
  context?: number;
}

/**
 * GPT-NeoX parameters; flattened with dots they are the Hugging Face names.
 *
 * @example
 * ```ts
 * import { flattenParams, gptNeoX, type GptNeoXParams, rng } from "@lossforge/core";
 * const model = gptNeoX({ vocab: 8, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * const p: GptNeoXParams = model.init(rng(0));
 * console.log(Object.keys(flattenParams(p)).at(-1)); // "embed_out.weight"
 * ```
 */
export type GptNeoXParams = {
  gpt_neox: {
    embed_in: { weight: Tensor };
    layers: GptNeoXLayerParams[];
    final_layer_norm: LayerNormParams;
  };
  embed_out?: { weight: Tensor };
};

/**
 * A GPT-NeoX causal language model.
 *
 * @example
 * ```ts
 * import { gptNeoX, rng, tensor } from "@lossforge/core";
 * const model = gptNeoX({ vocab: 32, dim: 16, layers: 2, heads: 2, hidden: 64 });
 * const params = model.init(rng(0));
 * console.log(model.apply(params, tensor([[1, 2]], { dtype: "int32" })).shape); // [1, 2, 32]
 * ```
 */
export function gptNeoX(config: GptNeoXConfig): LanguageModel<GptNeoXParams> {
  const { dim, heads, hidden } = config;
  const headDim = dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`gptNeoX: dim ${dim} is not divisible by heads ${heads}`);
  }
  const eps = config.normEps ?? 1e-5, bias = config.attentionBias ?? true;
  const block = gptNeoXBlock({
    dim,
    heads,
    hidden,
    normEps: eps,
    parallelResidual: config.parallelResidual ?? true,
    attentionBias: bias,
    activation: activationFn(config.activation ?? "gelu", "gptNeoX: activation"),
    dropout: config.dropout,
    std: config.initStd,
    dtype: config.dtype,
  });
  const hf: HfModelConfig = {
    architecture: "GPTNeoXForCausalLM",
    modelType: "gpt_neox",
    vocab: config.vocab,
    dim,
    layers: config.layers,
    heads,
    kvHeads: heads,
    headDim,
    hidden,
    context: config.context ?? 2048,
    ropeTheta: config.ropeTheta ?? 10000,
    normEps: eps,
    tieEmbeddings: !!config.tieEmbeddings,
    qkvBias: bias,
    activation: config.activation ?? "gelu",
    rotaryFraction: config.rotaryFraction ?? 0.25,
    parallelResidual: config.parallelResidual ?? true,
  };
  return decoderLm({
    kind: "gptneox",
    config: { ...config, tieEmbeddings: !!config.tieEmbeddings },
    context: 2048,
    names: {
      model: "gpt_neox",
      embed: "embed_in",
      layers: "layers",
      norm: "final_layer_norm",
      head: "embed_out",
    },
    block,
    norm: layerNorm({ dim, eps, dtype: config.dtype }),
    normParams: ["weight", "bias"],
    rotaryDim: rotaryDims(headDim, config.rotaryFraction ?? 0.25),
    projections: [
      ["attention.query_key_value", dim, 3 * dim, bias],
      ["attention.dense", dim, dim, bias],
      ["mlp.dense_h_to_4h", dim, hidden, true],
      ["mlp.dense_4h_to_h", hidden, dim, true],
    ],
    layerShapes: layerNormShapes(["input_layernorm", "post_attention_layernorm"], dim),
    hf,
  });
}
