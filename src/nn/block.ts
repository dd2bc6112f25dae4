/**
 * Transformer blocks, pre-norm as in GPT-2 and Llama: x + attn(norm₁(x)), then
 * x + mlp(norm₂(x)). Each returns its output and the layer's key/value cache.
 * @module
 */
import type { DType, Rng, Tensor } from "../autograd/mod.ts";
import {
  type AttentionContext,
  type AttentionOutput,
  type AttentionParams,
  causalSelfAttention,
  gpt2Attention,
  type Gpt2AttentionParams,
} from "./attention.ts";
import { joinName, type Module } from "./module.ts";
import { gatedMlp, type GatedMlpParams, mlp, type MlpParams } from "./mlp.ts";
import {
  layerNorm,
  layerNormForward,
  type LayerNormParams,
  rmsNorm,
  rmsNormForward,
  type RmsNormParams,
} from "./norm.ts";

/**
 * One Llama block's parameters.
 *
 * @example
 * ```ts
 * import { llamaBlock, type LlamaLayerParams, rng } from "@lossforge/core";
 * const block = llamaBlock({ dim: 8, heads: 2, kvHeads: 1, hidden: 16 });
 * const p: LlamaLayerParams = block.init(rng(0));
 * console.log(Object.keys(p));
 * // ["self_attn", "mlp", "input_layernorm", "post_attention_layernorm"]
 * ```
 */
export type LlamaLayerParams = {
  self_attn: AttentionParams;
  mlp: GatedMlpParams;
  input_layernorm: RmsNormParams;
  post_attention_layernorm: RmsNormParams;
};

/**
 * A Llama block: RMSNorm, rotary grouped-query attention, RMSNorm, SwiGLU MLP.
 *
 * @example
 * ```ts
 * import { llamaBlock, randn, rng } from "@lossforge/core";
 * const block = llamaBlock({ dim: 8, heads: 2, kvHeads: 1, hidden: 16 });
 * console.log(block.apply(block.init(rng(0)), randn([1, 3, 8])).out.shape); // [1, 3, 8]
 * ```
 */
export function llamaBlock(opts: {
  dim: number;
  heads: number;
  kvHeads?: number;
  headDim?: number;
  hidden: number;
  normEps?: number;
  qkvBias?: boolean;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<LlamaLayerParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, dtype, std } = opts;
  const eps = opts.normEps ?? 1e-5;
  const attn = causalSelfAttention({ ...opts, std });
  const ffn = gatedMlp({ dim, hidden: opts.hidden, dropout: opts.dropout, std, dtype });
  const norm = rmsNorm({ dim, eps, dtype });
  return {
    init: (rng: Rng): LlamaLayerParams => ({
      self_attn: attn.init(rng),
      mlp: ffn.init(rng),
      input_layernorm: norm.init(rng),
      post_attention_layernorm: norm.init(rng),
    }),
    apply: (p: LlamaLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      const h = rmsNormForward(p.input_layernorm, x, eps);
      const a = attn.apply(p.self_attn, h, { ...ctx, prefix: joinName(ctx.prefix, "self_attn") });
      const mid = x.add(a.out);
      const h2 = rmsNormForward(p.post_attention_layernorm, mid, eps);
      const out = mid.add(ffn.apply(p.mlp, h2, { ...ctx, prefix: joinName(ctx.prefix, "mlp") }));
      return { out, cache: a.cache };
    },
  };
}

/**
 * One GPT-2 block's parameters.
 *
 * @example
 * ```ts
 * import { gpt2Block, type GptLayerParams, rng } from "@lossforge/core";
 * const p: GptLayerParams = gpt2Block({ dim: 8, heads: 2 }).init(rng(0));
 * console.log(Object.keys(p)); // ["ln_1", "attn", "ln_2", "mlp"]
 * ```
 */
export type GptLayerParams = {
  ln_1: LayerNormParams;
  attn: Gpt2AttentionParams;
  ln_2: LayerNormParams;
  mlp: MlpParams;
};

/**
 * A GPT-2 block: LayerNorm, fused-qkv attention, LayerNorm, GELU MLP.
 *
 * @example
 * ```ts
 * import { gpt2Block, randn, rng } from "@lossforge/core";
 * const block = gpt2Block({ dim: 8, heads: 2 });
 * console.log(block.apply(block.init(rng(0)), randn([1, 3, 8])).out.shape); // [1, 3, 8]
 * ```
 */
export function gpt2Block(opts: {
  dim: number;
  heads: number;
  hidden?: number;
  normEps?: number;
  dropout?: number;
  std?: number;
  projStd?: number;
  dtype?: DType;
}): Module<GptLayerParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, dtype } = opts;
  const eps = opts.normEps ?? 1e-5;
  const attn = gpt2Attention(opts);
  const ffn = mlp({ ...opts, hidden: opts.hidden ?? 4 * dim });
  const norm = layerNorm({ dim, eps, dtype });
  return {
    init: (rng: Rng): GptLayerParams => ({
      ln_1: norm.init(rng),
      attn: attn.init(rng),
      ln_2: norm.init(rng),
      mlp: ffn.init(rng),
    }),
    apply: (p: GptLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      const h = layerNormForward(p.ln_1, x, eps);
      const a = attn.apply(p.attn, h, { ...ctx, prefix: joinName(ctx.prefix, "attn") });
      const mid = x.add(a.out);
      const h2 = layerNormForward(p.ln_2, mid, eps);
      const out = mid.add(ffn.apply(p.mlp, h2, { ...ctx, prefix: joinName(ctx.prefix, "mlp") }));
      return { out, cache: a.cache };
    },
  };
}
