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
import type { GradientTransform } from "./types.ts";

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
      const parts = treeLeaves(tree).map((t) => t.square().sum());
      return parts.reduce((a, b) => a.add(b)).sqrt();
    })
  );
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)), as torch's clip_grad_norm_.
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm, tensor } from "@lossforge/core";
 * const g = clipByGlobalNorm(1).transform({ w: tensor([3, 4]) });
 * console.log(await g.w.data()); // ≈ [0.6, 0.8]
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  return {
    transform: <P extends Tree>(grads: P): P =>
      noGrad(() =>
        scope(() => {
          const norm = globalNorm(grads);
          const factor = minimum(div(maxNorm, norm.add(1e-6)), 1);
          return treeMap((g) => g.mul(factor), grads);
        })
      ),
  };
}
