/**
 * Token (or position) embeddings: a `[vocab, dim]` table indexed by int32 ids.
 * @module
 */
import { type DType, embedding as lookup, randn, type Rng, type Tensor } from "../autograd/mod.ts";
import type { Module } from "./module.ts";

/**
 * An embedding table's parameters.
 *
 * @example
 * ```ts
 * import { embeddingLayer, type EmbeddingParams, rng } from "@lossforge/core";
 * const p: EmbeddingParams = embeddingLayer({ vocab: 10, dim: 4 }).init(rng(0));
 * console.log(p.weight.shape); // [10, 4]: one row per token id
 * ```
 */
export type EmbeddingParams = { weight: Tensor };

/**
 * An embedding layer: ids of any shape `[...]` give vectors `[..., dim]`.
 *
 * @example
 * ```ts
 * import { embeddingLayer, rng, tensor } from "@lossforge/core";
 * const emb = embeddingLayer({ vocab: 10, dim: 4 });
 * const ids = tensor([[1, 2, 3]], { dtype: "int32" });
 * console.log(emb.apply(emb.init(rng(0)), ids).shape); // [1, 3, 4]
 * ```
 */
export function embeddingLayer(
  opts: { vocab: number; dim: number; std?: number; dtype?: DType },
): Module<EmbeddingParams> {
  return {
    init: (rng: Rng): EmbeddingParams => ({
      weight: randn([opts.vocab, opts.dim], { rng, std: opts.std ?? 0.02, dtype: opts.dtype }),
    }),
    apply: (params: EmbeddingParams, ids: Tensor): Tensor => lookup(params.weight, ids),
  };
}
