/**
 * `fusedAdamw`, another name for `adamw`: the fused one-kernel WebGPU update is chosen inside
 * `adamw` by the fused policy, so one optimizer serves both names.
 * @module
 */
import { type AdamOptions, adamw } from "./adam.ts";
import type { Optimizer } from "./types.ts";

/**
 * An alias of `adamw` (same options and results): on WebGPU each float32 tensor's update is
 * one fused kernel while the fused policy allows it (`LOSSFORGE_FUSED=0` composes it).
 *
 * @example
 * ```ts
 * import { fusedAdamw, tensor } from "@lossforge/core";
 * const opt = fusedAdamw({ lr: 1e-3, weightDecay: 0.1 });
 * const params = { w: tensor([1, 2]) };
 * const { params: next } = opt.update({ w: tensor([0.1, 0.2]) }, opt.init(params), params);
 * console.log(await next.w.array()); // ≈ [0.9990, 1.9988]: as adamw
 * ```
 */
export function fusedAdamw(opts: AdamOptions = {}): Optimizer {
  return adamw(opts);
}
