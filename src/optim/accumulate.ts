/**
 * Gradient accumulation: sum the gradients of several micro-batches, then step once with
 * their mean, so large effective batches fit in memory.
 * @module
 */
import { keep, noGrad, type Tree, treeDispose, treeMap } from "../autograd/mod.ts";

/**
 * `sum` plus `next`, leaf by leaf (`next` itself when there is no sum yet): one more
 * micro-batch's gradients (or loss) in a running sum.
 *
 * @example
 * ```ts
 * import { addGradients, tensor } from "@lossforge/core";
 * const sum = addGradients(addGradients(undefined, { w: tensor([1]) }), { w: tensor([3]) });
 * console.log(await sum.w.array()); // [4]
 * ```
 */
export function addGradients<P extends Tree>(sum: P | undefined, next: P): P {
  return sum === undefined ? next : treeMap((a, b) => a.add(b), sum, next);
}

/**
 * The mean of `count` summed gradient trees (or losses): the sum times 1 / count, or the sum
 * itself when `count` is 1.
 *
 * @example
 * ```ts
 * import { meanGradients, tensor } from "@lossforge/core";
 * console.log(await meanGradients({ w: tensor([6]) }, 2).w.array()); // [3]
 * ```
 */
export function meanGradients<P extends Tree>(sum: P, count: number): P {
  if (count === 1) return sum;
  const k = 1 / count;
  return treeMap((g) => g.mul(k), sum);
}

/**
 * A running sum of gradient trees. Its tensors are taken out of any open `scope`, so
 * `add` may be called inside a training step's scope.
 *
 * @example
 * ```ts
 * import { gradientAccumulator, type Tensor, tensor } from "@lossforge/core";
 * const acc = gradientAccumulator<{ w: Tensor }>();
 * acc.add({ w: tensor([1]) }); // micro-batch 1's gradients
 * acc.add({ w: tensor([3]) }); // micro-batch 2's
 * console.log(acc.count, await acc.mean().w.array()); // 2 [2]
 * ```
 */
export interface GradientAccumulator<P extends Tree> {
  /** How many gradient trees were added since the last `mean` or `reset`. */
  readonly count: number;
  /** Adds a gradient tree (left to the caller to dispose). */
  add(grads: P): void;
  /** The mean of what was added (a new tree); the accumulator starts over. */
  mean(): P;
  /** Drops the running sum. */
  reset(): void;
}

/**
 * Makes an empty `GradientAccumulator`.
 *
 * @example
 * ```ts
 * import { grad, gradientAccumulator, type Tensor, tensor } from "@lossforge/core";
 * const loss = (p: { w: Tensor }, x: Tensor) => p.w.mul(x).sum();
 * const params = { w: tensor([1]) }, acc = gradientAccumulator<{ w: Tensor }>();
 * for (const x of [tensor([2]), tensor([4])]) acc.add(grad(loss)(params, x));
 * console.log(await acc.mean().w.array()); // [3]: the mean of 2 and 4
 * ```
 */
export function gradientAccumulator<P extends Tree = Tree>(): GradientAccumulator<P> {
  let sum: P | null = null;
  let count = 0;
  const reset = () => {
    if (sum) treeDispose(sum);
    sum = null;
    count = 0;
  };
  return {
    get count() {
      return count;
    },
    add(grads: P): void {
      const next = noGrad(() => sum ? addGradients(sum, grads) : treeMap((g) => g.mul(1), grads));
      if (sum) treeDispose(sum);
      sum = keep(next);
      count++;
    },
    mean(): P {
      if (!sum || count === 0) throw new RangeError("gradientAccumulator: nothing was added");
      const n = count, total = sum;
      // A new tree even for one addition: `reset` disposes the sum.
      const out = noGrad(() => n === 1 ? treeMap((s) => s.mul(1), total) : meanGradients(total, n));
      reset();
      return out;
    },
    reset,
  };
}
