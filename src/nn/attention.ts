/**
 * Causal multi-head self-attention with grouped-query heads (several query heads share one
 * key/value head, as Llama 2/3, SmolLM and Qwen2), optional rotary embeddings and a
 * key/value cache for generation. Three parameter layouts: Llama's separate
 * `q_proj/k_proj/v_proj/o_proj` (StableLM's too, with optional per-head q/k LayerNorms),
 * GPT-2's fused `c_attn` + `c_proj` (Conv1D), and the grouped fused `query_key_value` +
 * `dense` of GPT-NeoX and Falcon.
 * @module
 */
import {
  concat,
  type DType,
  type Rng,
  scaledDotProductAttention,
  slice,
  type Tensor,
  ValueError,
  zeros,
} from "../autograd/mod.ts";
import { composedAttention } from "../autograd/ops/attention.ts";
import { applyDropout } from "./dropout.ts";
import { initWeight, type LinearParams, project, type WeightLayout } from "./linear.ts";
import type { ForwardContext, Module } from "./module.ts";
import { perHeadLayerNorm, perHeadLayerNormForward, type PerHeadLayerNormParams } from "./norm.ts";
import { applyRope, type RopeTables } from "./rope.ts";

/**
 * One layer's cached keys and values, `[B, kvHeads, past, headDim]` (keys already rotated).
 *
 * @example
 * ```ts
 * import { causalSelfAttention, type LayerCache, randn, rng } from "@lossforge/core";
 * const attn = causalSelfAttention({ dim: 8, heads: 2 });
 * const cache: LayerCache = attn.apply(attn.init(rng(0)), randn([1, 3, 8])).cache;
 * console.log(cache.k.shape, cache.v.shape); // [1, 2, 3, 4] [1, 2, 3, 4]
 * ```
 */
export interface LayerCache {
  /** Keys. */
  k: Tensor;
  /** Values. */
  v: Tensor;
}

/**
 * What an attention layer needs besides its input.
 *
 * @example
 * ```ts
 * import { type AttentionContext, causalSelfAttention, randn, rng } from "@lossforge/core";
 * const attn = causalSelfAttention({ dim: 8, heads: 2 });
 * const params = attn.init(rng(0));
 * const first = attn.apply(params, randn([1, 3, 8]));
 * // One more position, attending to the three cached ones.
 * const ctx: AttentionContext = { past: first.cache };
 * console.log(attn.apply(params, randn([1, 1, 8]), ctx).cache.k.shape); // [1, 2, 4, 4]
 * ```
 */
export interface AttentionContext extends ForwardContext {
  /** Additive mask `[B or 1, 1, T, past + T]`: 0 where a key may be seen, very negative elsewhere. */
  mask?: Tensor;
  /** Rotary tables for the T new positions (rotary models only). */
  rope?: RopeTables;
  /** Keys and values of earlier positions. */
  past?: LayerCache;
  /**
   * The mask is (at least) causal: query i never sees keys after past + i. Fused attention
   * then skips those keys instead of reading them masked (about half its work).
   */
  causal?: boolean;
}

/**
 * An attention layer's output and its keys/values including the new positions (the cache
 * for the next step).
 *
 * @example
 * ```ts
 * import { type AttentionOutput, causalSelfAttention, randn, rng } from "@lossforge/core";
 * const attn = causalSelfAttention({ dim: 8, heads: 2 });
 * const { out, cache }: AttentionOutput = attn.apply(attn.init(rng(0)), randn([1, 3, 8]));
 * console.log(out.shape, cache.k.shape); // [1, 3, 8] [1, 2, 3, 4]
 * ```
 */
export interface AttentionOutput {
  /** `[B, T, dim]`. */
  out: Tensor;
  /** Keys and values of all positions so far. */
  cache: LayerCache;
}

/**
 * Splits `[B, T, heads·headDim]` into heads `[B, heads, T, headDim]`.
 *
 * @example
 * ```ts
 * import { splitHeads, zeros } from "@lossforge/core";
 * console.log(splitHeads(zeros([2, 5, 12]), 3).shape); // [2, 3, 5, 4]
 * ```
 */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, d] = x.shape;
  return x.reshape([b, t, heads, d / heads]).permute([0, 2, 1, 3]);
}

/**
 * softmax(q kᵀ / √d + mask) v for q `[B, H, T, d]` and k, v `[B, Hkv, Tk, d]` with H a
 * multiple of Hkv; returns `[B, T, H·d]`. Query head h reads key/value head ⌊h / (H/Hkv)⌋
 * (torch's `repeat_interleave`). Without dropout this is `scaledDotProductAttention` (flash
 * style on WebGPU: no `[B, H, T, Tk]` scores in memory); with dropout on the probabilities
 * it is the composed form, each group of query heads folded into the row axis so keys and
 * values are never copied per head. `causal`: query i sees keys up to i + (Tk − T) only.
 *
 * @example
 * ```ts
 * import { attend, randn } from "@lossforge/core";
 * const q = randn([1, 4, 3, 8]), kv = randn([1, 2, 3, 8]);
 * console.log(attend(q, kv, kv).shape); // [1, 3, 32]
 * ```
 */
export function attend(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask?: Tensor,
  dropoutRate = 0,
  ctx: ForwardContext = {},
  causal = false,
): Tensor {
  const [b, h, t, d] = q.shape;
  const hkv = k.shape[1];
  if (h % hkv !== 0) {
    throw new ValueError(`attention: ${h} query heads are not a multiple of ${hkv} kv heads`);
  }
  const scale = 1 / Math.sqrt(d);
  const out = ctx.training && dropoutRate > 0
    ? composedAttention(q, k, v, mask, scale, (p) => applyDropout(p, dropoutRate, ctx), causal)
    : scaledDotProductAttention(q, k, v, { mask, scale, causal });
  return out.permute([0, 2, 1, 3]).reshape([b, t, h * v.shape[3]]);
}

/** Appends new keys/values to the cached ones along the time axis. */
function extend(past: LayerCache | undefined, k: Tensor, v: Tensor): LayerCache {
  if (!past || past.k.shape[2] === 0) return { k, v };
  return { k: concat([past.k, k], 2), v: concat([past.v, v], 2) };
}

/**
 * Llama-style attention parameters (biases on q/k/v for Qwen2; per-head q/k LayerNorms for
 * StableLM's `qk_layernorm`).
 *
 * @example
 * ```ts
 * import { type AttentionParams, causalSelfAttention, rng } from "@lossforge/core";
 * const p: AttentionParams = causalSelfAttention({ dim: 8, heads: 2 }).init(rng(0));
 * console.log(Object.keys(p)); // ["q_proj", "k_proj", "v_proj", "o_proj"]
 * ```
 */
export type AttentionParams = {
  q_proj: LinearParams;
  k_proj: LinearParams;
  v_proj: LinearParams;
  o_proj: LinearParams;
  q_layernorm?: PerHeadLayerNormParams;
  k_layernorm?: PerHeadLayerNormParams;
};

/**
 * Options of `causalSelfAttention`.
 *
 * @example
 * ```ts
 * import { causalSelfAttention, rng } from "@lossforge/core";
 * // Grouped-query attention: 8 query heads share 4 key/value heads.
 * const p = causalSelfAttention({ dim: 64, heads: 8, kvHeads: 4 }).init(rng(0));
 * console.log(p.q_proj.weight.shape, p.k_proj.weight.shape); // [64, 64] [32, 64]
 * ```
 */
export interface AttentionOptions {
  /** Model width. */
  dim: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (default `heads`; fewer gives grouped-query attention). */
  kvHeads?: number;
  /** Per-head width (default dim / heads). */
  headDim?: number;
  /** Biases on q, k and v (Qwen2). */
  qkvBias?: boolean;
  /** A LayerNorm (weight only) per query head and per key head, before rotary (StableLM). */
  qkNorm?: boolean;
  /** Epsilon of the q/k LayerNorms (default 1e-5). */
  normEps?: number;
  /** Dropout on attention probabilities and on the output. */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  std?: number;
  /** Parameter dtype. */
  dtype?: DType;
}

/**
 * Causal self-attention with Hugging Face Llama names. Rotary embeddings are applied when
 * `ctx.rope` is given; causality comes from `ctx.mask`.
 *
 * @example
 * ```ts
 * import { causalSelfAttention, randn, rng } from "@lossforge/core";
 * const attn = causalSelfAttention({ dim: 8, heads: 4, kvHeads: 2 });
 * const { out } = attn.apply(attn.init(rng(0)), randn([1, 3, 8]));
 * console.log(out.shape); // [1, 3, 8]
 * ```
 */
export function causalSelfAttention(
  opts: AttentionOptions,
): Module<AttentionParams, Tensor, AttentionOutput, AttentionContext> {
  const heads = opts.heads, kvHeads = opts.kvHeads ?? heads;
  const headDim = opts.headDim ?? opts.dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`attention: dim ${opts.dim} is not divisible by heads ${heads}`);
  }
  const layout: WeightLayout = "out_in";
  const std = opts.std ?? 0.02, dtype = opts.dtype;
  const proj = (rng: Rng, inDim: number, outDim: number, bias: boolean): LinearParams => {
    const weight = initWeight(rng, inDim, outDim, layout, std, dtype);
    return bias ? { weight, bias: zeros([outDim], { dtype }) } : { weight };
  };
  const eps = opts.normEps ?? 1e-5;
  const norm = (n: number) => perHeadLayerNorm({ dim: headDim, heads: n, eps, dtype });
  return {
    init: (rng: Rng): AttentionParams => {
      const p: AttentionParams = {
        q_proj: proj(rng, opts.dim, heads * headDim, !!opts.qkvBias),
        k_proj: proj(rng, opts.dim, kvHeads * headDim, !!opts.qkvBias),
        v_proj: proj(rng, opts.dim, kvHeads * headDim, !!opts.qkvBias),
        o_proj: proj(rng, heads * headDim, opts.dim, false),
      };
      if (!opts.qkNorm) return p;
      return { ...p, q_layernorm: norm(heads).init(rng), k_layernorm: norm(kvHeads).init(rng) };
    },
    apply: (p: AttentionParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      let q = splitHeads(project(p.q_proj, x, layout, "q_proj", ctx), heads);
      let k = splitHeads(project(p.k_proj, x, layout, "k_proj", ctx), kvHeads);
      const v = splitHeads(project(p.v_proj, x, layout, "v_proj", ctx), kvHeads);
      if (opts.qkNorm) {
        if (!p.q_layernorm || !p.k_layernorm) {
          throw new ValueError("attention: qkNorm is set but params lack q_layernorm/k_layernorm");
        }
        q = perHeadLayerNormForward(p.q_layernorm, q, eps);
        k = perHeadLayerNormForward(p.k_layernorm, k, eps);
      }
      return attendAndProject(q, k, v, p.o_proj, "o_proj", layout, opts.dropout ?? 0, ctx);
    },
  };
}

/**
 * Rotary embeddings (when `ctx.rope` is given) on q `[B, H, T, d]` and k, then attention
 * over the cached and new keys/values and the output projection `name`: the part every
 * attention layout shares once its heads are split.
 */
function attendAndProject(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  out: LinearParams,
  name: string,
  layout: WeightLayout,
  rate: number,
  ctx: AttentionContext,
): AttentionOutput {
  if (ctx.rope) {
    q = applyRope(q, ctx.rope);
    k = applyRope(k, ctx.rope);
  }
  const cache = extend(ctx.past, k, v);
  const mixed = attend(q, cache.k, cache.v, ctx.mask, rate, ctx, ctx.causal);
  return { out: applyDropout(project(out, mixed, layout, name, ctx), rate, ctx), cache };
}

/**
 * GPT-2 attention parameters: fused `c_attn` `[dim, 3·dim]` and `c_proj` `[dim, dim]`.
 *
 * @example
 * ```ts
 * import { gpt2Attention, type Gpt2AttentionParams, rng } from "@lossforge/core";
 * const p: Gpt2AttentionParams = gpt2Attention({ dim: 8, heads: 2 }).init(rng(0));
 * console.log(p.c_attn.weight.shape); // [8, 24]
 * ```
 */
export type Gpt2AttentionParams = { c_attn: LinearParams; c_proj: LinearParams };

/**
 * GPT-2's causal self-attention (learned positions live outside; no rotary embeddings).
 *
 * @example
 * ```ts
 * import { gpt2Attention, randn, rng } from "@lossforge/core";
 * const attn = gpt2Attention({ dim: 8, heads: 2 });
 * console.log(attn.apply(attn.init(rng(0)), randn([1, 3, 8])).out.shape); // [1, 3, 8]
 * ```
 */
export function gpt2Attention(opts: {
  dim: number;
  heads: number;
  dropout?: number;
  std?: number;
  projStd?: number;
  dtype?: DType;
}): Module<Gpt2AttentionParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, heads, dtype } = opts;
  if (dim % heads !== 0) {
    throw new ValueError(`attention: dim ${dim} is not divisible by heads ${heads}`);
  }
  const layout: WeightLayout = "in_out";
  const std = opts.std ?? 0.02;
  return {
    init: (rng: Rng): Gpt2AttentionParams => ({
      c_attn: {
        weight: initWeight(rng, dim, 3 * dim, layout, std, dtype),
        bias: zeros([3 * dim], { dtype }),
      },
      c_proj: {
        weight: initWeight(rng, dim, dim, layout, opts.projStd ?? std, dtype),
        bias: zeros([dim], { dtype }),
      },
    }),
    apply: (p: Gpt2AttentionParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      const qkv = project(p.c_attn, x, layout, "c_attn", ctx);
      const part = (i: number) =>
        slice(qkv, [0, 0, i * dim], [undefined, undefined, (i + 1) * dim]);
      const [q, k, v] = [0, 1, 2].map((i) => splitHeads(part(i), heads));
      return attendAndProject(q, k, v, p.c_proj, "c_proj", layout, opts.dropout ?? 0, ctx);
    },
  };
}

/**
 * Fused-qkv attention parameters of GPT-NeoX and Falcon: `query_key_value`
 * `[(heads + 2·kvHeads)·headDim, dim]` and `dense` `[dim, heads·headDim]` (`nn.Linear`).
 *
 * @example
 * ```ts
 * import { fusedQkvAttention, type FusedQkvAttentionParams, rng } from "@lossforge/core";
 * const p: FusedQkvAttentionParams = fusedQkvAttention({ dim: 8, heads: 2 }).init(rng(0));
 * console.log(p.query_key_value.weight.shape, p.dense.weight.shape); // [24, 8] [8, 8]
 * ```
 */
export type FusedQkvAttentionParams = { query_key_value: LinearParams; dense: LinearParams };

/**
 * Options of `fusedQkvAttention`.
 *
 * @example
 * ```ts
 * import { fusedQkvAttention, type FusedQkvAttentionOptions, rng } from "@lossforge/core";
 * // Falcon-7B's multi-query layout: all query heads, then one key and one value head.
 * const opts: FusedQkvAttentionOptions = { dim: 16, heads: 4, kvHeads: 1 };
 * console.log(fusedQkvAttention(opts).init(rng(0)).query_key_value.weight.shape); // [24, 16]
 * ```
 */
export interface FusedQkvAttentionOptions {
  /** Model width. */
  dim: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (default `heads`), each after its group of heads / kvHeads queries. */
  kvHeads?: number;
  /** Bias on `query_key_value` (default false). */
  qkvBias?: boolean;
  /** Bias on `dense` (default false). */
  outBias?: boolean;
  /** Dropout on attention probabilities and on the output. */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  std?: number;
  /** Parameter dtype. */
  dtype?: DType;
}

/**
 * Causal self-attention with one fused `query_key_value` projection laid out in groups, one
 * per key/value head: the group's heads / kvHeads query heads, then its key, then its value
 * (each headDim wide). With kvHeads = heads that is GPT-NeoX's per-head [q, k, v] (and
 * Falcon's with `multi_query` false), with kvHeads = 1 Falcon-7B's multi-query [q…, k, v],
 * in between Falcon-40B's `new_decoder_architecture`. Rotary embeddings apply when
 * `ctx.rope` is given (tables narrower than a head rotate its first dimensions).
 *
 * @example
 * ```ts
 * import { fusedQkvAttention, randn, rng } from "@lossforge/core";
 * const attn = fusedQkvAttention({ dim: 16, heads: 4, kvHeads: 2 });
 * const { out, cache } = attn.apply(attn.init(rng(0)), randn([1, 3, 16]));
 * console.log(out.shape, cache.k.shape); // [1, 3, 16] [1, 2, 3, 4]
 * ```
 */
export function fusedQkvAttention(
  opts: FusedQkvAttentionOptions,
): Module<FusedQkvAttentionParams, Tensor, AttentionOutput, AttentionContext> {
  const { dim, heads, dtype } = opts;
  const kvHeads = opts.kvHeads ?? heads, headDim = dim / heads;
  if (!Number.isInteger(headDim)) {
    throw new ValueError(`attention: dim ${dim} is not divisible by heads ${heads}`);
  }
  if (heads % kvHeads !== 0) {
    throw new ValueError(`attention: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  }
  const group = heads / kvHeads, fused = (heads + 2 * kvHeads) * headDim;
  const layout: WeightLayout = "out_in";
  const std = opts.std ?? 0.02;
  const proj = (rng: Rng, inDim: number, outDim: number, bias?: boolean): LinearParams => {
    const weight = initWeight(rng, inDim, outDim, layout, std, dtype);
    return bias ? { weight, bias: zeros([outDim], { dtype }) } : { weight };
  };
  return {
    init: (rng: Rng): FusedQkvAttentionParams => ({
      query_key_value: proj(rng, dim, fused, opts.qkvBias),
      dense: proj(rng, heads * headDim, dim, opts.outBias),
    }),
    apply: (
      p: FusedQkvAttentionParams,
      x: Tensor,
      ctx: AttentionContext = {},
    ): AttentionOutput => {
      const [b, t] = x.shape;
      const qkv = project(p.query_key_value, x, layout, "query_key_value", ctx)
        .reshape([b, t, kvHeads, group + 2, headDim]);
      // Slots [from, to) of every group, as heads [B, n, T, headDim].
      const slots = (from: number, to: number) =>
        slice(qkv, [0, 0, 0, from, 0], [b, t, kvHeads, to, headDim])
          .reshape([b, t, kvHeads * (to - from), headDim])
          .permute([0, 2, 1, 3]);
      const q = slots(0, group), k = slots(group, group + 1), v = slots(group + 1, group + 2);
      return attendAndProject(q, k, v, p.dense, "dense", layout, opts.dropout ?? 0, ctx);
    },
  };
}
