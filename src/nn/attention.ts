/**
 * Causal multi-head self-attention with grouped-query heads (several query heads share one
 * key/value head, as Llama 2/3, SmolLM and Qwen2), optional rotary embeddings and a
 * key/value cache for generation. Two parameter layouts: Llama's separate
 * `q_proj/k_proj/v_proj/o_proj` and GPT-2's fused `c_attn` + `c_proj` (Conv1D).
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
 * Llama-style attention parameters (biases on q/k/v for Qwen2).
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
  return {
    init: (rng: Rng): AttentionParams => ({
      q_proj: proj(rng, opts.dim, heads * headDim, !!opts.qkvBias),
      k_proj: proj(rng, opts.dim, kvHeads * headDim, !!opts.qkvBias),
      v_proj: proj(rng, opts.dim, kvHeads * headDim, !!opts.qkvBias),
      o_proj: proj(rng, heads * headDim, opts.dim, false),
    }),
    apply: (p: AttentionParams, x: Tensor, ctx: AttentionContext = {}): AttentionOutput => {
      let q = splitHeads(project(p.q_proj, x, layout, "q_proj", ctx), heads);
      let k = splitHeads(project(p.k_proj, x, layout, "k_proj", ctx), kvHeads);
      const v = splitHeads(project(p.v_proj, x, layout, "v_proj", ctx), kvHeads);
      if (ctx.rope) {
        q = applyRope(q, ctx.rope);
        k = applyRope(k, ctx.rope);
      }
      const cache = extend(ctx.past, k, v);
      const rate = opts.dropout ?? 0;
      const mixed = attend(q, cache.k, cache.v, ctx.mask, rate, ctx, ctx.causal);
      const out = applyDropout(project(p.o_proj, mixed, layout, "o_proj", ctx), rate, ctx);
      return { out, cache };
    },
  };
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
      const q = splitHeads(part(0), heads);
      const cache = extend(ctx.past, splitHeads(part(1), heads), splitHeads(part(2), heads));
      const rate = opts.dropout ?? 0;
      const mixed = attend(q, cache.k, cache.v, ctx.mask, rate, ctx, ctx.causal);
      const out = applyDropout(project(p.c_proj, mixed, layout, "c_proj", ctx), rate, ctx);
      return { out, cache };
    },
  };
}
