/**
 * Inverted dropout with masks drawn from an explicit seeded generator, so a training run
 * is reproducible by seed (and identical after a resume that restores the generator).
 * @module
 */
import { rand, type Tensor, ValueError } from "../autograd/mod.ts";
import type { ForwardContext, Module } from "./module.ts";

/**
 * Zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate) when
 * `ctx.training`; otherwise returns `x` unchanged.
 *
 * @example
 * ```ts
 * import { applyDropout, ones, rng } from "@lossforge/core";
 * const y = applyDropout(ones([4]), 0.5, { training: true, rng: rng(0) });
 * console.log(await y.data()); // each 0 or 2
 * ```
 */
export function applyDropout(x: Tensor, rate: number, ctx: ForwardContext = {}): Tensor {
  if (!ctx.training || rate === 0) return x;
  if (!(rate >= 0 && rate < 1)) {
    throw new ValueError(`dropout: rate must be in [0, 1), got ${rate}`);
  }
  if (!ctx.rng) {
    throw new ValueError("dropout: training with dropout needs ctx.rng (a seeded generator)");
  }
  const u = rand(x.shape, { rng: ctx.rng, dtype: x.dtype, backend: x.backend.name });
  const keep = u.ge(rate);
  return x.mul(keep).mul(1 / (1 - rate));
}

/**
 * Dropout as a parameterless module.
 *
 * @example
 * ```ts
 * import { dropout, ones, rng } from "@lossforge/core";
 * const d = dropout(0.1);
 * const y = d.apply({}, ones([10000]), { training: true, rng: rng(0) });
 * console.log(await y.mean().item()); // ≈ 1: the kept 90% are scaled by 1 / 0.9
 * console.log(await d.apply({}, ones([3])).data()); // [1, 1, 1]: off outside training
 * ```
 */
export function dropout(rate: number): Module<Record<string, never>> {
  return {
    init: (): Record<string, never> => ({}),
    apply: (_p: Record<string, never>, x: Tensor, ctx?: ForwardContext): Tensor =>
      applyDropout(x, rate, ctx),
  };
}
