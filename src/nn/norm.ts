/**
 * Normalisation layers over the last axis: LayerNorm (GPT-2, GPT-NeoX, StableLM, Falcon),
 * RMSNorm (Llama, Qwen2) and StableLM's per-head LayerNorms of queries and keys, written in
 * the same order of operations as Hugging Face so float32 results agree.
 * @module
 */
import {
  concat,
  type DType,
  fusedLayerNorm,
  ones,
  type Tensor,
  ValueError,
  zeros,
} from "../autograd/mod.ts";
import type { Module } from "./module.ts";

/**
 * LayerNorm parameters.
 *
 * @example
 * ```ts
 * import { layerNorm, type LayerNormParams, rng } from "@lossforge/core";
 * const p: LayerNormParams = layerNorm({ dim: 4 }).init(rng(0));
 * console.log(await p.weight.data(), await p.bias.data()); // [1, 1, 1, 1] [0, 0, 0, 0]
 * ```
 */
export type LayerNormParams = { weight: Tensor; bias: Tensor };

/**
 * RMSNorm parameters.
 *
 * @example
 * ```ts
 * import { rmsNorm, type RmsNormParams, rng } from "@lossforge/core";
 * const p: RmsNormParams = rmsNorm({ dim: 4 }).init(rng(0));
 * console.log(await p.weight.data()); // [1, 1, 1, 1]
 * ```
 */
export type RmsNormParams = { weight: Tensor };

/**
 * (x - mean) / sqrt(var + eps) · weight + bias over the last axis (biased variance, as
 * torch).
 *
 * @example
 * ```ts
 * import { layerNormForward, ones, tensor, zeros } from "@lossforge/core";
 * const y = layerNormForward({ weight: ones([2]), bias: zeros([2]) }, tensor([[1, 3]]), 1e-5);
 * console.log(await y.data()); // ≈ [-1, 1]
 * ```
 */
export function layerNormForward(p: LayerNormParams, x: Tensor, eps: number): Tensor {
  // One fused op where the backend has it; the composed formula otherwise (same values).
  return fusedLayerNorm(x, p.weight, p.bias, eps);
}

/**
 * x / sqrt(mean(x²) + eps) · weight over the last axis.
 *
 * @example
 * ```ts
 * import { ones, rmsNormForward, tensor } from "@lossforge/core";
 * const y = rmsNormForward({ weight: ones([2]) }, tensor([[3, 4]]), 0);
 * console.log(await y.data()); // ≈ [0.8485, 1.1314]
 * ```
 */
export function rmsNormForward(p: RmsNormParams, x: Tensor, eps: number): Tensor {
  const variance = x.square().mean(-1, true);
  return p.weight.mul(x.mul(variance.add(eps).rsqrt()));
}

/**
 * A LayerNorm layer (weight ones, bias zeros).
 *
 * @example
 * ```ts
 * import { layerNorm, randn, rng } from "@lossforge/core";
 * const ln = layerNorm({ dim: 4 });
 * console.log(ln.apply(ln.init(rng(0)), randn([2, 4])).shape); // [2, 4]
 * ```
 */
export function layerNorm(
  opts: { dim: number; eps?: number; dtype?: DType },
): Module<LayerNormParams> {
  const eps = opts.eps ?? 1e-5;
  return {
    init: (): LayerNormParams => ({
      weight: ones([opts.dim], { dtype: opts.dtype }),
      bias: zeros([opts.dim], { dtype: opts.dtype }),
    }),
    apply: (p: LayerNormParams, x: Tensor): Tensor => layerNormForward(p, x, eps),
  };
}

/**
 * An RMSNorm layer (weight ones).
 *
 * @example
 * ```ts
 * import { randn, rmsNorm, rng } from "@lossforge/core";
 * const norm = rmsNorm({ dim: 4, eps: 1e-6 });
 * console.log(norm.apply(norm.init(rng(0)), randn([2, 4])).shape); // [2, 4]
 * ```
 */
export function rmsNorm(opts: { dim: number; eps?: number; dtype?: DType }): Module<RmsNormParams> {
  const eps = opts.eps ?? 1e-6;
  return {
    init: (): RmsNormParams => ({ weight: ones([opts.dim], { dtype: opts.dtype }) }),
    apply: (p: RmsNormParams, x: Tensor): Tensor => rmsNormForward(p, x, eps),
  };
}

/**
 * Parameters of one LayerNorm per head (StableLM's `q_layernorm` / `k_layernorm`, without
 * bias there): `norms[h]` normalises head h.
 *
 * @example
 * ```ts
 * import { perHeadLayerNorm, type PerHeadLayerNormParams, rng } from "@lossforge/core";
 * const p: PerHeadLayerNormParams = perHeadLayerNorm({ dim: 8, heads: 2 }).init(rng(0));
 * console.log(p.norms.length, p.norms[0].weight.shape); // 2 [8]
 * ```
 */
export type PerHeadLayerNormParams = { norms: { weight: Tensor; bias?: Tensor }[] };

/**
 * LayerNorm of each head of `x` `[B, H, T, d]` over d with head h's own weight (and bias):
 * StableLM's `StableLmLayerNormPerHead`.
 *
 * @example
 * ```ts
 * import { ones, perHeadLayerNormForward, randn } from "@lossforge/core";
 * const p = { norms: [{ weight: ones([4]) }, { weight: ones([4]).mul(2) }] };
 * console.log(perHeadLayerNormForward(p, randn([1, 2, 3, 4]), 1e-5).shape); // [1, 2, 3, 4]
 * ```
 */
export function perHeadLayerNormForward(
  p: PerHeadLayerNormParams,
  x: Tensor,
  eps: number,
): Tensor {
  const [, h, , d] = x.shape;
  if (x.rank !== 4 || p.norms.length !== h) {
    throw new ValueError(
      `perHeadLayerNorm: expected [B, ${p.norms.length}, T, d] heads, got [${x.shape}]`,
    );
  }
  const perHead = (pick: (n: { weight: Tensor; bias?: Tensor }) => Tensor) =>
    concat(p.norms.map((n) => pick(n).reshape([1, 1, d])), 0).reshape([1, h, 1, d]);
  const mu = x.mean(-1, true);
  const centred = x.sub(mu);
  const normed = centred.mul(centred.square().mean(-1, true).add(eps).rsqrt());
  const scaled = normed.mul(perHead((n) => n.weight));
  return p.norms[0].bias ? scaled.add(perHead((n) => n.bias!)) : scaled;
}

/**
 * One LayerNorm per head (weights ones; biases zeros when `bias`, default false).
 *
 * @example
 * ```ts
 * import { perHeadLayerNorm, randn, rng } from "@lossforge/core";
 * const norm = perHeadLayerNorm({ dim: 4, heads: 2 });
 * console.log(norm.apply(norm.init(rng(0)), randn([1, 2, 3, 4])).shape); // [1, 2, 3, 4]
 * ```
 */
export function perHeadLayerNorm(
  opts: { dim: number; heads: number; eps?: number; bias?: boolean; dtype?: DType },
): Module<PerHeadLayerNormParams> {
  const eps = opts.eps ?? 1e-5;
  return {
    init: (): PerHeadLayerNormParams => ({
      norms: Array.from({ length: opts.heads }, () => {
        const weight = ones([opts.dim], { dtype: opts.dtype });
        return opts.bias ? { weight, bias: zeros([opts.dim], { dtype: opts.dtype }) } : { weight };
      }),
    }),
    apply: (p: PerHeadLayerNormParams, x: Tensor): Tensor => perHeadLayerNormForward(p, x, eps),
  };
}
