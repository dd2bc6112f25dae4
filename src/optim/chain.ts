/**
 * Composition: gradient transforms (clipping, scaling) applied in order before an
 * optimizer, as optax.chain.
 * @module
 */
import { noGrad, scope, type Tree, treeMap } from "../autograd/mod.ts";
import type { GradientTransform, Optimizer, OptState } from "./types.ts";

/**
 * An optimizer that first passes gradients through `transforms`, in order.
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, sgd, tensor } from "@lossforge/core";
 * const opt = chain(clipByGlobalNorm(1), sgd({ lr: 1 })); // clip, then step
 * const params = { w: tensor([0, 0]) };
 * const { params: next } = opt.update({ w: tensor([3, 4]) }, opt.init(params), params);
 * console.log(await next.w.array()); // ≈ [-0.6, -0.8]: the step of a gradient of norm 1
 * ```
 */
export function chain(...parts: [...GradientTransform[], Optimizer]): Optimizer {
  const optimizer = parts[parts.length - 1] as Optimizer;
  const transforms = parts.slice(0, -1) as GradientTransform[];
  return {
    init: <P extends Tree>(params: P): OptState => optimizer.init(params),
    update: <P extends Tree>(grads: P, state: OptState, params: P) =>
      scope(() => {
        const g = transforms.reduce((acc, t) => t.transform(acc), grads);
        return optimizer.update(g, state, params);
      }),
  };
}

/**
 * Multiplies gradients by a constant (for example 1 / accumulation steps).
 *
 * @example
 * ```ts
 * import { scaleGradients, tensor } from "@lossforge/core";
 * console.log(await scaleGradients(0.5).transform({ g: tensor([2]) }).g.array()); // [1]
 * ```
 */
export function scaleGradients(factor: number): GradientTransform {
  return {
    transform: <P extends Tree>(grads: P): P => noGrad(() => treeMap((g) => g.mul(factor), grads)),
  };
}
