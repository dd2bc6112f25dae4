/**
 * Gradient clipping by the global L2 norm over the whole tree, computed on the device (no
 * read-back, so a training step never waits on the GPU for it).
 * @module
 */
import {
  div,
  minimum,
  noGrad,
  scope,
  type Tensor,
  type Tree,
  treeLeaves,
  treeMap,
} from "../autograd/mod.ts";
import type { GradientTransform, Optimizer } from "./types.ts";
import { fusedPolicy } from "../autograd/fused.ts";
import { isFloat } from "../autograd/dtype.ts";
import { fromBuffer } from "../autograd/tensor.ts";

/**
 * √(Σ over every tensor of Σ x²), as a one-element tensor.
 *
 * @example
 * ```ts
 * import { globalNorm, tensor } from "@lossforge/core";
 * console.log(await globalNorm({ a: tensor([3]), b: tensor([4]) }).item()); // 5
 * ```
 */
export function globalNorm(tree: Tree): Tensor {
  return noGrad(() =>
    scope(() => {
      const leaves = treeLeaves(tree);
      const b = leaves[0]?.backend, dtype = leaves[0]?.dtype;
      // One fused pass over every tensor where the backend has it (WebGPU: one dispatch per
      // tensor and one for the total, instead of a square, a sum and an add per tensor).
      if (
        b?.sumOfSquares && fusedPolicy.choose("globalNorm") && isFloat(dtype) &&
        leaves.every((t) => t.backend === b && t.dtype === dtype)
      ) {
        const sq = b.sumOfSquares(leaves.map((t) => t.buf), leaves.map((t) => t.size), dtype);
        return fromBuffer(b, sq, [], dtype).sqrt();
      }
      const parts = leaves.map((t) => t.square().sum());
      return parts.reduce((a, b) => a.add(b)).sqrt();
    })
  );
}

/**
 * The factor clipping multiplies every gradient by: min(1, maxNorm / (norm + 1e-6)), as
 * torch's clip_grad_norm_, as a one-element tensor (nothing is read back).
 *
 * @example
 * ```ts
 * import { clipFactor, tensor } from "@lossforge/core";
 * console.log(await clipFactor(tensor([5]), 1).item()); // ≈ 0.2: 1 / 5
 * console.log(await clipFactor(tensor([0.5]), 1).item()); // 1: under the limit, unchanged
 * ```
 */
export function clipFactor(norm: Tensor, maxNorm: number): Tensor {
  return minimum(div(maxNorm, norm.add(1e-6)), 1);
}

/**
 * Clipping for one optimizer update, given the gradients' global norm: an optimizer that
 * `acceptsGradScale` gets the factor as `gradScale` and the gradients untouched (its update
 * multiplies as it reads them: on WebGPU, AdamW's one kernel does, with no dispatch per
 * gradient tensor); any other gets the gradients multiplied by the factor.
 *
 * @example
 * ```ts
 * import { adamw, clipForUpdate, globalNorm, tensor } from "@lossforge/core";
 * const opt = adamw({ lr: 1e-3 });
 * const params = { w: tensor([1, 2]) };
 * const grads = { w: tensor([3, 4]) };
 * const { grads: g, gradScale } = clipForUpdate(grads, globalNorm(grads), 1, opt);
 * const next = opt.update(g, opt.init(params), params, gradScale);
 * console.log(await gradScale?.item()); // ≈ 0.2
 * ```
 */
export function clipForUpdate<P extends Tree>(
  grads: P,
  norm: Tensor,
  maxNorm: number,
  optimizer: Optimizer,
): { grads: P; gradScale?: Tensor } {
  const factor = clipFactor(norm, maxNorm);
  if (optimizer.acceptsGradScale) return { grads, gradScale: factor };
  return { grads: treeMap((g) => g.mul(factor), grads) };
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)), as torch's clip_grad_norm_.
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm, tensor } from "@lossforge/core";
 * const g = clipByGlobalNorm(1).transform({ w: tensor([3, 4]) });
 * console.log(await g.w.array()); // ≈ [0.6, 0.8]: norm 5 scaled to 1
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  return {
    transform: <P extends Tree>(grads: P): P =>
      noGrad(() =>
        scope(() => {
          const factor = clipFactor(globalNorm(grads), maxNorm);
          return treeMap((g) => g.mul(factor), grads);
        })
      ),
  };
}
