/**
 * Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD:
 * v ← μ v + g; the step is g + μ v with Nesterov, else v.
 * @module
 */
import { noGrad, scope, type Tensor, type Tree, treeMap, zerosLike } from "../autograd/mod.ts";
import { type LearningRate, lrAt, type Optimizer, type OptState } from "./types.ts";

/**
 * Options of `sgd`.
 *
 * @example
 * ```ts
 * import { sgd, type SgdOptions, tensor } from "@lossforge/core";
 * const twoSteps = async (o: SgdOptions) => {
 *   const opt = sgd(o), g = { w: tensor([1]) };
 *   let params = { w: tensor([0]) }, state = opt.init(params);
 *   ({ params, state } = opt.update(g, state, params));
 *   ({ params, state } = opt.update(g, state, params));
 *   return params.w.item();
 * };
 * console.log(await twoSteps({ lr: 0.1 })); // ≈ -0.2
 * console.log(await twoSteps({ lr: 0.1, momentum: 0.9 })); // ≈ -0.29: the second step is 1.9 g
 * ```
 */
export interface SgdOptions {
  /** Learning rate or schedule. */
  lr: LearningRate;
  /** Momentum μ (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/**
 * SGD over a parameter tree.
 *
 * @example
 * ```ts
 * import { sgd, tensor } from "@lossforge/core";
 * const opt = sgd({ lr: 0.5 });
 * const params = { w: tensor([1]) };
 * const { params: next } = opt.update({ w: tensor([2]) }, opt.init(params), params);
 * console.log(await next.w.array()); // [0]: 1 - 0.5 · 2
 * ```
 */
export function sgd(opts: SgdOptions): Optimizer {
  const mu = opts.momentum ?? 0, wd = opts.weightDecay ?? 0;
  return {
    init: <P extends Tree>(params: P): OptState =>
      noGrad(() => ({
        step: 0,
        slots: mu ? { momentum: treeMap((p) => zerosLike(p), params) } : {},
      })),
    acceptsGradScale: true,
    update: <P extends Tree>(grads: P, state: OptState, params: P, gradScale?: Tensor) =>
      noGrad(() =>
        scope(() => {
          const lr = lrAt(opts.lr, state.step);
          const scaled = gradScale ? treeMap((gi) => gi.mul(gradScale), grads) : grads;
          const g = wd ? treeMap((gi, p) => gi.add(p.mul(wd)), scaled, params) : scaled;
          if (!mu) {
            const next = treeMap((p, gi) => p.sub(gi.mul(lr)), params, g);
            return { params: next, state: { step: state.step + 1, slots: {} } };
          }
          const v = treeMap(
            (vi: Tensor, gi: Tensor) => vi.mul(mu).add(gi),
            state.slots.momentum as P,
            g,
          );
          const stepDir = opts.nesterov ? treeMap((gi, vi) => gi.add(vi.mul(mu)), g, v) : v;
          const next = treeMap((p, d) => p.sub(d.mul(lr)), params, stepDir);
          return { params: next, state: { step: state.step + 1, slots: { momentum: v } } };
        })
      ),
  };
}
