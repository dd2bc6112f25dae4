/**
 * Element types and their typed arrays.
 * @module
 */
import { DTypeError } from "./errors.ts";

/**
 * The element type of a tensor. `float64` exists on the CPU backend only (it is the oracle
 * for gradient checks); WebGPU stores `float32` and `int32`.
 *
 * @example
 * ```ts
 * import { cast, type DType, tensor } from "@lossforge/core";
 * const ids = tensor([1, 2, 3], { dtype: "int32" }); // token ids and indices
 * const x = tensor([0.5, 1.5], { dtype: "float64" }); // CPU only: gradient checks
 * const as = (dtype: DType) => cast(x, dtype).dtype;
 * console.log(ids.dtype, x.dtype, as("float32")); // "int32", "float64", "float32"
 * ```
 */
export type DType = "float32" | "float64" | "int32";

/**
 * A typed array of one of the supported dtypes.
 *
 * @example
 * ```ts
 * import { tensor, type TypedArray } from "@lossforge/core";
 * const values: TypedArray = await tensor([1, 2], { dtype: "int32" }).data();
 * console.log(values); // Int32Array [1, 2]
 * ```
 */
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** Makes a typed array of `dtype` with `n` zeros. */
export function allocArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int32":
      return new Int32Array(n);
  }
}

/** Copies `src` into a new typed array of `dtype` (converting values). */
export function convertArray(src: ArrayLike<number>, dtype: DType): TypedArray {
  const out = allocArray(dtype, src.length);
  if (dtype === "int32") {
    for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = src[i];
  }
  return out;
}

/** The dtype of a typed array. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  throw new DTypeError(`unsupported typed array ${(a as object).constructor.name}`);
}

/** Whether a dtype holds real numbers (and so can carry gradients). */
export function isFloat(dtype: DType): boolean {
  return dtype !== "int32";
}

/** The result dtype of a binary op: int32 < float32 < float64. */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === "float64" || b === "float64") return "float64";
  return "float32";
}
