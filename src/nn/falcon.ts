/**
 * Falcon (Falcon-7B, -40B, -180B, Falcon2): LayerNorm blocks with fused grouped qkv
 * attention (multi-query for Falcon-7B, grouped key/value heads for the new decoder
 * architecture), full-head rotary embeddings, a two-layer GELU MLP, parallel or sequential
 * residual, and a head tied to the embedding by default. Parameter names are those of
 * transformers' `FalconForCausalLM`. ALiBi Falcon models are not supported.
 * @module
 */
import { type DType, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { falconBlock, type FalconLayerParams } from "./block.ts";
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
export interface FalconConfig {
  /** Vocabulary size. */
  vocab: number;
  /** Model width. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (default `heads`; 1 is `multi_query`). */
  kvHeads?: number;
  /** MLP width (`ffn_hidden_size`, default 4·dim). */
  hidden?: number;
  /** RoPE base (default 10000). */
  ropeTheta?: number;
  /** LayerNorm epsilon (default 1e-5). */
  normEps?: number;
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
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32). */
  dtype?: DType;
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
  const { vocab, dim, layers, heads } = config;
  const kvHeads = config.kvHeads ?? heads, headDim = dim / heads;
  const hidden = config.hidden ?? 4 * dim;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`falcon: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`falcon: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const rotaryDim = rotaryDims(headDim);
  const theta = config.ropeTheta ?? 10000, eps = config.normEps ?? 1e-5;
  const rate = config.dropout ?? 0, std = config.initStd ?? 0.02, dtype = config.dtype;
  const tied = config.tieEmbeddings ?? true, bias = !!config.bias;
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
    dropout: rate,
    std,
    dtype,
  });
  const norm = layerNorm({ dim, eps, dtype });

  const linears: LinearInfo[] = [];
  for (let i = 0; i < layers; i++) {
    const at = `transformer.h.${i}`;
    const add = (name: string, inDim: number, outDim: number) =>
      linears.push({ name: `${at}.${name}`, inDim, outDim, layout: "out_in" });
    add("self_attention.query_key_value", dim, (heads + 2 * kvHeads) * headDim);
    add("self_attention.dense", heads * headDim, dim);
    add("mlp.dense_h_to_4h", dim, hidden);
    add("mlp.dense_4h_to_h", hidden, dim);
  }
  if (!tied) linears.push({ name: "lm_head", inDim: dim, outDim: vocab, layout: "out_in" });
  const shapes: Record<string, number[]> = { "transformer.word_embeddings.weight": [vocab, dim] };
  addLinearShapes(shapes, linears, (l) => bias && l.name !== "lm_head");
  const norms = twoNorms
    ? ["ln_attn", "ln_mlp"]
    : parallel
    ? ["input_layernorm"]
    : ["input_layernorm", "post_attention_layernorm"];
  for (let i = 0; i < layers; i++) {
    for (const ln of norms) {
      shapes[`transformer.h.${i}.${ln}.weight`] = [dim];
      shapes[`transformer.h.${i}.${ln}.bias`] = [dim];
    }
  }
  shapes["transformer.ln_f.weight"] = [dim];
  shapes["transformer.ln_f.bias"] = [dim];

  const forward = (
    params: FalconParams,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const tr = params.transformer;
    checkLayers("falcon", tr.h, layers);
    const table = tr.word_embeddings.weight;
    const out = rotaryDecoder(block, tr.h, table, ids, ctx, {
      prefix: "transformer.h",
      rotaryDim,
      theta,
      dropout: rate,
    });
    const h = layerNormForward(tr.ln_f, out.x, eps);
    return { logits: lmHead(h, table, params.lm_head, tied, "lm_head", ctx), cache: out.cache };
  };

  return {
    kind: "falcon",
    vocab,
    layers,
    context: config.context ?? 2048,
    linears,
    shapes,
    init(rng: Rng): FalconParams {
      const word_embeddings = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const h: FalconLayerParams[] = [];
      for (let i = 0; i < layers; i++) h.push(block.init(rng));
      const transformer = { word_embeddings, h, ln_f: norm.init(rng) };
      if (tied) return { transformer };
      return { transformer, lm_head: { weight: randn([vocab, dim], { rng, std, dtype }) } };
    },
    apply: (params: FalconParams, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}
