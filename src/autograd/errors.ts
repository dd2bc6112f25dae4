/**
 * Typed errors. Every message names the op or field and the offending values, for example
 * `matmul: inner dimensions differ: a is [2,3], b is [4,5]`.
 * @module
 */

/**
 * Base class of every error lossforge throws on purpose.
 *
 * @example
 * ```ts
 * import { LossforgeError, tensor } from "@lossforge/core";
 * try {
 *   tensor([1, 2, 3]).reshape([2, 2]);
 * } catch (e) {
 *   if (!(e instanceof LossforgeError)) throw e; // a bug elsewhere, not a bad argument
 *   console.log(e.name, e.message);
 *   // ShapeError reshape: cannot reshape [3] (3 elements) to [2,2]
 * }
 * ```
 */
export class LossforgeError extends Error {
  /** Makes an error with a message (and optionally a `cause`). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Shapes that do not fit an op.
 *
 * @example
 * ```ts
 * import { matmul, ShapeError, zeros } from "@lossforge/core";
 * try {
 *   matmul(zeros([2, 3]), zeros([4, 5]));
 * } catch (e) {
 *   console.log(e instanceof ShapeError, (e as ShapeError).message);
 *   // true matmul: inner dimensions differ: a is [2,3], b is [4,5]
 * }
 * ```
 */
export class ShapeError extends LossforgeError {}

/**
 * A dtype an op cannot take (for example float64 on WebGPU, or an int tensor where a float
 * one is needed).
 *
 * @example
 * ```ts
 * import { DTypeError, oneHot, tensor } from "@lossforge/core";
 * try {
 *   oneHot(tensor([0, 1]), 2); // class ids must be int32
 * } catch (e) {
 *   console.log(e instanceof DTypeError, (e as DTypeError).message);
 *   // true oneHot: index must be int32, got float32
 * }
 * ```
 */
export class DTypeError extends LossforgeError {}

/**
 * A backend problem: tensors on different backends in one op, a disposed tensor, or no
 * WebGPU adapter.
 *
 * @example
 * ```ts
 * import { BackendError, tensor } from "@lossforge/core";
 * const x = tensor([1, 2]);
 * x.dispose();
 * try {
 *   x.exp();
 * } catch (e) {
 *   console.log(e instanceof BackendError, (e as BackendError).message);
 *   // true tensor #1 [2] was disposed
 * }
 * ```
 */
export class BackendError extends LossforgeError {}

/**
 * An argument outside its valid range (an axis, an index, an option).
 *
 * @example
 * ```ts
 * import { sum, tensor, ValueError } from "@lossforge/core";
 * try {
 *   sum(tensor([[1, 2]]), 3);
 * } catch (e) {
 *   console.log(e instanceof ValueError, (e as ValueError).message);
 *   // true sum: axis 3 out of range for rank 2
 * }
 * ```
 */
export class ValueError extends LossforgeError {}

/** Formats a shape as `[2,3]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
