/**
 * Sorting along the last axis: argsort is the primitive; sort gathers with it, so the
 * gradient of sorted values flows back to where each value came from.
 * @module
 */
import { ShapeError } from "../errors.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { noHalf } from "./core.ts";
import { gather } from "./index_ops.ts";

/**
 * The permutation that sorts the last axis (int32, stable; `descending` keeps equal values
 * in index order). NaN sorts as the largest value.
 * @example
 * ```ts
 * import { argsort, tensor } from "@lossforge/core";
 * console.log(await argsort(tensor([3, 1, 2])).array()); // [1, 2, 0] (int32)
 * console.log(await argsort(tensor([3, 1, 2]), true).array()); // [0, 2, 1]
 * ```
 */
export function argsort(x: Tensor, descending = false): Tensor {
  noHalf("argsort", x);
  if (x.rank === 0) throw new ShapeError("argsort: needs rank >= 1");
  const b = x.backend;
  return fromBuffer(b, b.argsort(x.buf, x.shape, descending, x.dtype), x.shape, "int32");
}

/**
 * Sorted values along the last axis (stable). Differentiable: values carry their gradient
 * to their original positions.
 * @example
 * ```ts
 * import { sort, tensor } from "@lossforge/core";
 * console.log(await sort(tensor([[3, 1, 2], [0, 5, 4]]), true).array()); // [[3, 2, 1], [5, 4, 0]]
 * ```
 */
export function sort(x: Tensor, descending = false): Tensor {
  const idx = argsort(x, descending);
  return gather(x, x.rank - 1, idx);
}
