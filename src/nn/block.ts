/**
 * Transformer blocks, pre-norm: sequential as in GPT-2 and Llama (x + attn(norm₁(x)), then
 * that plus mlp(norm₂(·))) or parallel as GPT-NeoX, StableLM and Falcon may be
 * (x + attn(norm₁(x)) + mlp(norm₂(x)), norm₂ being norm₁ where the family shares one). Each
 * returns its output and the layer's key/value cache.
 * @module
 */
import { type DType, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import {
  type AttentionContext,
  type AttentionOutput,
  type AttentionParams,
  causalSelfAttention,
  fusedQkvAttention,
  type FusedQkvAttentionParams,
  gpt2Attention,
  type Gpt2AttentionParams,
} from "./attention.ts";
import { joinName, type Module } from "./module.ts";
import type { ParamTree } from "./params.ts";
import {
  denseMlp,
  type DenseMlpParams,
  gatedMlp,
  type GatedMlpParams,
  mlp,
  type MlpParams,
} from "./mlp.ts";
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
  const layer = residualLayer(rmsNormForward, eps, attn, "self_attn", ffn, false);
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
  const layer = residualLayer(layerNormForward, eps, attn, "attn", ffn, false);
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
 * One GPT-NeoX block's parameters (Pythia, RedPajama-INCITE).
 *
 * @example
 * ```ts
 * import { gptNeoXBlock, type GptNeoXLayerParams, rng } from "@lossforge/core";
 * const p: GptNeoXLayerParams = gptNeoXBlock({ dim: 8, heads: 2, hidden: 32 }).init(rng(0));
 * console.log(Object.keys(p));
 * // ["input_layernorm", "post_attention_layernorm", "attention", "mlp"]
 * ```
 */
export type GptNeoXLayerParams = {
  input_layernorm: LayerNormParams;
  post_attention_layernorm: LayerNormParams;
  attention: FusedQkvAttentionParams;
  mlp: DenseMlpParams;
};

/**
 * A GPT-NeoX block: LayerNorms, per-head fused-qkv attention (rotary from the context), a
 * two-layer MLP; residual parallel (`use_parallel_residual`, the default: each branch has its
 * own LayerNorm of x) or sequential.
 *
 * @example
 * ```ts
 * import { gptNeoXBlock, randn, rng } from "@lossforge/core";
 * const block = gptNeoXBlock({ dim: 8, heads: 2, hidden: 32, parallelResidual: false });
 * console.log(block.apply(block.init(rng(0)), randn([1, 3, 8])).out.shape); // [1, 3, 8]
 * ```
 */
export function gptNeoXBlock(opts: {
  dim: number;
  heads: number;
  hidden: number;
  normEps?: number;
  /** Parallel residual (default true). */
  parallelResidual?: boolean;
  /** Biases on `query_key_value` and `dense` (`attention_bias`, default true). */
  attentionBias?: boolean;
  /** MLP activation (default `geluExact`). */
  activation?: (x: Tensor) => Tensor;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<GptNeoXLayerParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, dtype, std } = opts;
  const eps = opts.normEps ?? 1e-5, bias = opts.attentionBias ?? true;
  const attn = fusedQkvAttention({ ...opts, qkvBias: bias, outBias: bias });
  const ffn = denseMlp({ ...opts, bias: true, std });
  const norm = layerNorm({ dim, eps, dtype });
  const parallel = opts.parallelResidual ?? true;
  const layer = residualLayer(layerNormForward, eps, attn, "attention", ffn, parallel);
  return {
    init: (rng: Rng): GptNeoXLayerParams => ({
      input_layernorm: norm.init(rng),
      post_attention_layernorm: norm.init(rng),
      attention: attn.init(rng),
      mlp: ffn.init(rng),
    }),
    apply: (p: GptNeoXLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput =>
      layer(p.input_layernorm, p.attention, p.post_attention_layernorm, p.mlp, x, ctx),
  };
}

/**
 * One StableLM block's parameters (`post_attention_layernorm` only with a sequential
 * residual; `self_attn.q_layernorm` / `k_layernorm` with `qk_layernorm`).
 *
 * @example
 * ```ts
 * import { rng, stableLmBlock, type StableLmLayerParams } from "@lossforge/core";
 * const p: StableLmLayerParams = stableLmBlock({ dim: 8, heads: 2, hidden: 16 }).init(rng(0));
 * console.log(Object.keys(p));
 * // ["self_attn", "mlp", "input_layernorm", "post_attention_layernorm"]
 * ```
 */
export type StableLmLayerParams = {
  self_attn: AttentionParams;
  mlp: GatedMlpParams;
  input_layernorm: LayerNormParams;
  post_attention_layernorm?: LayerNormParams;
};

/**
 * A StableLM block: LayerNorm, rotary grouped-query attention with Llama's names (optional
 * per-head q/k LayerNorms and qkv biases), a SwiGLU MLP; residual sequential (default) or
 * parallel with both branches reading the one input LayerNorm (`use_parallel_residual`).
 *
 * @example
 * ```ts
 * import { randn, rng, stableLmBlock } from "@lossforge/core";
 * const block = stableLmBlock({ dim: 8, heads: 2, kvHeads: 1, hidden: 16, qkNorm: true });
 * console.log(block.apply(block.init(rng(0)), randn([1, 3, 8])).out.shape); // [1, 3, 8]
 * ```
 */
export function stableLmBlock(opts: {
  dim: number;
  heads: number;
  kvHeads?: number;
  hidden: number;
  normEps?: number;
  qkvBias?: boolean;
  qkNorm?: boolean;
  /** Parallel residual (default false). */
  parallelResidual?: boolean;
  /** Gate activation of the MLP (default SiLU). */
  activation?: (x: Tensor) => Tensor;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<StableLmLayerParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, dtype } = opts;
  const eps = opts.normEps ?? 1e-5, parallel = opts.parallelResidual ?? false;
  const attn = causalSelfAttention({ ...opts, normEps: eps });
  const ffn = gatedMlp(opts);
  const norm = layerNorm({ dim, eps, dtype });
  const layer = residualLayer(layerNormForward, eps, attn, "self_attn", ffn, parallel);
  return {
    init: (rng: Rng): StableLmLayerParams => {
      const p = { self_attn: attn.init(rng), mlp: ffn.init(rng), input_layernorm: norm.init(rng) };
      return parallel ? p : { ...p, post_attention_layernorm: norm.init(rng) };
    },
    apply: (p: StableLmLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput =>
      layer(p.input_layernorm, p.self_attn, p.post_attention_layernorm, p.mlp, x, ctx),
  };
}

/**
 * One Falcon block's parameters: `input_layernorm` (and `post_attention_layernorm` with a
 * sequential residual), or `ln_attn` and `ln_mlp` for a parallel block with two LayerNorms.
 *
 * @example
 * ```ts
 * import { falconBlock, type FalconLayerParams, rng } from "@lossforge/core";
 * const p: FalconLayerParams = falconBlock({ dim: 8, heads: 2, kvHeads: 1 }).init(rng(0));
 * console.log(Object.keys(p)); // ["self_attention", "mlp", "input_layernorm"]
 * ```
 */
export type FalconLayerParams = {
  self_attention: FusedQkvAttentionParams;
  mlp: DenseMlpParams;
  input_layernorm?: LayerNormParams;
  post_attention_layernorm?: LayerNormParams;
  ln_attn?: LayerNormParams;
  ln_mlp?: LayerNormParams;
};

/**
 * A Falcon block: LayerNorm(s), grouped fused-qkv rotary attention (kvHeads 1 is
 * `multi_query`), a two-layer MLP. Parallel (`parallel_attn`, the default) with one shared
 * LayerNorm, or with two (`parallelNorms: 2`: Falcon-40B's `ln_attn`, `ln_mlp`); or
 * sequential with `input_layernorm` and `post_attention_layernorm`.
 *
 * @example
 * ```ts
 * import { falconBlock, randn, rng } from "@lossforge/core";
 * const block = falconBlock({ dim: 16, heads: 4, kvHeads: 2, parallelNorms: 2 });
 * console.log(block.apply(block.init(rng(0)), randn([1, 3, 16])).out.shape); // [1, 3, 16]
 * ```
 */
export function falconBlock(opts: {
  dim: number;
  heads: number;
  kvHeads?: number;
  /** MLP width (default 4·dim). */
  hidden?: number;
  normEps?: number;
  /** Biases on every projection (`bias`, default false). */
  bias?: boolean;
  /** Parallel attention and MLP (default true). */
  parallelResidual?: boolean;
  /** LayerNorms of a parallel block: 1 shared (default) or 2, one per branch. */
  parallelNorms?: 1 | 2;
  /** MLP activation (default `geluExact`). */
  activation?: (x: Tensor) => Tensor;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<FalconLayerParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, dtype } = opts;
  const eps = opts.normEps ?? 1e-5, parallel = opts.parallelResidual ?? true;
  const two = parallel && opts.parallelNorms === 2;
  const attn = fusedQkvAttention({ ...opts, qkvBias: opts.bias, outBias: opts.bias });
  const ffn = denseMlp({ ...opts, hidden: opts.hidden ?? 4 * dim, bias: !!opts.bias });
  const norm = layerNorm({ dim, eps, dtype });
  const layer = residualLayer(layerNormForward, eps, attn, "self_attention", ffn, parallel);
  const missing = (name: string): never => {
    throw new ValueError(`falconBlock: params lack ${name}`);
  };
  return {
    init: (rng: Rng): FalconLayerParams => {
      const p = { self_attention: attn.init(rng), mlp: ffn.init(rng) };
      if (two) return { ...p, ln_attn: norm.init(rng), ln_mlp: norm.init(rng) };
      const input_layernorm = norm.init(rng);
      if (parallel) return { ...p, input_layernorm };
      return { ...p, input_layernorm, post_attention_layernorm: norm.init(rng) };
    },
    apply: (p: FalconLayerParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      const n1 = (two ? p.ln_attn : p.input_layernorm) ??
        missing(two ? "ln_attn" : "input_layernorm");
      const n2 = two ? p.ln_mlp ?? missing("ln_mlp") : p.post_attention_layernorm;
      return layer(n1, p.self_attention, n2, p.mlp, x, ctx);
    },
  };
}

/**
 * The pre-norm residual layer every family shares, each sublayer named under the context's
 * prefix (`attnName`, "mlp"). Sequential: x + attn(norm(n1, x)), then that plus
 * mlp(norm(n2, ·)). Parallel: x + attn(norm(n1, x)) + mlp(norm(n2, x)), reusing norm(n1, x)
 * when n2 is undefined.
 */
function residualLayer<N, A extends ParamTree, M extends ParamTree>(
  norm: (p: N, x: Tensor, eps: number) => Tensor,
  eps: number,
  attn: Module<A, Tensor, AttentionOutput, AttentionContext>,
  attnName: string,
  ffn: Module<M, Tensor, Tensor, AttentionContext>,
  parallel: boolean,
): (n1: N, a: A, n2: N | undefined, m: M, x: Tensor, ctx: AttentionContext) => AttentionOutput {
  return (n1, a, n2, m, x, ctx) => {
    const h = norm(n1, x, eps);
    const att = attn.apply(a, h, { ...ctx, prefix: joinName(ctx.prefix, attnName) });
    const mlpCtx = { ...ctx, prefix: joinName(ctx.prefix, "mlp") };
    if (parallel) {
      const h2 = n2 === undefined ? h : norm(n2, x, eps);
      return { out: x.add(att.out).add(ffn.apply(m, h2, mlpCtx)), cache: att.cache };
    }
    if (n2 === undefined) throw new ValueError(`${attnName} block: params lack its second norm`);
    const mid = x.add(att.out);
    const out = mid.add(ffn.apply(m, norm(n2, mid, eps), mlpCtx));
    return { out, cache: att.cache };
  };
}
