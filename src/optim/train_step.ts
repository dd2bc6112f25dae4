/**
 * One training step as a pure function, composed of the optim pieces: the loss and its
 * gradients on each micro-batch (`valueAndGrad`), their mean (`accumulate.ts`), the global
 * norm and clipping (`clip.ts`), and the optimizer's update. Only its results outlive it.
 * @module
 */
import {
  noGrad,
  scope,
  stack,
  type Tensor,
  type Tree,
  treeLeaves,
  treeMap,
  valueAndGrad,
  where,
} from "../autograd/mod.ts";
import { addGradients, meanGradients } from "./accumulate.ts";
import { clipForUpdate, globalNorm } from "./clip.ts";
import type { Optimizer, OptState } from "./types.ts";

/**
 * How {@linkcode trainStep} trains.
 *
 * @example
 * ```ts
 * import { adamw, type Tensor, tensor, trainStep, type TrainStepOptions } from "@lossforge/core";
 * type P = { w: Tensor };
 * const fitOne: TrainStepOptions<P, Tensor> = {
 *   loss: (p, x) => p.w.mul(x).sub(1).square().sum(), // (w·x - 1)² for a batch x
 *   optimizer: adamw({ lr: 0.1 }),
 *   clip: 1, // the global gradient norm is clipped to 1 before the update
 * };
 * const params = { w: tensor([0.5]) };
 * const r = trainStep(params, fitOne.optimizer.init(params), [tensor([1])], fitOne);
 * console.log(await r.loss.item(), await r.gradNorm.item()); // 0.25 1 (before clipping)
 * ```
 */
export interface TrainStepOptions<P extends Tree, B> {
  /** The scalar loss of `params` on one micro-batch. */
  loss: (params: P, batch: B) => Tensor;
  /** Turns the (averaged, clipped) gradients into new parameters and state. */
  optimizer: Optimizer;
  /** Clip the gradients to this global L2 norm (off when absent). */
  clip?: number;
  /**
   * When the loss or a gradient is NaN or infinite, return the old parameters and state
   * instead of the update (decided on the device, nothing is read back). Default false.
   */
  skipNonFinite?: boolean;
  /**
   * Also return `gradSums`: the sum of each gradient (before clipping), so that a NaN or an
   * infinity can be traced to the parameter it appeared in. Default false.
   */
  gradSums?: boolean;
}

/**
 * What one step produced: new trees (the inputs are left as they were) and two one-element
 * tensors still on the device.
 *
 * @example
 * ```ts
 * import { sgd, type Tensor, tensor, trainStep, type TrainStepResult } from "@lossforge/core";
 * const log = async (step: number, r: TrainStepResult<{ w: Tensor }>) =>
 *   console.log(`step ${step}: loss ${await r.loss.item()}, |g| ${await r.gradNorm.item()}`);
 * const optimizer = sgd({ lr: 0.1 }), params = { w: tensor([2]) };
 * const r = trainStep(params, optimizer.init(params), [tensor([1])], {
 *   loss: (p: { w: Tensor }, x: Tensor) => p.w.mul(x).square().sum(),
 *   optimizer,
 * });
 * await log(0, r); // "step 0: loss 4, |g| 4"; r.params and r.state go into the next step
 * ```
 */
export interface TrainStepResult<P extends Tree> {
  /** The updated parameters. */
  params: P;
  /** The optimizer's new state. */
  state: OptState;
  /** The loss, averaged over the micro-batches. */
  loss: Tensor;
  /** The global L2 norm of the averaged gradients, before clipping. */
  gradNorm: Tensor;
  /**
   * With `gradSums: true`, the sum of each averaged gradient, one per parameter in
   * `treeLeaves(params)` order ([n]): not finite exactly where that gradient holds a NaN or
   * an infinity (or sums past the float range).
   */
  gradSums?: Tensor;
}

/**
 * One optimizer step over `batches` (micro-batches whose gradients are averaged): the mean
 * loss and gradients, their global norm, clipping when `clip` is set, the optimizer update.
 * Pure: the inputs are left untouched, and every tensor made on the way but not returned is
 * freed. With a schedule as its learning rate, the optimizer reads the step from `state`.
 *
 * @example
 * ```ts
 * import { adamw, tensor, trainStep, treeDispose } from "@lossforge/core";
 * const optimizer = adamw({ lr: 0.1 });
 * let params = { w: tensor([0.5]) };
 * let state = optimizer.init(params);
 * const batches = [tensor([1]), tensor([2])]; // two micro-batches: fit w·x ≈ 1
 * for (let i = 0; i < 20; i++) {
 *   const r = trainStep(params, state, batches, {
 *     loss: (p, x) => p.w.mul(x).sub(1).square().sum(),
 *     optimizer,
 *     clip: 1,
 *   });
 *   treeDispose([params, state.slots]);
 *   ({ params, state } = r);
 *   if (i === 19) console.log(await r.loss.item(), await r.gradNorm.item()); // ≈ 0.102 0.1406
 *   treeDispose([r.loss, r.gradNorm]);
 * }
 * ```
 */
export function trainStep<P extends Tree, B>(
  params: P,
  state: OptState,
  batches: readonly B[],
  options: TrainStepOptions<P, B>,
): TrainStepResult<P> {
  if (batches.length === 0) throw new RangeError("trainStep: needs at least one batch");
  const { optimizer, clip } = options;
  return scope(() => {
    const lossAndGrad = valueAndGrad(options.loss);
    let lossSum: Tensor | undefined, gradSum: P | undefined;
    for (const batch of batches) {
      const [l, g] = lossAndGrad(params, batch);
      lossSum = addGradients(lossSum, l);
      gradSum = addGradients(gradSum, g);
    }
    const loss = meanGradients(lossSum!, batches.length);
    let grads = meanGradients(gradSum!, batches.length);
    const gradNorm = globalNorm(grads);
    const sums = options.gradSums
      ? { gradSums: noGrad(() => stack(treeLeaves(grads).map((g) => g.sum()))) }
      : {};
    let gradScale: Tensor | undefined;
    if (clip !== undefined) {
      ({ grads, gradScale } = clipForUpdate(grads, gradNorm, clip, optimizer));
    }
    const update = optimizer.update(grads, state, params, gradScale);
    if (!options.skipNonFinite) return { ...update, loss, gradNorm, ...sums };
    // x - x is 0 only for finite x: the flag is false for NaN or Inf in the loss or the norm.
    const both = loss.add(gradNorm);
    const finite = both.sub(both).eq(0);
    return {
      params: treeMap((n, o) => where(finite, n, o), update.params, params),
      state: treeMap((n, o) => where(finite, n, o), update.state, state),
      loss,
      gradNorm,
      ...sums,
    };
  });
}
