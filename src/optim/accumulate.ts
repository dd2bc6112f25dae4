/**
 * Gradient accumulation: sum the gradients of several micro-batches, then step once with
 * their mean, so large effective batches fit in memory.
 * @module
 */
import { keep, noGrad, type Tree, treeDispose, treeMap } from "../autograd/mod.ts";

/**
 * A running sum of gradient trees. Its tensors are taken out of any open `scope`, so
 * `add` may be called inside a training step's scope.
 *
 * @example
 * ```ts
 * import { gradientAccumulator, tensor } from "@lossforge/core";
 * const acc = gradientAccumulator<{ w: ReturnType<typeof tensor> }>();
 * acc.add({ w: tensor([1]) });
 * acc.add({ w: tensor([3]) });
 * console.log(acc.count, await acc.mean().w.data()); // 2, [2]
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
 * import { gradientAccumulator } from "@lossforge/core";
 * const acc = gradientAccumulator();
 * console.log(acc.count); // 0
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
      const next = noGrad(() =>
        sum ? treeMap((s, g) => s.add(g), sum, grads) : treeMap((g) => g.mul(1), grads)
      );
      if (sum) treeDispose(sum);
      sum = keep(next);
      count++;
    },
    mean(): P {
      if (!sum || count === 0) throw new RangeError("gradientAccumulator: nothing was added");
      const n = count;
      const out = noGrad(() => treeMap((s) => s.div(n), sum as P));
      reset();
      return out;
    },
    reset,
  };
}
