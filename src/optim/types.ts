/**
 * The shapes optimizers share, after optax: `init(params)` makes a state, `update(grads,
 * state, params)` returns new parameters and a new state. Both are pure: inputs are left
 * untouched and new trees are returned (callers dispose the old ones).
 * @module
 */
import type { Tensor, Tree } from "../autograd/mod.ts";

/**
 * A learning rate as a function of the step (the number of updates done before this one,
 * so 0 on the first update).
 *
 * @example
 * ```ts
 * import { adamw, type Schedule } from "@lossforge/core";
 * const halveEvery1000: Schedule = (step) => 1e-3 * 0.5 ** Math.floor(step / 1000);
 * console.log(halveEvery1000(0), halveEvery1000(2500)); // 0.001 0.00025
 * const opt = adamw({ lr: halveEvery1000 }); // reads the step from its state
 * ```
 */
export type Schedule = (step: number) => number;

/**
 * A fixed learning rate or a schedule.
 *
 * @example
 * ```ts
 * import { adamw, cosine, type LearningRate } from "@lossforge/core";
 * const optimizerFor = (lr: LearningRate) => adamw({ lr, weightDecay: 0.01 });
 * const fixed = optimizerFor(3e-4);
 * const annealed = optimizerFor(cosine({ peak: 3e-4, steps: 1000 }));
 * ```
 */
export type LearningRate = number | Schedule;

/**
 * An optimizer's state: the step count and named slots, each a tree shaped like the
 * parameters (Adam's `m` and `v`, SGD's `momentum`). Save it with
 * `saveOptimizerState` for checkpoints.
 *
 * @example
 * ```ts
 * import { adamw, type OptState, zeros } from "@lossforge/core";
 * const s: OptState = adamw({ lr: 1e-3 }).init({ w: zeros([2]) });
 * console.log(s.step, Object.keys(s.slots)); // 0 ["m", "v"]: Adam's moments, shaped like w
 * ```
 */
export type OptState = { readonly step: number; readonly slots: { readonly [name: string]: Tree } };

/**
 * An optimizer: pure `init` / `update` over parameter trees.
 *
 * @example
 * ```ts
 * import { adamw, grad, type Optimizer, sgd, type Tensor, tensor } from "@lossforge/core";
 * // Minimise |w|² for a few steps with any optimizer.
 * const fit = async (opt: Optimizer) => {
 *   let params = { w: tensor([1, 2]) }, state = opt.init(params);
 *   for (let i = 0; i < 5; i++) {
 *     const grads = grad((p: { w: Tensor }) => p.w.square().sum())(params);
 *     ({ params, state } = opt.update(grads, state, params));
 *   }
 *   return params.w.array();
 * };
 * console.log(await fit(sgd({ lr: 0.1 }))); // ≈ [0.3277, 0.6554]
 * console.log(await fit(adamw({ lr: 0.1 }))); // ≈ [0.5041, 1.494]
 * ```
 */
export interface Optimizer {
  /** The initial state for `params`. */
  init<P extends Tree>(params: P): OptState;
  /**
   * New parameters and state after one step with `grads` (shaped like `params`). An optimizer
   * with `acceptsGradScale` also takes `gradScale`, a one-element tensor every gradient is
   * multiplied by first (gradient clipping's factor), and folds it into its update.
   */
  update<P extends Tree>(
    grads: P,
    state: OptState,
    params: P,
    gradScale?: Tensor,
  ): { params: P; state: OptState };
  /**
   * Whether `update` takes `gradScale` (callers that clip multiply the gradients themselves
   * otherwise). Adam, AdamW and SGD do: on WebGPU Adam's one-kernel update reads the factor,
   * which saves one dispatch per parameter tensor.
   */
  readonly acceptsGradScale?: boolean;
}

/**
 * A stateless transformation of gradients applied before an optimizer (see `chain`).
 *
 * @example
 * ```ts
 * import { chain, type GradientTransform, sgd, tensor, treeMap } from "@lossforge/core";
 * // Gradients clamped to [-1, 1] elementwise, before the optimizer sees them.
 * const clampEach: GradientTransform = {
 *   transform: (g) => treeMap((x) => x.maximum(-1).minimum(1), g),
 * };
 * const opt = chain(clampEach, sgd({ lr: 1 }));
 * const params = { w: tensor([0, 0]) };
 * const { params: next } = opt.update({ w: tensor([5, -0.5]) }, opt.init(params), params);
 * console.log(await next.w.array()); // [-1, 0.5]
 * ```
 */
export interface GradientTransform {
  /** New gradients (a new tree). */
  transform<P extends Tree>(grads: P): P;
}

/**
 * The learning rate at `step`.
 *
 * @example
 * ```ts
 * import { lrAt } from "./types.ts";
 * console.log(lrAt((s) => s * 2, 3), lrAt(0.1, 3)); // 6, 0.1
 * ```
 */
export function lrAt(lr: LearningRate, step: number): number {
  return typeof lr === "number" ? lr : lr(step);
}
