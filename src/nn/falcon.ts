/**
 * Falcon (Falcon-7B, -40B, -180B, Falcon2): LayerNorm blocks with fused grouped qkv
 * attention (multi-query for Falcon-7B, grouped key/value heads for the new decoder
 * architecture), full-head rotary embeddings, a two-layer GELU MLP, parallel or sequential
 * residual, and a head tied to the embedding by default. Parameter names are those of
 * transformers' `FalconForCausalLM`. ALiBi Falcon models are not supported.
 * @module
 */
import { type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { falconBlock, type FalconLayerParams } from "./block.ts";
import type { HfModelConfig } from "./hf_config.ts";
import { type DecoderConfig, decoderLm, layerNormShapes } from "./decoder_lm.ts";
import type { LanguageModel } from "./language_model.ts";
import { layerNorm, type LayerNormParams } from "./norm.ts";
import { rotaryDims } from "./rope.ts";

/**
 * Falcon hyperparameters.
 *
 * @example
 * ```ts
 * import { falcon, type FalconConfig } from "@lossforge/core";
 * // Falcon-7B's shape (multi-query: one key/value head), checked without allocating it.
 * const f7b: FalconConfig = { vocab: 65024, dim: 4544, layers: 32, heads: 71, kvHeads: 1 };
 * console.log(falcon(f7b).shapes["transformer.h.0.self_attention.query_key_value.weight"]);
 * // [4672, 4544]
 * ```
 */
export interface FalconConfig extends DecoderConfig {
  /** Key/value heads (default `heads`; 1 is `multi_query`). */
  kvHeads?: number;
  /** MLP width (`ffn_hidden_size`, default 4·dim). */
  hidden?: number;
  /** Biases on every projection (`bias`, default false). */
  bias?: boolean;
  /** Attention and MLP in parallel (`parallel_attn`, default true). */
  parallelResidual?: boolean;
  /** LayerNorms of a parallel block: 1 shared (default) or 2 (`ln_attn`, `ln_mlp`). */
  parallelNorms?: 1 | 2;
  /** Share the embedding with the output head (default true). */
  tieEmbeddings?: boolean;
  /** MLP activation, an `activation` name (default "gelu", the exact GELU). */
  activation?: string;
  /** Longest context (informational; rotary positions have no hard limit). Default 2048. */
  context?: number;
}

/**
 * Falcon parameters; flattened with dots they are the Hugging Face names.
 *
 * @example
 * ```ts
 * import { falcon, type FalconParams, flattenParams, rng } from "@lossforge/core";
 * const p: FalconParams = falcon({ vocab: 8, dim: 8, layers: 1, heads: 2 }).init(rng(0));
 * console.log(Object.keys(flattenParams(p))[0]); // "transformer.word_embeddings.weight"
 * ```
 */
export type FalconParams = {
  transformer: {
    word_embeddings: { weight: Tensor };
    h: FalconLayerParams[];
    ln_f: LayerNormParams;
  };
  lm_head?: { weight: Tensor };
};

/**
 * A Falcon causal language model.
 *
 * @example
 * ```ts
 * import { falcon, rng, tensor } from "@lossforge/core";
 * const model = falcon({ vocab: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, parallelNorms: 2 });
 * const params = model.init(rng(0));
 * console.log(model.apply(params, tensor([[1, 2]], { dtype: "int32" })).shape); // [1, 2, 32]
 * ```
 */
export function falcon(config: FalconConfig): LanguageModel<FalconParams> {
  const { dim, heads } = config;
  const kvHeads = config.kvHeads ?? heads, headDim = dim / heads;
  const hidden = config.hidden ?? 4 * dim;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`falcon: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`falcon: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const eps = config.normEps ?? 1e-5, bias = !!config.bias;
  const parallel = config.parallelResidual ?? true;
  const twoNorms = parallel && config.parallelNorms === 2;
  const block = falconBlock({
    dim,
    heads,
    kvHeads,
    hidden,
    normEps: eps,
    bias,
    parallelResidual: parallel,
    parallelNorms: twoNorms ? 2 : 1,
    activation: activationFn(config.activation ?? "gelu", "falcon: activation"),
    dropout: config.dropout,
    std: config.initStd,
    dtype: config.dtype,
  });
  const norms = twoNorms
    ? ["ln_attn", "ln_mlp"]
    : parallel
    ? ["input_layernorm"]
    : ["input_layernorm", "post_attention_layernorm"];
  const hf: HfModelConfig = {
    architecture: "FalconForCausalLM",
    modelType: "falcon",
    vocab: config.vocab,
    dim,
    layers: config.layers,
    heads,
    kvHeads,
    headDim,
    hidden,
    context: config.context ?? 2048,
    ropeTheta: config.ropeTheta ?? 10000,
    normEps: eps,
    tieEmbeddings: config.tieEmbeddings ?? true,
    qkvBias: bias,
    activation: config.activation ?? "gelu",
    parallelResidual: parallel,
    parallelNorms: twoNorms ? 2 : 1,
  };
  return decoderLm({
    kind: "falcon",
    config: { ...config, tieEmbeddings: config.tieEmbeddings ?? true },
    context: 2048,
    names: {
      model: "transformer",
      embed: "word_embeddings",
      layers: "h",
      norm: "ln_f",
      head: "lm_head",
    },
    block,
    norm: layerNorm({ dim, eps, dtype: config.dtype }),
    normParams: ["weight", "bias"],
    rotaryDim: rotaryDims(headDim),
    projections: [
      ["self_attention.query_key_value", dim, (heads + 2 * kvHeads) * headDim, bias],
      ["self_attention.dense", heads * headDim, dim, bias],
      ["mlp.dense_h_to_4h", dim, hidden, bias],
      ["mlp.dense_4h_to_h", hidden, dim, bias],
    ],
    layerShapes: layerNormShapes(norms, dim),
    hf,
  });
}
