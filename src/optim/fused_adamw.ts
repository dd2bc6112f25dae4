/**
 * AdamW that always takes the one-kernel update (`adamw_kernel.ts`) for float32 WebGPU tensors,
 * even with fused ops turned off. Tensors elsewhere (CPU, float64) take the composed path, so
 * the optimizer works anywhere; both paths compute the same formula (see `adamwStep`).
 * @module
 */
import { adamFamily, type AdamOptions, adamwStep } from "./adam.ts";
import { adamwKernelStep } from "./adamw_kernel.ts";
import type { Optimizer } from "./types.ts";

/**
 * AdamW whose update runs as one fused kernel per tensor on WebGPU (same options and
 * results as `adamw`, within float32 rounding).
 *
 * @example
 * ```ts
 * import { fusedAdamw, setBackend, tensor } from "@lossforge/core";
 * await setBackend("webgpu");
 * const opt = fusedAdamw({ lr: 1e-3, weightDecay: 0.1 });
 * const params = { w: tensor([1, 2]) };
 * const { params: next } = opt.update({ w: tensor([0.1, 0.2]) }, opt.init(params), params);
 * ```
 */
export function fusedAdamw(opts: AdamOptions = {}): Optimizer {
  return adamFamily(opts, 0.01, (p, g, m, v, h, scale) => {
    const gpu = p.backend.name === "webgpu" && p.dtype === "float32" && g.dtype === "float32";
    return gpu ? adamwKernelStep(p, g, m, v, h, scale) : adamwStep(p, g, m, v, h, scale);
  });
}
