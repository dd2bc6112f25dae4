/**
 * The Llama family (Llama 2/3, SmolLM, Qwen2): pre-RMSNorm blocks with rotary
 * grouped-query attention and a SwiGLU MLP. Parameter names are exactly those of
 * transformers' `LlamaForCausalLM` / `Qwen2ForCausalLM`.
 * @module
 */
import { type DType, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import { llamaBlock, type LlamaLayerParams } from "./block.ts";
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
import { rmsNorm, rmsNormForward, type RmsNormParams } from "./norm.ts";

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
export interface LlamaConfig {
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
  /** Per-head width (default dim / heads). */
  headDim?: number;
  /** MLP width. */
  hidden: number;
  /** RoPE base (default 10000). */
  ropeTheta?: number;
  /** RMSNorm epsilon (default 1e-5). */
  normEps?: number;
  /** Share the embedding with the output head (default false). */
  tieEmbeddings?: boolean;
  /** Biases on q/k/v (Qwen2; default false). */
  qkvBias?: boolean;
  /** Longest context (informational; rotary positions have no hard limit). Default 2048. */
  context?: number;
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32; float64 works on the CPU). */
  dtype?: DType;
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
  const theta = config.ropeTheta ?? 10000, eps = config.normEps ?? 1e-5;
  const rate = config.dropout ?? 0, std = config.initStd ?? 0.02, dtype = config.dtype;
  const block = llamaBlock({
    dim,
    heads,
    kvHeads,
    headDim,
    hidden,
    normEps: eps,
    qkvBias: config.qkvBias,
    dropout: rate,
    std,
    dtype,
  });
  const norm = rmsNorm({ dim, eps, dtype });

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
  linears.push({ name: "lm_head", inDim: dim, outDim: vocab, layout: "out_in" });
  if (config.tieEmbeddings) linears.pop();
  const shapes: Record<string, number[]> = { "model.embed_tokens.weight": [vocab, dim] };
  addLinearShapes(
    shapes,
    linears,
    (l) => !!config.qkvBias && /self_attn\.[qkv]_proj$/.test(l.name),
  );
  for (let i = 0; i < layers; i++) {
    shapes[`model.layers.${i}.input_layernorm.weight`] = [dim];
    shapes[`model.layers.${i}.post_attention_layernorm.weight`] = [dim];
  }
  shapes["model.norm.weight"] = [dim];

  const forward = (
    params: LlamaParams,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const m = params.model;
    checkLayers("llama", m.layers, layers);
    const table = m.embed_tokens.weight;
    const out = rotaryDecoder(block, m.layers, table, ids, ctx, {
      prefix: "model.layers",
      rotaryDim: headDim,
      theta,
      dropout: rate,
    });
    const h = rmsNormForward(m.norm, out.x, eps);
    const tied = !!config.tieEmbeddings;
    return { logits: lmHead(h, table, params.lm_head, tied, "lm_head", ctx), cache: out.cache };
  };

  return {
    kind: "llama",
    vocab,
    layers,
    context: config.context ?? 2048,
    linears,
    shapes,
    init(rng: Rng): LlamaParams {
      const embed_tokens = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const blocks: LlamaLayerParams[] = [];
      for (let i = 0; i < layers; i++) blocks.push(block.init(rng));
      const model = { embed_tokens, layers: blocks, norm: norm.init(rng) };
      if (config.tieEmbeddings) return { model };
      return { model, lm_head: { weight: randn([vocab, dim], { rng, std, dtype }) } };
    },
    apply: (params: LlamaParams, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}
