/**
 * GPT-NeoX (Pythia, RedPajama-INCITE, GPT-NeoX-20B): LayerNorm blocks with per-head fused
 * qkv attention rotating the first `rotaryFraction` of each head, a two-layer GELU MLP, a
 * parallel or sequential residual and an untied `embed_out` head by default. Parameter
 * names are those of transformers' `GPTNeoXForCausalLM` checkpoints.
 * @module
 */
import { type DType, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { gptNeoXBlock, type GptNeoXLayerParams } from "./block.ts";
import {
  addLinearShapes,
  checkLayers,
  type KVCache,
  type LanguageModel,
  type LinearInfo,
  type LmContext,
  lmHead,
  rotaryDecoder,
} from "./language_model.ts";
import { layerNorm, layerNormForward, type LayerNormParams } from "./norm.ts";
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
export interface GptNeoXConfig {
  /** Vocabulary size. */
  vocab: number;
  /** Model width. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** Attention heads. */
  heads: number;
  /** MLP width. */
  hidden: number;
  /** Rotated fraction of each head (`rotary_pct`, default 0.25). */
  rotaryFraction?: number;
  /** RoPE base (`rotary_emb_base`, default 10000). */
  ropeTheta?: number;
  /** LayerNorm epsilon (default 1e-5). */
  normEps?: number;
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
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32). */
  dtype?: DType;
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
  const { vocab, dim, layers, heads, hidden } = config;
  const headDim = dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`gptNeoX: dim ${dim} is not divisible by heads ${heads}`);
  }
  const rotaryDim = rotaryDims(headDim, config.rotaryFraction ?? 0.25);
  const theta = config.ropeTheta ?? 10000, eps = config.normEps ?? 1e-5;
  const rate = config.dropout ?? 0, std = config.initStd ?? 0.02, dtype = config.dtype;
  const tied = !!config.tieEmbeddings, bias = config.attentionBias ?? true;
  const block = gptNeoXBlock({
    dim,
    heads,
    hidden,
    normEps: eps,
    parallelResidual: config.parallelResidual ?? true,
    attentionBias: bias,
    activation: activationFn(config.activation ?? "gelu", "gptNeoX: activation"),
    dropout: rate,
    std,
    dtype,
  });
  const norm = layerNorm({ dim, eps, dtype });

  const linears: LinearInfo[] = [];
  for (let i = 0; i < layers; i++) {
    const at = `gpt_neox.layers.${i}`;
    const add = (name: string, inDim: number, outDim: number) =>
      linears.push({ name: `${at}.${name}`, inDim, outDim, layout: "out_in" });
    add("attention.query_key_value", dim, 3 * dim);
    add("attention.dense", dim, dim);
    add("mlp.dense_h_to_4h", dim, hidden);
    add("mlp.dense_4h_to_h", hidden, dim);
  }
  if (!tied) linears.push({ name: "embed_out", inDim: dim, outDim: vocab, layout: "out_in" });
  const shapes: Record<string, number[]> = { "gpt_neox.embed_in.weight": [vocab, dim] };
  addLinearShapes(
    shapes,
    linears,
    (l) => l.name.includes(".mlp.") || (bias && l.name !== "embed_out"),
  );
  for (let i = 0; i < layers; i++) {
    for (const ln of ["input_layernorm", "post_attention_layernorm"]) {
      shapes[`gpt_neox.layers.${i}.${ln}.weight`] = [dim];
      shapes[`gpt_neox.layers.${i}.${ln}.bias`] = [dim];
    }
  }
  shapes["gpt_neox.final_layer_norm.weight"] = [dim];
  shapes["gpt_neox.final_layer_norm.bias"] = [dim];

  const forward = (
    params: GptNeoXParams,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const m = params.gpt_neox;
    checkLayers("gptNeoX", m.layers, layers);
    const table = m.embed_in.weight;
    const out = rotaryDecoder(block, m.layers, table, ids, ctx, {
      prefix: "gpt_neox.layers",
      rotaryDim,
      theta,
      dropout: rate,
    });
    const h = layerNormForward(m.final_layer_norm, out.x, eps);
    return { logits: lmHead(h, table, params.embed_out, tied, "embed_out", ctx), cache: out.cache };
  };

  return {
    kind: "gptneox",
    vocab,
    layers,
    context: config.context ?? 2048,
    linears,
    shapes,
    init(rng: Rng): GptNeoXParams {
      const embed_in = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const blocks: GptNeoXLayerParams[] = [];
      for (let i = 0; i < layers; i++) blocks.push(block.init(rng));
      const gpt_neox = { embed_in, layers: blocks, final_layer_norm: norm.init(rng) };
      if (tied) return { gpt_neox };
      return { gpt_neox, embed_out: { weight: randn([vocab, dim], { rng, std, dtype }) } };
    },
    apply: (params: GptNeoXParams, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}
