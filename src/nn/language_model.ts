/**
 * The contract every causal language model here meets (`gpt`, `llama`, `gptNeoX`,
 * `stableLm`, `falcon`, and LoRA-wrapped ones), and the pieces of a forward pass they share:
 * positions from an attention mask (left padding), the additive causal + padding mask, the
 * stack of blocks.
 * @module
 */
import {
  arange,
  cast,
  cumsum,
  maximum,
  type Rng,
  slice,
  type Tensor,
  ValueError,
} from "../autograd/mod.ts";
import type { AttentionContext, AttentionOutput, LayerCache } from "./attention.ts";
import type { HfModelConfig } from "./hf_config.ts";
import { constantLike, type ForwardContext, type Module } from "./module.ts";
import type { ParamTree } from "./params.ts";
import type { WeightLayout } from "./linear.ts";
import type { RopeTables } from "./rope.ts";

/**
 * The keys and values of every layer for the positions processed so far.
 *
 * @example
 * ```ts
 * import { type KVCache, llama, rng, tensor } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * const params = model.init(rng(0));
 * const cache: KVCache = model.forward(params, tensor([[1, 2, 3]], { dtype: "int32" })).cache;
 * // The next token reads the three cached positions instead of recomputing them.
 * const step = model.forward(params, tensor([[4]], { dtype: "int32" }), { cache });
 * console.log(cache.length, step.cache.length, step.logits.shape); // 3 4 [1, 1, 32]
 * ```
 */
export interface KVCache {
  /** One entry per layer. */
  layers: readonly LayerCache[];
  /** Number of positions cached. */
  length: number;
}

/**
 * Options of a language model's forward pass.
 *
 * @example
 * ```ts
 * import { llama, type LmContext, rng, tensor } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * // Two sequences, the first left-padded by one token (it gets positions 0, 1 as if alone).
 * const ctx: LmContext = { attentionMask: tensor([[0, 1, 1], [1, 1, 1]], { dtype: "int32" }) };
 * const ids = tensor([[0, 5, 6], [4, 5, 6]], { dtype: "int32" });
 * console.log(model.apply(model.init(rng(0)), ids, ctx).shape); // [2, 3, 32]
 * ```
 */
export interface LmContext extends ForwardContext {
  /**
   * `[B, past + T]`, 1 for real tokens and 0 for padding (over the cached positions too).
   * Positions count real tokens only, so left-padded prompts get the positions they would
   * have alone.
   */
  attentionMask?: Tensor;
  /** Explicit int32 positions `[B or 1, T]` (overrides those derived from the mask). */
  positions?: Tensor;
  /** Keys and values of earlier positions (generation). */
  cache?: KVCache;
}

/**
 * A projection a model applies, by Hugging Face module name (LoRA targets these).
 *
 * @example
 * ```ts
 * import { type LinearInfo, llama } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * const q: LinearInfo = model.linears[0];
 * console.log(q.name, q.inDim, q.outDim, q.layout);
 * // "model.layers.0.self_attn.q_proj" 16 16 "out_in"
 * ```
 */
export interface LinearInfo {
  /** Module name; its weight is `${name}.weight`. */
  name: string;
  /** Input features. */
  inDim: number;
  /** Output features. */
  outDim: number;
  /** How its weight is stored. */
  layout: WeightLayout;
}

/**
 * A causal language model: `apply(params, ids)` maps int32 ids `[B, T]` to logits
 * `[B, T, vocab]`; `forward` also returns the key/value cache.
 *
 * @example
 * ```ts
 * import { llama, rng, tensor } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, kvHeads: 1, hidden: 32 });
 * const params = model.init(rng(0));
 * const logits = model.apply(params, tensor([[1, 2, 3]], { dtype: "int32" }));
 * console.log(logits.shape); // [1, 3, 32]
 * ```
 */
export interface LanguageModel<P extends ParamTree = ParamTree> {
  /** Which family. */
  readonly kind: "gpt" | "llama" | "gptneox" | "stablelm" | "falcon";
  /** Vocabulary size. */
  readonly vocab: number;
  /** Number of transformer blocks. */
  readonly layers: number;
  /** Longest context (learned positions cannot go further). */
  readonly context: number;
  /** Every named projection (for LoRA). */
  readonly linears: readonly LinearInfo[];
  /** The shape of every parameter, by Hugging Face name (for checking loaded weights). */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /**
   * The model's hyperparameters as a Hugging Face config (normalised): what
   * `savePretrained` writes as `config.json`. `gpt`, `llama` and `loadPretrained` set it
   * (a loaded model keeps its folder's config, token ids included).
   */
  readonly config?: HfModelConfig;
  /** Fresh parameters. */
  init(rng: Rng): P;
  /** Logits `[B, T, vocab]`. */
  apply(params: P, ids: Tensor, ctx?: LmContext): Tensor;
  /** Logits and the cache extended by these positions. */
  forward(params: P, ids: Tensor, ctx?: LmContext): { logits: Tensor; cache: KVCache };
}

/**
 * Positions `[B or 1, T]` of `T` new tokens after `past` cached ones: explicit, derived from
 * the attention mask (count of real tokens before each, as transformers does), or simply
 * past..past+T-1.
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * import { positionsFor } from "./language_model.ts";
 * const ids = tensor([[0, 5, 6]], { dtype: "int32" });
 * const mask = tensor([[0, 1, 1]], { dtype: "int32" });
 * console.log(await positionsFor(ids, 0, { attentionMask: mask }).data()); // [0, 0, 1]
 * ```
 */
export function positionsFor(ids: Tensor, past: number, ctx: LmContext): Tensor {
  if (ctx.positions) return ctx.positions;
  const t = ids.shape[1];
  const mask = ctx.attentionMask;
  if (!mask) {
    return arange(past, past + t, 1, { backend: ids.backend.name }).reshape([1, t]);
  }
  if (mask.rank !== 2 || mask.shape[1] !== past + t || mask.shape[0] !== ids.shape[0]) {
    throw new ValueError(
      `attentionMask: expected shape [${ids.shape[0]},${past + t}] (batch, cached + new), got [${
        mask.shape.join(",")
      }]`,
    );
  }
  const counted = cumsum(cast(mask, "int32"), -1).sub(1);
  // Padding positions get 0 rather than -1; their outputs are never used.
  return slice(maximum(counted, 0), [0, past]);
}

/** A large negative number instead of -Infinity, so fully masked rows stay finite. */
const MASKED = -1e9;

/**
 * The additive attention mask `[B or 1, 1, T, past + T]`: query i sees keys up to past + i,
 * minus padded keys. Undefined when nothing is masked (one new token, no padding).
 *
 * @example
 * ```ts
 * import { tensor } from "@lossforge/core";
 * import { attentionBias } from "./language_model.ts";
 * console.log(attentionBias(3, 0, tensor([0]))?.shape); // [1, 1, 3, 3]
 * ```
 */
export function attentionBias(
  t: number,
  past: number,
  like: Tensor,
  attentionMask?: Tensor,
): Tensor | undefined {
  const tk = past + t;
  let bias: Tensor | undefined;
  if (t > 1) {
    const causal = new Float32Array(t * tk);
    for (let i = 0; i < t; i++) {
      for (let j = past + i + 1; j < tk; j++) causal[i * tk + j] = MASKED;
    }
    bias = constantLike(causal, [1, 1, t, tk], like);
  }
  if (attentionMask) {
    const b = attentionMask.shape[0];
    const pad = cast(attentionMask, like.dtype).sub(1).mul(-MASKED).reshape([b, 1, 1, tk]);
    bias = bias ? bias.add(pad) : pad;
  }
  return bias;
}

/** Throws unless a `model`'s parameters hold the `layers` blocks its config says. */
export function checkLayers(model: string, params: readonly unknown[], layers: number): void {
  if (params.length !== layers) {
    throw new ValueError(`${model}: params have ${params.length} layers, config says ${layers}`);
  }
}

/**
 * The stack of a decoder model: `block` applied to the embedded positions `x` `[B, T, D]`
 * with each layer's parameters in turn (layer i named `${prefix}.${i}`), attending causally
 * under the mask of `attentionBias` (and with `rope` where given), each layer continuing
 * from its entry of `ctx.cache`. Returns the stack's output and the cache extended by these
 * positions.
 */
export function decoderLayers<P extends ParamTree>(
  block: Module<P, Tensor, AttentionOutput, AttentionContext>,
  params: readonly P[],
  x: Tensor,
  ctx: LmContext,
  prefix: string,
  rope?: RopeTables,
): { x: Tensor; cache: KVCache } {
  const t = x.shape[1];
  const past = ctx.cache?.length ?? 0;
  const mask = attentionBias(t, past, x, ctx.attentionMask);
  const caches: LayerCache[] = [];
  for (let i = 0; i < params.length; i++) {
    const a = block.apply(params[i], x, {
      ...ctx,
      prefix: `${prefix}.${i}`,
      mask,
      causal: true,
      rope,
      past: ctx.cache?.layers[i],
    });
    caches.push(a.cache);
    x = a.out;
  }
  return { x, cache: { layers: caches, length: past + t } };
}
