/**
 * Element types and their typed arrays.
 * @module
 */
import { DTypeError } from "./errors.ts";
import { narrowToHalf } from "./half.ts";

/**
 * The element type of a tensor. `float64` exists on the CPU backend only (it is the oracle
 * for gradient checks); WebGPU stores `float32` and `int32`.
 *
 * `bfloat16` and `float16` are storage dtypes for frozen weights (a half-precision base
 * model under LoRA): 2 bytes per element on both backends (a `Uint16Array` of raw bits on
 * the CPU, packed pairs of 16-bit words on WebGPU). Only the ops a base model applies to its
 * weights read them, each widening to float32 (exact) and returning float32: `matmul` (either
 * operand, float32 accumulation), `take` / `embedding` of rows, and `cast`; `reshape` and the
 * views `transpose` / `permute` / `slice` share their storage. Every other op throws a
 * DTypeError naming itself and the dtype, and they carry no gradients (differentiating with
 * respect to one is an error; gradients flow through a matmul to its other operand).
 *
 * @example
 * ```ts
 * import { cast, type DType, matmul, tensor } from "@lossforge/core";
 * const ids = tensor([1, 2, 3], { dtype: "int32" }); // token ids and indices
 * const x = tensor([0.5, 1.5], { dtype: "float64" }); // CPU only: gradient checks
 * const as = (dtype: DType) => cast(x, dtype).dtype;
 * console.log(ids.dtype, x.dtype, as("float32")); // "int32", "float64", "float32"
 * const w = tensor([[1, 2], [3, 4]], { dtype: "bfloat16" }); // 2 bytes per weight
 * console.log(await matmul(tensor([[1, 1]]), w, { transposeB: true }).array()); // [[3, 7]]
 * ```
 */
export type DType = "float32" | "float64" | "int32" | HalfDType;

/**
 * The half-precision storage dtypes (see {@linkcode DType}).
 *
 * @example
 * ```ts
 * import { type HalfDType, isHalf, tensor } from "@lossforge/core";
 * const frozen = (dtype: HalfDType) => tensor([0.1], { dtype });
 * console.log(isHalf(frozen("bfloat16").dtype), isHalf("float32")); // true false
 * ```
 */
export type HalfDType = "bfloat16" | "float16";

/**
 * A typed array of one of the supported dtypes (`Uint16Array`: raw half-precision bits).
 *
 * @example
 * ```ts
 * import { tensor, type TypedArray } from "@lossforge/core";
 * const values: TypedArray = await tensor([1, 2], { dtype: "int32" }).data();
 * console.log(values); // Int32Array [1, 2]
 * ```
 */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint16Array;

/**
 * Whether `dtype` is a half-precision storage dtype.
 *
 * @example
 * ```ts
 * import { isHalf } from "@lossforge/core";
 * console.log(isHalf("bfloat16"), isHalf("float16"), isHalf("float32")); // true true false
 * ```
 */
export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === "bfloat16" || dtype === "float16";
}

/**
 * The dtype values of `dtype` are computed in: float32 for half storage (what matmul and take
 * give for it), else `dtype` itself. Model code sizes its constants (masks, rotary tables)
 * by it, so a half-precision base computes in float32.
 *
 * @example
 * ```ts
 * import { computeDtype } from "@lossforge/core";
 * console.log(computeDtype("bfloat16"), computeDtype("float64")); // "float32" "float64"
 * ```
 */
export function computeDtype(dtype: DType): DType {
  return isHalf(dtype) ? "float32" : dtype;
}

/** Bytes per element of `dtype`. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "float64" ? 8 : isHalf(dtype) ? 2 : 4;
}

/** Makes a typed array of `dtype` with `n` zeros (half dtypes: zero bits, +0). */
export function allocArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int32":
      return new Int32Array(n);
    case "bfloat16":
    case "float16":
      return new Uint16Array(n);
  }
}

/**
 * Copies `src` into a new typed array of `dtype` (converting values; half dtypes round to
 * nearest even and hold the bits).
 */
export function convertArray(src: ArrayLike<number>, dtype: DType): TypedArray {
  if (isHalf(dtype)) {
    return narrowToHalf(
      src instanceof Float32Array || src instanceof Float64Array ? src : Array.from(src),
      dtype,
    );
  }
  const out = allocArray(dtype, src.length);
  if (dtype === "int32") {
    for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = src[i];
  }
  return out;
}

/**
 * The dtype of a typed array. A `Uint16Array` holds bits of either half dtype, so it has
 * none of its own: the caller names it.
 */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Uint16Array) {
    throw new DTypeError(
      'a Uint16Array holds raw half-precision bits: say which with dtype "bfloat16" or "float16"',
    );
  }
  throw new DTypeError(`unsupported typed array ${(a as object).constructor.name}`);
}

/**
 * Whether a dtype holds real numbers that carry gradients: float32 and float64 (half storage
 * dtypes hold frozen weights only).
 */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/**
 * The result dtype of a binary op: int32 < float32 < float64; a half operand computes in
 * float32 (float64 beside a float64 one).
 */
export function promote(a: DType, b: DType): DType {
  if (a === b) return isHalf(a) ? "float32" : a;
  if (a === "float64" || b === "float64") return "float64";
  return "float32";
}
