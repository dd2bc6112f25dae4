/**
 * StableLM (StableLM-3B-4E1T, StableLM-2): Llama's attention and SwiGLU MLP names with
 * LayerNorms (with bias) instead of RMSNorms, rotary embeddings on the first
 * `rotaryFraction` of each head, optional qkv biases and per-head q/k LayerNorms, and a
 * sequential or parallel residual. Parameter names are those of transformers'
 * `StableLmForCausalLM`.
 * @module
 */
import { type DType, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import { activationFn } from "./activation.ts";
import { stableLmBlock, type StableLmLayerParams } from "./block.ts";
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
export interface StableLmConfig {
  /** Vocabulary size. */
  vocab: number;
  /** Model width. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (default `heads`). */
  kvHeads?: number;
  /** MLP width. */
  hidden: number;
  /** Rotated fraction of each head (`partial_rotary_factor`, default 0.25). */
  rotaryFraction?: number;
  /** RoPE base (default 10000). */
  ropeTheta?: number;
  /** LayerNorm epsilon (default 1e-5). */
  normEps?: number;
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
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32). */
  dtype?: DType;
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
  const { vocab, dim, layers, heads, hidden } = config;
  const kvHeads = config.kvHeads ?? heads, headDim = dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`stableLm: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`stableLm: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const rotaryDim = rotaryDims(headDim, config.rotaryFraction ?? 0.25);
  const theta = config.ropeTheta ?? 10000, eps = config.normEps ?? 1e-5;
  const rate = config.dropout ?? 0, std = config.initStd ?? 0.02, dtype = config.dtype;
  const tied = !!config.tieEmbeddings, parallel = !!config.parallelResidual;
  const block = stableLmBlock({
    dim,
    heads,
    kvHeads,
    hidden,
    normEps: eps,
    qkvBias: config.qkvBias,
    qkNorm: config.qkNorm,
    parallelResidual: parallel,
    activation: activationFn(config.activation ?? "silu", "stableLm: activation"),
    dropout: rate,
    std,
    dtype,
  });
  const norm = layerNorm({ dim, eps, dtype });

  const linears: LinearInfo[] = [];
  for (let i = 0; i < layers; i++) {
    const at = `model.layers.${i}`;
    const add = (name: string, inDim: number, outDim: number) =>
      linears.push({ name: `${at}.${name}`, inDim, outDim, layout: "out_in" });
    add("self_attn.q_proj", dim, heads * headDim);
    add("self_attn.k_proj", dim, kvHeads * headDim);
    add("self_attn.v_proj", dim, kvHeads * headDim);
    add("self_attn.o_proj", heads * headDim, dim);
    add("mlp.gate_proj", dim, hidden);
    add("mlp.up_proj", dim, hidden);
    add("mlp.down_proj", hidden, dim);
  }
  if (!tied) linears.push({ name: "lm_head", inDim: dim, outDim: vocab, layout: "out_in" });
  const shapes: Record<string, number[]> = { "model.embed_tokens.weight": [vocab, dim] };
  addLinearShapes(
    shapes,
    linears,
    (l) => !!config.qkvBias && /self_attn\.[qkv]_proj$/.test(l.name),
  );
  const vector = (name: string, n: number) => {
    shapes[`${name}.weight`] = [n];
    shapes[`${name}.bias`] = [n];
  };
  for (let i = 0; i < layers; i++) {
    const at = `model.layers.${i}`;
    vector(`${at}.input_layernorm`, dim);
    if (!parallel) vector(`${at}.post_attention_layernorm`, dim);
    if (!config.qkNorm) continue;
    for (let h = 0; h < heads; h++) {
      shapes[`${at}.self_attn.q_layernorm.norms.${h}.weight`] = [headDim];
    }
    for (let h = 0; h < kvHeads; h++) {
      shapes[`${at}.self_attn.k_layernorm.norms.${h}.weight`] = [headDim];
    }
  }
  vector("model.norm", dim);

  const forward = (
    params: StableLmParams,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const m = params.model;
    checkLayers("stableLm", m.layers, layers);
    const table = m.embed_tokens.weight;
    const out = rotaryDecoder(block, m.layers, table, ids, ctx, {
      prefix: "model.layers",
      rotaryDim,
      theta,
      dropout: rate,
    });
    const h = layerNormForward(m.norm, out.x, eps);
    return { logits: lmHead(h, table, params.lm_head, tied, "lm_head", ctx), cache: out.cache };
  };

  return {
    kind: "stablelm",
    vocab,
    layers,
    context: config.context ?? 4096,
    linears,
    shapes,
    init(rng: Rng): StableLmParams {
      const embed_tokens = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const blocks: StableLmLayerParams[] = [];
      for (let i = 0; i < layers; i++) blocks.push(block.init(rng));
      const model = { embed_tokens, layers: blocks, norm: norm.init(rng) };
      if (tied) return { model };
      return { model, lm_head: { weight: randn([vocab, dim], { rng, std, dtype }) } };
    },
    apply: (params: StableLmParams, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}
