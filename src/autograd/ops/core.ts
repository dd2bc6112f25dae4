/**
 * Helpers shared by the op files: backend checks, number lifting, fresh tensors.
 * @module
 */
import type { Backend } from "../backend.ts";
import { type DType, isFloat, isHalf, promote } from "../dtype.ts";
import { BackendError, DTypeError } from "../errors.ts";
import { fromBuffer, Tensor, type TensorLike } from "../tensor.ts";

/** Ops that read half-precision storage (each widening it to float32). */
const READS_HALF = new Set(["matmul", "take", "cast"]);

/**
 * Throws a DTypeError naming `op` when one of `ts` holds half-precision storage and `op` is
 * not one of the ops that read it (see `DType`).
 */
export function noHalf(op: string, ...ts: TensorLike[]): void {
  if (READS_HALF.has(op)) return;
  for (const t of ts) {
    if (t instanceof Tensor && isHalf(t.dtype)) {
      throw new DTypeError(
        `${op}: does not take ${t.dtype} tensors (half precision is storage for frozen weights; ` +
          `matmul, take and cast read it): cast to float32 first`,
      );
    }
  }
}

/**
 * The one backend all `ts` live on; throws naming the op when they differ, or when one holds
 * half-precision storage that `op` does not read.
 */
export function backendOf(op: string, ...ts: Tensor[]): Backend {
  noHalf(op, ...ts);
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      throw new BackendError(
        `${op}: tensors are on different backends (${ts.map((x) => x.backend.name).join(", ")})`,
      );
    }
  }
  return b;
}

/** A one-element tensor holding `value`, with `like`'s dtype and backend. */
export function scalarOf(value: number, like: Tensor, dtype: DType = like.dtype): Tensor {
  const b = like.backend;
  return fromBuffer(b, b.fill(1, value, dtype), [], dtype);
}

/** Turns numbers into scalar tensors matching `like`. */
export function lift(x: TensorLike, like: Tensor): Tensor {
  return x instanceof Tensor ? x : scalarOf(x, like);
}

/** Throws a DTypeError unless `t` is a float tensor. */
export function needFloat(op: string, t: Tensor): void {
  noHalf(op, t);
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: needs a float tensor, got ${t.dtype}`);
}

/** The dtype two operands promote to. */
export function resultDtype(a: Tensor, b: Tensor): DType {
  return promote(a.dtype, b.dtype);
}

/**
 * Zeros shaped, typed and placed like `t`.
 * @example
 * ```ts
 * import { tensor, zerosLike } from "@lossforge/core";
 * console.log(await zerosLike(tensor([1, 2])).array()); // [0, 0]
 * ```
 */
export function zerosLike(t: Tensor): Tensor {
  noHalf("zerosLike", t);
  const b = t.backend;
  return fromBuffer(b, b.fill(t.size, 0, t.dtype), t.shape, t.dtype);
}

/**
 * Ones shaped, typed and placed like `t`.
 * @example
 * ```ts
 * import { onesLike, tensor } from "@lossforge/core";
 * console.log(await onesLike(tensor([5, 6])).array()); // [1, 1]
 * ```
 */
export function onesLike(t: Tensor): Tensor {
  noHalf("onesLike", t);
  const b = t.backend;
  return fromBuffer(b, b.fill(t.size, 1, t.dtype), t.shape, t.dtype);
}

/**
 * `value` everywhere, shaped, typed and placed like `t`.
 * @example
 * ```ts
 * import { fullLike, tensor } from "@lossforge/core";
 * console.log(await fullLike(tensor([5, 6]), 7).array()); // [7, 7]
 * ```
 */
export function fullLike(t: Tensor, value: number): Tensor {
  noHalf("fullLike", t);
  const b = t.backend;
  return fromBuffer(b, b.fill(t.size, value, t.dtype), t.shape, t.dtype);
}
