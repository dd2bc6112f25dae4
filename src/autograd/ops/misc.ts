/**
 * dtype conversion and cumulative sums.
 * @module
 */
import { type DType, isFloat } from "../dtype.ts";
import { BackendError } from "../errors.ts";
import { normAxis } from "../shape.ts";
import { record } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { needFloat, noHalf } from "./core.ts";
import { reshape } from "./shape_ops.ts";

/**
 * Converts to `dtype` (float to int32 truncates toward zero). Float-to-float casts carry
 * gradients.
 * @example
 * ```ts
 * import { cast, tensor } from "@lossforge/core";
 * const ids = cast(tensor([1.7, -1.7]), "int32"); // truncates toward zero
 * console.log(ids.dtype, await ids.array()); // "int32", [1, -1]
 * ```
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return reshape(x, x.shape); // a new handle: disposing it keeps x
  const b = x.backend;
  if (dtype === "float64" && b.name !== "cpu") {
    throw new BackendError(`cast: float64 exists on the cpu backend only, tensor is on ${b.name}`);
  }
  const out = fromBuffer(b, b.cast(x.buf, x.size, x.dtype, dtype), x.shape, dtype);
  if (!isFloat(x.dtype) || !isFloat(dtype)) return out;
  const from = x.dtype;
  return record("cast", out, [x], (g) => [cast(g, from)]);
}

/**
 * Inclusive cumulative sum along `axis`; `reverse` sums from the end.
 * @example
 * ```ts
 * import { cumsum, tensor } from "@lossforge/core";
 * console.log(await cumsum(tensor([1, 2, 3])).array()); // [1, 3, 6]
 * console.log(await cumsum(tensor([1, 2, 3]), -1, true).array()); // [6, 5, 3]
 * ```
 */
export function cumsum(x: Tensor, axis = -1, reverse = false): Tensor {
  noHalf("cumsum", x);
  const ax = normAxis("cumsum", axis, x.rank);
  const b = x.backend;
  const out = fromBuffer(b, b.cumsum(x.buf, x.shape, ax, reverse, x.dtype), x.shape, x.dtype);
  if (!isFloat(x.dtype)) return out;
  needFloat("cumsum", x);
  return record("cumsum", out, [x], (g) => [cumsum(g, ax, !reverse)]);
}
