/**
 * GPT-2: learned positions, pre-LayerNorm blocks with fused-qkv attention and a GELU MLP,
 * output head tied to the token embedding. Parameter names and layouts are exactly those
 * of transformers' `GPT2LMHeadModel` (Conv1D weights stored `[in, out]`).
 * @module
 */
import { type DType, matmul, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import { gpt2Block, type GptLayerParams } from "./block.ts";
import { applyDropout } from "./dropout.ts";
import {
  checkLayers,
  decoderLayers,
  type KVCache,
  type LanguageModel,
  type LinearInfo,
  type LmContext,
  positionsFor,
} from "./language_model.ts";
import { layerNorm, layerNormForward, type LayerNormParams } from "./norm.ts";

/**
 * GPT-2 hyperparameters.
 *
 * @example
 * ```ts
 * import { countParams, gpt, type GptConfig, rng } from "@lossforge/core";
 * const tiny: GptConfig = { vocab: 8, context: 4, layers: 1, dim: 4, heads: 1 };
 * console.log(countParams(gpt(tiny).init(rng(0)))); // 300
 * // GPT-2 small, checked without allocating it:
 * const small = gpt({ vocab: 50257, context: 1024, layers: 12, dim: 768, heads: 12 });
 * console.log(small.shapes["transformer.wte.weight"]); // [50257, 768]
 * ```
 */
export interface GptConfig {
  /** Vocabulary size. */
  vocab: number;
  /** Number of learned positions. */
  context: number;
  /** Number of blocks. */
  layers: number;
  /** Model width. */
  dim: number;
  /** Attention heads. */
  heads: number;
  /** MLP width (default 4·dim). */
  hidden?: number;
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** LayerNorm epsilon (default 1e-5). */
  normEps?: number;
  /** Initialiser standard deviation (default 0.02; residual projections scaled by 1/√(2·layers)). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32). */
  dtype?: DType;
}

/**
 * GPT-2 parameters; flattened with dots they are the Hugging Face names.
 *
 * @example
 * ```ts
 * import { flattenParams, gpt, type GptParams, rng } from "@lossforge/core";
 * const p: GptParams = gpt({ vocab: 8, context: 4, layers: 1, dim: 4, heads: 1 }).init(rng(0));
 * console.log(Object.keys(flattenParams(p))[0]); // "transformer.wte.weight"
 * ```
 */
export type GptParams = {
  transformer: {
    wte: { weight: Tensor };
    wpe: { weight: Tensor };
    h: GptLayerParams[];
    ln_f: LayerNormParams;
  };
};

/**
 * A GPT-2 style causal language model.
 *
 * @example
 * ```ts
 * import { gpt, rng, tensor } from "@lossforge/core";
 * const model = gpt({ vocab: 32, context: 16, layers: 2, dim: 16, heads: 4 });
 * const params = model.init(rng(0));
 * console.log(model.apply(params, tensor([[1, 2, 3]], { dtype: "int32" })).shape); // [1, 3, 32]
 * ```
 */
export function gpt(config: GptConfig): LanguageModel<GptParams> {
  const { vocab, context, layers, dim, heads } = config;
  const hidden = config.hidden ?? 4 * dim;
  const eps = config.normEps ?? 1e-5, rate = config.dropout ?? 0;
  const std = config.initStd ?? 0.02, dtype = config.dtype;
  // GPT-2 scales the init of projections into the residual stream by 1/√(2·layers).
  const projStd = std / Math.sqrt(2 * layers);
  const block = gpt2Block({ dim, heads, hidden, normEps: eps, dropout: rate, std, projStd, dtype });
  const norm = layerNorm({ dim, eps, dtype });

  const linears: LinearInfo[] = [];
  for (let i = 0; i < layers; i++) {
    const at = `transformer.h.${i}`;
    linears.push(
      { name: `${at}.attn.c_attn`, inDim: dim, outDim: 3 * dim, layout: "in_out" },
      { name: `${at}.attn.c_proj`, inDim: dim, outDim: dim, layout: "in_out" },
      { name: `${at}.mlp.c_fc`, inDim: dim, outDim: hidden, layout: "in_out" },
      { name: `${at}.mlp.c_proj`, inDim: hidden, outDim: dim, layout: "in_out" },
    );
  }

  const shapes: Record<string, number[]> = {
    "transformer.wte.weight": [vocab, dim],
    "transformer.wpe.weight": [context, dim],
  };
  const vector = (name: string, n: number) => (shapes[name] = [n]);
  for (let i = 0; i < layers; i++) {
    const at = `transformer.h.${i}`;
    for (const ln of ["ln_1", "ln_2"]) {
      vector(`${at}.${ln}.weight`, dim);
      vector(`${at}.${ln}.bias`, dim);
    }
  }
  for (const l of linears) {
    shapes[`${l.name}.weight`] = [l.inDim, l.outDim];
    vector(`${l.name}.bias`, l.outDim);
  }
  vector("transformer.ln_f.weight", dim);
  vector("transformer.ln_f.bias", dim);

  const forward = (
    params: GptParams,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const tr = params.transformer;
    checkLayers("gpt", tr.h, layers);
    const [, t] = ids.shape;
    const past = ctx.cache?.length ?? 0;
    if (past + t > context) {
      throw new ValueError(
        `gpt: ${past + t} positions exceed the context of ${context} learned positions`,
      );
    }
    const wte = tr.wte.weight;
    const positions = tr.wpe.weight.take(positionsFor(ids, past, ctx));
    const x = applyDropout(wte.take(ids).add(positions), rate, ctx);
    const out = decoderLayers(block, tr.h, x, ctx, "transformer.h");
    const h = layerNormForward(tr.ln_f, out.x, eps);
    // The head is tied to the token embedding, stored [vocab, dim]: logits = x · wteᵀ.
    const logits = matmul(h, wte, { transposeB: true });
    return { logits, cache: out.cache };
  };

  return {
    kind: "gpt",
    vocab,
    layers,
    context,
    linears,
    shapes,
    config: {
      architecture: "GPT2LMHeadModel",
      modelType: "gpt2",
      vocab,
      dim,
      layers,
      heads,
      kvHeads: heads,
      headDim: dim / heads,
      hidden,
      context,
      ropeTheta: 0,
      normEps: eps,
      tieEmbeddings: true,
      qkvBias: true,
      // The tanh approximation, which transformers calls gelu_new.
      activation: "gelu_new",
    },
    init(rng: Rng): GptParams {
      const wte = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const wpe = { weight: randn([context, dim], { rng, std: 0.01, dtype }) };
      const h: GptLayerParams[] = [];
      for (let i = 0; i < layers; i++) h.push(block.init(rng));
      return { transformer: { wte, wpe, h, ln_f: norm.init(rng) } };
    },
    apply: (params: GptParams, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}
