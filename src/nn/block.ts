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
import type { ParamTree } from "./params.ts";
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
  const layer = preNormLayer(rmsNormForward, eps, attn, "self_attn", ffn);
  return {
    init: (rng: Rng): LlamaLayerParams => ({
      self_attn: attn.init(rng),
      mlp: ffn.init(rng),
      input_layernorm: norm.init(rng),
      post_attention_layernorm: norm.init(rng),
    }),
    apply: (p: LlamaLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput =>
      layer(p.input_layernorm, p.self_attn, p.post_attention_layernorm, p.mlp, x, ctx),
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
  const layer = preNormLayer(layerNormForward, eps, attn, "attn", ffn);
  return {
    init: (rng: Rng): GptLayerParams => ({
      ln_1: norm.init(rng),
      attn: attn.init(rng),
      ln_2: norm.init(rng),
      mlp: ffn.init(rng),
    }),
    apply: (p: GptLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput =>
      layer(p.ln_1, p.attn, p.ln_2, p.mlp, x, ctx),
  };
}

/**
 * The pre-norm residual layer both families share: x + attn(norm(x)), then that plus
 * mlp(norm(·)), each sublayer named under the context's prefix (`attnName`, "mlp").
 */
function preNormLayer<N, A extends ParamTree, M extends ParamTree>(
  norm: (p: N, x: Tensor, eps: number) => Tensor,
  eps: number,
  attn: Module<A, Tensor, AttentionOutput, AttentionContext>,
  attnName: string,
  ffn: Module<M, Tensor, Tensor, AttentionContext>,
): (n1: N, a: A, n2: N, m: M, x: Tensor, ctx: AttentionContext) => AttentionOutput {
  return (n1, a, n2, m, x, ctx) => {
    const h = norm(n1, x, eps);
    const att = attn.apply(a, h, { ...ctx, prefix: joinName(ctx.prefix, attnName) });
    const mid = x.add(att.out);
    const h2 = norm(n2, mid, eps);
    const out = mid.add(ffn.apply(m, h2, { ...ctx, prefix: joinName(ctx.prefix, "mlp") }));
    return { out, cache: att.cache };
  };
}
