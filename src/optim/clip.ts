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
import { fusedOpsEnabled } from "../autograd/fused.ts";
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
        b?.sumOfSquares && fusedOpsEnabled() && isFloat(dtype) &&
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
