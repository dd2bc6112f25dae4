/**
 * The Llama family (Llama 2/3, SmolLM, Qwen2): pre-RMSNorm blocks with rotary
 * grouped-query attention and a SwiGLU MLP. Parameter names are exactly those of
 * transformers' `LlamaForCausalLM` / `Qwen2ForCausalLM`.
 * @module
 */
import { type Tensor, ValueError } from "../autograd/mod.ts";
import { llamaBlock, type LlamaLayerParams } from "./block.ts";
import { type DecoderConfig, decoderLm } from "./decoder_lm.ts";
import type { HfModelConfig } from "./hf_config.ts";
import type { LanguageModel } from "./language_model.ts";
import { rmsNorm, type RmsNormParams } from "./norm.ts";

/**
 * Llama hyperparameters (the short names every model config here uses; see `loadPretrained`
 * for the mapping from `config.json`).
 *
 * @example
 * ```ts
 * import { llama, type LlamaConfig } from "@lossforge/core";
 * // SmolLM2-135M's shape (its config.json, in these names).
 * const smol: LlamaConfig = {
 *   vocab: 49152, dim: 576, layers: 30, heads: 9, kvHeads: 3, hidden: 1536,
 *   ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: true,
 * };
 * const model = llama(smol); // nothing allocated until init
 * console.log(model.shapes["model.layers.0.self_attn.k_proj.weight"]); // [192, 576]
 * ```
 */
export interface LlamaConfig extends DecoderConfig {
  /** Key/value heads (default `heads`). */
  kvHeads?: number;
  /** Per-head width (default dim / heads). */
  headDim?: number;
  /** MLP width. */
  hidden: number;
  /** RMSNorm epsilon (default 1e-5). */
  normEps?: number;
  /** Share the embedding with the output head (default false). */
  tieEmbeddings?: boolean;
  /** Biases on q/k/v (Qwen2; default false). */
  qkvBias?: boolean;
  /** Longest context (informational; rotary positions have no hard limit). Default 2048. */
  context?: number;
}

/**
 * Llama parameters; flattened with dots they are the Hugging Face names.
 *
 * @example
 * ```ts
 * import { flattenParams, llama, type LlamaParams, rng } from "@lossforge/core";
 * const p: LlamaParams = llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }).init(rng(0));
 * console.log(Object.keys(flattenParams(p))[0]); // "model.embed_tokens.weight"
 * ```
 */
export type LlamaParams = {
  model: {
    embed_tokens: { weight: Tensor };
    layers: LlamaLayerParams[];
    norm: RmsNormParams;
  };
  lm_head?: { weight: Tensor };
};

/**
 * A Llama-family causal language model.
 *
 * @example
 * ```ts
 * import { llama, rng, tensor } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, hidden: 48 });
 * const params = model.init(rng(0));
 * console.log(model.apply(params, tensor([[1, 2]], { dtype: "int32" })).shape); // [1, 2, 32]
 * ```
 */
export function llama(config: LlamaConfig): LanguageModel<LlamaParams> {
  const { vocab, dim, layers, heads, hidden } = config;
  const kvHeads = config.kvHeads ?? heads;
  const headDim = config.headDim ?? dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`llama: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`llama: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const eps = config.normEps ?? 1e-5, bias = !!config.qkvBias;
  const block = llamaBlock({
    dim,
    heads,
    kvHeads,
    headDim,
    hidden,
    normEps: eps,
    qkvBias: bias,
    dropout: config.dropout,
    std: config.initStd,
    dtype: config.dtype,
  });
  // Biases on q/k/v alone are Qwen2's layout (Llama's attention_bias also biases o_proj).
  const hf: HfModelConfig = {
    architecture: bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM",
    modelType: bias ? "qwen2" : "llama",
    vocab,
    dim,
    layers,
    heads,
    kvHeads,
    headDim,
    hidden,
    context: config.context ?? 2048,
    ropeTheta: config.ropeTheta ?? 10000,
    normEps: eps,
    tieEmbeddings: config.tieEmbeddings ?? false,
    qkvBias: bias,
    activation: "silu",
  };
  return decoderLm({
    kind: "llama",
    config: { ...config, tieEmbeddings: !!config.tieEmbeddings },
    context: 2048,
    names: LLAMA_NAMES,
    block,
    norm: rmsNorm({ dim, eps, dtype: config.dtype }),
    normParams: ["weight"],
    rotaryDim: headDim,
    projections: llamaProjections(dim, heads, kvHeads, headDim, hidden, bias),
    layerShapes: { "input_layernorm.weight": [dim], "post_attention_layernorm.weight": [dim] },
    hf,
  });
}

/** Where a Llama-named model (Llama, Qwen2, StableLM) keeps its parts. */
export const LLAMA_NAMES = {
  model: "model",
  embed: "embed_tokens",
  layers: "layers",
  norm: "norm",
  head: "lm_head",
} as const;

/**
 * The projections of a Llama-named block (Llama, Qwen2, StableLM): name within the block,
 * in and out features, and whether it has a bias (q/k/v with `qkvBias`).
 */
export function llamaProjections(
  dim: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  hidden: number,
  qkvBias: boolean,
): [string, number, number, boolean][] {
  return [
    ["self_attn.q_proj", dim, heads * headDim, qkvBias],
    ["self_attn.k_proj", dim, kvHeads * headDim, qkvBias],
    ["self_attn.v_proj", dim, kvHeads * headDim, qkvBias],
    ["self_attn.o_proj", heads * headDim, dim, false],
    ["mlp.gate_proj", dim, hidden, false],
    ["mlp.up_proj", dim, hidden, false],
    ["mlp.down_proj", hidden, dim, false],
  ];
}
