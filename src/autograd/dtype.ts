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
 * import { type DType, zeros } from "@lossforge/core";
 * const d: DType = "int32";
 * console.log(zeros([2], { dtype: d }).dtype);
 * ```
 */
export type DType = "float32" | "float64" | "int32";

/**
 * A typed array of one of the supported dtypes.
 *
 * @example
 * ```ts
 * import type { TypedArray } from "@lossforge/core";
 * const a: TypedArray = new Float32Array(3);
 * console.log(a.length);
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
